"""Every RedisFailover validates against the upstream CRD of its target operator, unknown fields being errors."""

from __future__ import annotations

import copy
from functools import cache

import jsonschema
import pytest
import yaml

from conftest import EXAMPLES, load_example, shared
from ckredis import model, render
from ckredis.validate import validate_data

CRD_FILES = {
    "v1.2.4": "upstream/spotahome/redisfailovers.v1.2.4.crd.yaml",
    "v1.3.0-rc1": "upstream/spotahome/redisfailovers.crd.yaml",
    "freshworks": "upstream/spotahome/redisfailovers.freshworks.crd.yaml",
}


def closed(node: object) -> object:
    """The schema with `additionalProperties: false` wherever it lists properties, as the API server prunes."""
    if isinstance(node, dict):
        node = {key: closed(value) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node and not node.get("x-kubernetes-preserve-unknown-fields"):
            node["additionalProperties"] = False
        return node
    if isinstance(node, list):
        return [closed(item) for item in node]
    return node


@cache
def strict_validator(version: str) -> jsonschema.Draft7Validator:
    crd = yaml.safe_load(shared(CRD_FILES[version]).read_text())
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    return jsonschema.Draft7Validator(closed(served["schema"]["openAPIV3Schema"]))


def failover_for(spec: dict) -> dict:
    cluster = model.build(validate_data(spec))
    return yaml.safe_load(render.manifests(cluster)["templates/redisfailover.yaml"])


def retargeted(spec: dict, version: str) -> dict:
    spec = copy.deepcopy(spec)
    spec["spec"].setdefault("operator", {})["version"] = version
    if version != "freshworks":
        spec["spec"].get("sentinel", {}).pop("uniqueMasterName", None)
    return spec


def errors(version: str, failover: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in strict_validator(version).iter_errors(failover)]


@pytest.mark.parametrize("version", CRD_FILES)
def test_every_example_conforms_to_every_target(version, example):
    failover = failover_for(retargeted(load_example(example), version))
    assert errors(version, failover) == []


def test_examples_cover_every_target():
    assert {load_example(p)["spec"].get("operator", {}).get("version", "v1.3.0-rc1") for p in EXAMPLES} == set(CRD_FILES)


def test_the_strict_check_catches_fields_an_older_crd_lacks():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "v1.2.4"))
    failover["spec"]["redis"]["customLivenessProbe"] = {"tcpSocket": {"port": 6379}}
    failover["spec"]["sentinel"]["disableMyMaster"] = True
    assert len(errors("v1.2.4", failover)) == 2
    assert len(errors("v1.3.0-rc1", failover)) == 1  # disableMyMaster is freshworks only


def test_unique_master_name_is_emitted_only_for_freshworks():
    spec = load_example(next(p for p in EXAMPLES if p.stem == "session"))
    assert failover_for(spec)["spec"]["sentinel"]["disableMyMaster"] is True
    assert "disableMyMaster" not in failover_for(retargeted(spec, "v1.3.0-rc1"))["spec"]["sentinel"]


def test_cpu_written_as_a_number_travels_as_text():
    """Kubernetes accepts `cpu: 0.5`, but the CRD types quantities as integer-or-string: 0.5 must become '0.5'."""
    spec = load_example(EXAMPLES[0])
    spec["spec"]["redis"]["resources"] = {"requests": {"cpu": 0.5, "memory": "256Mi"}, "limits": {"cpu": 2, "memory": "256Mi"}}
    resources = failover_for(spec)["spec"]["redis"]["resources"]
    assert resources["requests"]["cpu"] == "0.5" and resources["limits"]["cpu"] == "2"
    assert errors("v1.3.0-rc1", failover_for(spec)) == []
