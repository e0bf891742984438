"""Every RedisFailover validates against the upstream CRD of its target operator, unknown fields being errors."""

from __future__ import annotations

import copy

import pytest

from conftest import EXAMPLES, load_example
from crds import OPERATOR_CRDS, failover_errors, failover_for


def retargeted(spec: dict, version: str) -> dict:
    spec = copy.deepcopy(spec)
    spec["spec"].setdefault("operator", {})["version"] = version
    if version != "freshworks":
        spec["spec"].get("sentinel", {}).pop("uniqueMasterName", None)
    return spec


@pytest.mark.parametrize("version", OPERATOR_CRDS)
def test_every_example_conforms_to_every_target(version, example):
    failover = failover_for(retargeted(load_example(example), version))
    assert failover_errors(version, failover) == []


def test_examples_cover_every_target():
    assert {load_example(p)["spec"].get("operator", {}).get("version", "v1.3.0-rc1") for p in EXAMPLES} == set(OPERATOR_CRDS)


def test_the_strict_check_catches_fields_an_older_crd_lacks():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "v1.2.4"))
    failover["spec"]["redis"]["customLivenessProbe"] = {"tcpSocket": {"port": 6379}}
    failover["spec"]["sentinel"]["disableMyMaster"] = True
    assert len(failover_errors("v1.2.4", failover)) == 2
    assert len(failover_errors("v1.3.0-rc1", failover)) == 1  # disableMyMaster is freshworks only


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
    assert failover_errors("v1.3.0-rc1", failover_for(spec)) == []
