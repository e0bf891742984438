"""Every RedisFailover validates against the upstream CRD of its target operator, unknown fields being errors."""

from __future__ import annotations

import copy

import pytest

from conftest import EXAMPLES, load_example
from crds import OPERATOR_CRDS, failover_errors, failover_for

FORK_ONLY = ("preventMasterEviction", "disableMasterRollout")


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


@pytest.mark.parametrize("version", OPERATOR_CRDS)
def test_every_example_conforms_to_every_target(version, example):
    failover = failover_for(retargeted(load_example(example), version))
    assert failover_errors(version, failover) == []


def test_examples_cover_every_target_but_the_superseded_snapshot():
    """`freshworks` (the fork as of 2025-08, which today's fork ignores) is only kept for existing specs: no
    example shows it, and every example is retargeted to it above."""
    covered = {load_example(p)["spec"].get("operator", {}).get("version", "v1.3.0-rc1") for p in EXAMPLES}
    assert covered == set(OPERATOR_CRDS) - {"freshworks"}


def test_the_strict_check_catches_fields_an_older_crd_lacks():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "v1.2.4"))
    failover["spec"]["redis"]["customLivenessProbe"] = {"tcpSocket": {"port": 6379}}
    failover["spec"]["sentinel"]["disableMyMaster"] = True
    assert len(failover_errors("v1.2.4", failover)) == 2
    assert len(failover_errors("v1.3.0-rc1", failover)) == 1  # disableMyMaster is freshworks only


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_the_fork_gets_its_engine_group_and_rollout_fields_and_the_others_none(engine):
    spec = retargeted(load_example(EXAMPLES[0]), "freshworks-v3.3.5")
    spec["spec"]["engine"] = engine
    failover = failover_for(spec)
    assert failover_errors("freshworks-v3.3.5", failover) == []
    assert failover["spec"]["engine"] == {"redis": "Redis", "valkey": "Valkey"}[engine]
    assert failover["metadata"]["labels"]["redis-failover.freshworks.com/operator-group"] == "platform"
    redis = failover["spec"]["redis"]
    assert (redis["preventMasterEviction"], redis["disableMasterRollout"], redis["reservedPodMemoryPercent"]) == (
        True,
        False,
        10,
    )
    for version in ("v1.2.4", "v1.3.0-rc1", "freshworks"):
        older = failover_for(retargeted(spec, version))
        assert "engine" not in older["spec"] and not set(FORK_ONLY) & set(older["spec"]["redis"])
        assert "redis-failover.freshworks.com/operator-group" not in older["metadata"]["labels"]
        assert failover_errors(version, older) == []


def test_the_fork_crd_refuses_an_engine_it_does_not_know():
    failover = failover_for(retargeted(load_example(EXAMPLES[0]), "freshworks-v3.3.5"))
    failover["spec"]["engine"] = "valkey"  # the CRD's enum is capitalised
    assert len(failover_errors("freshworks-v3.3.5", failover)) == 1


def test_unique_master_name_is_emitted_only_for_freshworks():
    spec = load_example(next(p for p in EXAMPLES if p.stem == "session"))
    assert failover_for(spec)["spec"]["sentinel"]["disableMyMaster"] is True
    assert "disableMyMaster" not in failover_for(retargeted(spec, "v1.3.0-rc1"))["spec"]["sentinel"]


def test_cpu_written_as_a_number_travels_as_text():
    """Kubernetes accepts `cpu: 0.5`, but the CRD types quantities as integer-or-string: 0.5 must become '0.5'."""
    spec = load_example(EXAMPLES[0])
    spec["spec"]["redis"]["resources"] = {
        "requests": {"cpu": 0.5, "memory": "256Mi"},
        "limits": {"cpu": 2, "memory": "256Mi"},
    }
    resources = failover_for(spec)["spec"]["redis"]["resources"]
    assert resources["requests"]["cpu"] == "0.5" and resources["limits"]["cpu"] == "2"
    assert failover_errors("v1.3.0-rc1", failover_for(spec)) == []
