"""Evictions: PodDisruptionBudgets that keep a Sentinel majority and a Redis replica through node drains, and the
cluster-autoscaler annotation naming the operator's emptyDir volumes.

The operator's own budgets keep `minAvailable: 2` of each kind (from the redis count): with 5 sentinels a drain may
leave 2, below the quorum of 3. Where the CRD can disable them (v1.3.0-rc1, freshworks) ckredis renders its own with
`maxUnavailable: 1`; on v1.2.4 it refuses pod counts those fixed budgets cannot protect.
"""

from __future__ import annotations

import copy
import re

import pytest

from ckredis import model, render
from ckredis.validate import validate_data
from conftest import EXAMPLES, ckredis, documents, load_example, shared

VERSIONS = ("v1.2.4", "v1.3.0-rc1", "freshworks")
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict-local-volumes"


def spec_for(version: str, *, sentinels: int = 3, redis: int = 3, purpose: str = "cache") -> dict:
    spec = copy.deepcopy(load_example(next(p for p in EXAMPLES if p.stem == "cache")))
    spec["spec"].update(purpose=purpose, operator={"version": version})
    spec["spec"]["redis"]["replicas"] = redis
    spec["spec"]["sentinel"] = {"replicas": sentinels}
    return spec


def objects(spec: dict) -> list[dict]:
    cluster = model.build(validate_data(spec))
    return documents("\n---\n".join(render.manifests(cluster).values()))


def operator_pod_labels(cluster: str, component: str) -> dict:
    """The labels the operator puts on its pods (reference §4.1), without propagated RedisFailover labels."""
    return {
        "app.kubernetes.io/managed-by": "redis-operator",
        "redisfailovers.databases.spotahome.com/name": cluster,
        "app.kubernetes.io/name": cluster,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "redis-failover",
    }


def selects(selector: dict, labels: dict) -> bool:
    return selector.items() <= labels.items()


def pods_left_in_the_worst_drain(budget: dict, pods: int) -> int:
    return pods - budget["spec"]["maxUnavailable"]


