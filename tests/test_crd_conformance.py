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
    "freshworks-v3.3.5": "upstream/spotahome/redisfailovers.freshworks-v3.3.5.crd.yaml",
}
FORK_ONLY = ("preventMasterEviction", "disableMasterRollout")


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
    operator = spec["spec"].setdefault("operator", {})
    operator["version"] = version
    if not version.startswith("freshworks"):
        spec["spec"].get("sentinel", {}).pop("uniqueMasterName", None)
    if version == "freshworks-v3.3.5":
        operator.setdefault("group", "platform")
    else:
        operator.pop("group", None)
        for field in FORK_ONLY:
            spec["spec"]["redis"].pop(field, None)
    return spec


def errors(version: str, failover: dict) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in strict_validator(version).iter_errors(failover)]


@pytest.mark.parametrize("version", CRD_FILES)
def test_every_example_conforms_to_every_target(version, example):
    failover = failover_for(retargeted(load_example(example), version))
    assert errors(version, failover) == []


def test_examples_cover_every_target_but_the_superseded_snapshot():
    """`freshworks` (the fork as of 2025-08, which today's fork ignores) is only kept for existing specs: no
    example shows it, and every example is retargeted to it above."""
    covered = {load_example(p)["spec"].get("operator", {}).get("version", "v1.3.0-rc1") for p in EXAMPLES}
    assert covered == set(CRD_FILES) - {"freshworks"}


def test_the_strict_check_catches_fields_an_older_crd_lacks():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "v1.2.4"))
    failover["spec"]["redis"]["customLivenessProbe"] = {"tcpSocket": {"port": 6379}}
    failover["spec"]["sentinel"]["disableMyMaster"] = True
    assert len(errors("v1.2.4", failover)) == 2
    assert len(errors("v1.3.0-rc1", failover)) == 1  # disableMyMaster is freshworks only


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_the_fork_gets_its_engine_group_and_rollout_fields_and_the_others_none(engine):
    spec = retargeted(load_example(EXAMPLES[0]), "freshworks-v3.3.5")
    spec["spec"]["engine"] = engine
    failover = failover_for(spec)
    assert errors("freshworks-v3.3.5", failover) == []
    assert failover["spec"]["engine"] == {"redis": "Redis", "valkey": "Valkey"}[engine]
    assert failover["metadata"]["labels"]["redis-failover.freshworks.com/operator-group"] == "platform"
    redis = failover["spec"]["redis"]
    assert (redis["preventMasterEviction"], redis["disableMasterRollout"], redis["reservedPodMemoryPercent"]) == \
        (True, False, 10)
    for version in ("v1.2.4", "v1.3.0-rc1", "freshworks"):
        older = failover_for({**retargeted(spec, version)})
        assert "engine" not in older["spec"] and not set(FORK_ONLY) & set(older["spec"]["redis"])
        assert "redis-failover.freshworks.com/operator-group" not in older["metadata"]["labels"]
        assert errors(version, older) == []


def test_the_fork_crd_refuses_an_engine_it_does_not_know():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "freshworks-v3.3.5"))
    failover["spec"]["engine"] = "valkey"  # the CRD's enum is capitalised
    assert len(errors("freshworks-v3.3.5", failover)) == 1


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
