"""Values derived from defaulted spec data that both validation (rules.py) and the model need, each derived once.

Imports only facts, quantities and the memory budget, so validation never depends on the model.
"""

from __future__ import annotations

from ckredis import __version__, memory
from ckredis.facts import ACCESS_LABEL_VALUE, PURPOSES, Purpose, access_label, workload_name
from ckredis.quantity import memory_bytes, whole_gibibytes


def purpose_of(spec: dict) -> Purpose:
    return PURPOSES[spec["purpose"]]


def memory_budget(spec: dict) -> memory.Budget:
    redis = spec["redis"]
    write_rate = redis.get("memoryBudget", {}).get("writeRate", purpose_of(spec).write_rate)
    return memory.budget(
        redis["resources"]["limits"]["memory"],
        write_rate,
        spec["engine"],
        purpose_of(spec).persists,
        redis.get("maxmemoryPercent"),
    )


def maxmemory_policy(spec: dict) -> str:
    return spec["redis"]["config"].get("maxmemoryPolicy", purpose_of(spec).maxmemory_policy)


def default_persistence_size(spec: dict) -> str:
    return whole_gibibytes(2 * memory_bytes(spec["redis"]["resources"]["limits"]["memory"]))


def connection_name(cluster_name: str, entry: dict) -> str:
    return entry.get("connectionName", f"redis-{cluster_name}")


def client_labels(cluster_name: str, engine: str, entry: dict) -> tuple[tuple[str, str], ...]:
    """The pod labels a client entry selects; empty means the whole namespace (only when asked for explicitly)."""
    if entry.get("accessLabel"):
        return ((access_label(engine, cluster_name), ACCESS_LABEL_VALUE),)
    return tuple(sorted(entry.get("podSelector", {}).items()))


def connection_manifest(namespace: str, connection: str) -> str:
    return f"templates/connection-{namespace}-{connection}.yaml"


def egress_policy_name(connection: str) -> str:
    return f"{connection}-egress"


def policy_manifest(namespace: str, name: str) -> str:
    return f"templates/networkpolicy-{namespace}-{name}.yaml"


def sentinel_host(cluster_name: str, namespace: str, cluster_domain: str) -> str:
    return f"{workload_name('sentinel', cluster_name)}.{namespace}.svc.{cluster_domain}"


def chart_label(cluster_name: str) -> str:
    """The helm.sh/chart label value: the longest label derived from the cluster's name."""
    return f"{cluster_name}-{__version__}"