@pytest.mark.parametrize("version", ["v1.3.0-rc1", "freshworks"])
@pytest.mark.parametrize("sentinels", [3, 5, 7, 9])
def test_own_budgets_keep_a_sentinel_majority_and_a_redis_replica(version, sentinels):
    docs = objects(spec_for(version, sentinels=sentinels, redis=5))
    (failover,) = [d for d in docs if d["kind"] == "RedisFailover"]
    budgets = {
        d["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]: d
        for d in docs
        if d["kind"] == "PodDisruptionBudget"
    }
    assert sorted(budgets) == ["redis", "sentinel"]
    for kind, budget in budgets.items():
        assert failover["spec"][kind]["disablePodDisruptionBudget"] is True
        assert (
            "minAvailable" not in budget["spec"] and budget["spec"]["maxUnavailable"] >= 1
        )  # Compliant Kubernetes: never 0
        assert selects(budget["spec"]["selector"]["matchLabels"], operator_pod_labels("cache", kind))
        other = "sentinel" if kind == "redis" else "redis"
        assert not selects(budget["spec"]["selector"]["matchLabels"], operator_pod_labels("cache", other))
        assert not selects(budget["spec"]["selector"]["matchLabels"], operator_pod_labels("cache-two", kind))
    quorum = sentinels // 2 + 1
    assert pods_left_in_the_worst_drain(budgets["sentinel"], failover["spec"]["sentinel"]["replicas"]) >= quorum
    assert (
        pods_left_in_the_worst_drain(budgets["redis"], failover["spec"]["redis"]["replicas"]) >= 2
    )  # master and a replica


def test_v1_2_4_keeps_the_operator_budgets_and_renders_none_of_its_own():
    docs = objects(spec_for("v1.2.4"))
    (failover,) = [d for d in docs if d["kind"] == "RedisFailover"]
    assert not [d for d in docs if d["kind"] == "PodDisruptionBudget"]
    assert "disablePodDisruptionBudget" not in failover["spec"]["redis"]
    assert "disablePodDisruptionBudget" not in failover["spec"]["sentinel"]


def spec_text(version: str, sentinels: int, redis: int) -> str:
    return f"""\
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: redis-system
spec:
  purpose: cache
  operator:
    version: {version}
  images:
    registry: harbor.example.com/proxy
  redis:
    replicas: {redis}
    resources:
      requests: {{cpu: 100m, memory: 256Mi}}
      limits: {{memory: 256Mi}}
  sentinel:
    replicas: {sentinels}
  clients:
    - namespace: shop
      podSelector:
        app.kubernetes.io/name: shop-web
"""


#  9 version   13 redis replicas   18 sentinel replicas


def test_v1_2_4_refuses_counts_its_fixed_budgets_cannot_protect(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text("v1.2.4", sentinels=5, redis=4))
    result = ckredis("validate", str(path))
    assert result.returncode == 2
    hint = (
        "or set spec.operator.version to v1.3.0-rc1 or freshworks-v3.3.5 "
        "(ckredis then renders budgets that evict one pod at a time)"
    )
    assert result.stderr.splitlines() == [
        f"{path}:13:15: spec.redis.replicas: the v1.2.4 operator's PodDisruptionBudget, which cannot be disabled, "
        f"keeps only 2 redis pods available: a node drain may evict 2 of 4 at once, the master and its replicas "
        f"together (hint: use 3 redis pods, {hint})",
        f"{path}:18:15: spec.sentinel.replicas: the v1.2.4 operator's PodDisruptionBudget, which cannot be disabled, "
        f"keeps only 2 sentinel pods available: a node drain may evict 3 of 5 at once, below the quorum of 3, "
        f"and no failover could be authorised (hint: use 3 sentinels, {hint})",
    ]


@pytest.mark.parametrize("version", VERSIONS)
def test_three_and_three_is_valid_everywhere_and_more_only_where_budgets_are_ours(tmp_path, version):
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text(version, sentinels=3, redis=3))
    assert ckredis("validate", str(path)).returncode == 0
    path.write_text(spec_text(version, sentinels=5, redis=5))
    assert ckredis("validate", str(path)).returncode == (2 if version == "v1.2.4" else 0)


def operator_emptydir_volumes() -> set[str]:
    """The emptyDir volumes of the operator's pods, as the shared Compliant Kubernetes reference lists them."""
    (line,) = [
        line
        for line in shared("reference/compliant-kubernetes.md").read_text().splitlines()
        if line.startswith("- emptyDir volumes:")
    ]
    return set(re.findall(r"`([a-z-]+)`", line))


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("purpose", ["cache", "session"])
def test_pods_name_their_emptydir_volumes_for_cluster_autoscaler(version, purpose):
    (failover,) = [d for d in objects(spec_for(version, purpose=purpose)) if d["kind"] == "RedisFailover"]
    sentinel = failover["spec"]["sentinel"]["podAnnotations"][SAFE_TO_EVICT]
    assert sentinel == "sentinel-config-writable"
    redis = failover["spec"]["redis"].get("podAnnotations", {}).get(SAFE_TO_EVICT)
    # A cache keeps its data in an emptyDir; a session store in a PVC, which cluster-autoscaler does not count.
    assert redis == ("redis-data" if purpose == "cache" else None)
    assert {sentinel, redis} - {None} <= operator_emptydir_volumes()


def test_examples_render_budgets_exactly_where_the_operator_can_disable_its_own():
    for path in EXAMPLES:
        version = load_example(path)["spec"].get("operator", {}).get("version", "v1.3.0-rc1")
        kinds = [d["kind"] for d in documents(ckredis("render", "--stdout", str(path)).stdout)]
        assert kinds.count("PodDisruptionBudget") == (0 if version == "v1.2.4" else 2), path.name
