"""What applying a chart change does to running pods, data and clients, read from the Kubernetes objects alone.

The committed side has no spec, so both sides are the chart's objects (`Kind namespace/name` -> data). Facts about
what the operator does with a changed RedisFailover come from shared/reference/spotahome-operator.md (sections 2.2,
4 and 5).
"""

from __future__ import annotations

import re
from typing import Any

from ckredis import advisories
from ckredis.facts import ENGINES

# RedisFailover fields that do not reach the pod template (everything else under redis/sentinel rolls the pods).
_NOT_POD_TEMPLATE = {"replicas", "customConfig", "storage", "serviceAnnotations", "disablePodDisruptionBudget"}
_EVICTING = re.compile(r"^(allkeys|volatile)-")


def impact(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """What applying the change does to running pods, data and clients, most disruptive first."""
    old_rf, new_rf = _failover(before), _failover(after)
    lines = []
    if old_rf and new_rf:
        lines += _engine_change(old_rf, new_rf, before, after)
        lines += _storage_impact(old_rf, new_rf)
        lines += _data_impact(old_rf, new_rf)
        lines += _redis_roll(old_rf, new_rf)
        lines += _sentinel_roll(old_rf, new_rf)
        lines += _live_config(old_rf, new_rf)
        lines += _scaling(old_rf, new_rf)
        lines += _auth_change(old_rf, new_rf)
    elif old_rf and not new_rf:
        lines.append(
            "the RedisFailover is deleted: the operator deletes every Redis and Sentinel pod and the data"
            + (
                " (the PVCs stay: keepAfterDeletion)"
                if _spec(old_rf, "redis", "storage", "keepAfterDeletion")
                else ", PVCs included"
            )
        )
    lines += _client_impact(before, after)
    return lines


def _failover(found: dict[str, dict]) -> dict | None:
    return next((data for data in found.values() if data.get("kind") == "RedisFailover"), None)


def _spec(failover: dict, *path: str) -> Any:  # whatever the chart holds there
    value = failover.get("spec") or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _config(failover: dict, role: str) -> dict[str, str]:
    """customConfig as {directive: value}; `save` may repeat, so values of a repeated directive are joined."""
    config: dict[str, str] = {}
    for entry in _spec(failover, role, "customConfig") or []:
        directive, _, value = str(entry).partition(" ")
        config[directive] = f"{config[directive]}; {value}" if directive in config else value
    return config


def _persists(failover: dict) -> bool:
    return _config(failover, "redis").get("appendonly") == "yes" or _pvc(failover) is not None


def _pvc(failover: dict) -> dict | None:
    return _spec(failover, "redis", "storage", "persistentVolumeClaim")


def _pod_fields(failover: dict, role: str) -> dict:
    settings = _spec(failover, role) or {}
    return {key: value for key, value in settings.items() if key not in _NOT_POD_TEMPLATE}


def _changed_fields(old: dict, new: dict, role: str) -> list[str]:
    before, after = _pod_fields(old, role), _pod_fields(new, role)
    fields = sorted(key for key in before.keys() | after.keys() if before.get(key) != after.get(key))
    if role == "redis" and _spec(old, "auth") != _spec(new, "auth"):
        fields.append("auth (REDIS_PASSWORD env)")
    if _spec(old, "labelWhitelist") != _spec(new, "labelWhitelist"):
        fields.append("labelWhitelist (pod labels)")
    return fields


def _redis_roll(old: dict, new: dict) -> list[str]:
    fields = _changed_fields(old, new, "redis")
    if not fields:
        return []
    replicas = _spec(new, "redis", "replicas") or 3
    return [
        f"rolls every Redis pod ({', '.join(fields)} changed): the operator deletes the {replicas} pods one at a "
        f"time, replicas first and the master last, so expect up to {replicas} failovers (clients reconnect "
        "through Sentinel)"
    ]


def _sentinel_roll(old: dict, new: dict) -> list[str]:
    fields = _changed_fields(old, new, "sentinel")
    if not fields:
        return []
    return [
        f"rolls the Sentinel pods ({', '.join(fields)} changed): the Deployment replaces them one by one; "
        "no failover while a quorum of Sentinels stays up"
    ]


def _live_config(old: dict, new: dict) -> list[str]:
    lines = []
    rolls = bool(_changed_fields(old, new, "redis"))
    for role, command in (("redis", "CONFIG SET"), ("sentinel", "SENTINEL SET")):
        before, after = _config(old, role), _config(new, role)
        changed = [
            f"{key} {before.get(key, '(unset)')} → {after[key]}"
            for key in sorted(after)
            if before.get(key) != after[key]
        ]
        dropped = sorted(before.keys() - after.keys())
        if changed:
            how = (
                "applied live by the operator with "
                + command
                + " at its next reconcile (within 30 s)"
                + (", and at start-up by the rolled pods" if role == "redis" and rolls else ", no restart")
            )
            lines.append(f"{role} config {', '.join(changed)}: {how}")
        if dropped:
            lines.append(
                f"{role} config {', '.join(dropped)} removed: the operator never unsets a directive, so "
                "running pods keep the old value until they restart"
            )
    return lines


def _scaling(old: dict, new: dict) -> list[str]:
    lines = []
    for role in ("redis", "sentinel"):
        before, after = _spec(old, role, "replicas"), _spec(new, role, "replicas")
        if before != after:
            lines.append(f"{role} replicas {before} → {after}: pods are added or removed; the others keep running")
    return lines


def _auth_change(old: dict, new: dict) -> list[str]:
    before, after = _spec(old, "auth", "secretPath"), _spec(new, "auth", "secretPath")
    if before == after:
        return []
    return [
        f"password Secret {before or '(none)'} → {after or '(none)'}: the operator rewrites redis.conf but "
        "running pods keep the old password until they roll; while old and new pods mix, replicas cannot sync "
        "from a master with the other password and clients fail auth on one side: plan a maintenance window "
        "and restart the clients with the new password"
    ]


def _storage_impact(old: dict, new: dict) -> list[str]:
    before, after = _pvc(old), _pvc(new)
    if before is None or after is None or before == after:
        if before is None and after is not None:
            return [
                "cannot be applied in place: the operator creates the StatefulSet's volumeClaimTemplates "
                "once and Kubernetes refuses to add one to an existing StatefulSet; create the persistent "
                "cluster under a new name, move the clients, then remove the old cluster"
            ]
        return []

    def size(pvc: dict) -> str | None:
        return ((pvc.get("spec") or {}).get("resources") or {}).get("requests", {}).get("storage")

    def klass(pvc: dict) -> str | None:
        return (pvc.get("spec") or {}).get("storageClassName")

    lines = []
    if klass(before) != klass(after) or (before.get("spec") or {}).get("accessModes") != (after.get("spec") or {}).get(
        "accessModes"
    ):
        lines.append(
            f"cannot be applied in place: storage class {klass(before)} → {klass(after)}; the operator "
            "cannot change volumeClaimTemplates and existing PVCs keep their class. Create a new cluster "
            "(new name) with the new storage, let it replicate or restore the data, move the clients, "
            "then delete the old one; or keep the old class"
        )
    if size(before) != size(after):
        if _quantity(size(after)) < _quantity(size(before)):
            lines.append(
                f"cannot be applied in place: PVC size {size(before)} → {size(after)}; volumes never "
                "shrink. Keep the old size, or create a new cluster (new name) and move the data and clients"
            )
        else:
            lines.append(
                f"PVC size {size(before)} → {size(after)}: the operator cannot resize the StatefulSet's "
                "volumeClaimTemplates; it expands the existing PVCs, which works only if the storage "
                "class has allowVolumeExpansion: true (check with `kubectl get storageclass`); otherwise "
                "create a new cluster (new name) with the new size and move the data and clients"
            )
    return lines


_UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def _quantity(text: object) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    return float(match.group(1)) * _UNITS.get(match.group(2), 1) if match else 0.0


def _data_impact(old: dict, new: dict) -> list[str]:
    lines = []
    if _persists(old):
        policy_before = _config(old, "redis").get("maxmemory-policy", "noeviction")
        policy_after = _config(new, "redis").get("maxmemory-policy", "noeviction")
        if policy_before == "noeviction" and _EVICTING.match(policy_after):
            lines.append(
                f"turns eviction on for data that was persisted: maxmemory-policy noeviction → "
                f"{policy_after}; keys are deleted when memory is full"
            )
    if _config(old, "redis").get("appendonly") == "yes" and _config(new, "redis").get("appendonly") != "yes":
        lines.append("turns persistence off: appendonly yes → no; a restarted pod loses what it held")
    if _pvc(old) is not None and _pvc(new) is None:
        lines.append(
            "turns persistence off: the PVC is removed from the RedisFailover, so data no longer "
            "survives pod restarts (existing PVCs are not deleted by this change)"
        )
    return lines


def _payload(connection: dict) -> dict:
    return {**(connection.get("data") or {}), **(connection.get("stringData") or {})}


def _client_impact(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        connection = old or after[key]  # the key is on one side at least
        if (
            connection.get("kind") not in ("Secret", "ConfigMap")
            or (connection["metadata"].get("labels") or {}).get("app.kubernetes.io/component") != "connection"
        ):
            continue
        if old and not new:
            lines.append(f"{key} is removed: client pods that read it fail to start on their next restart")
        elif old and new and _payload(old) != _payload(new):
            changed = sorted(
                k for k in _payload(old).keys() | _payload(new).keys() if _payload(old).get(k) != _payload(new).get(k)
            )
            lines.append(
                f"clients must restart to pick up {key} ({', '.join(changed)} changed): "
                "environment variables are read only when a pod starts"
            )
    return lines


def _engine(failover: dict) -> tuple[str, tuple[int, int, int] | None] | None:
    """The engine of the Redis pods (from their official image's name) and its release, when the image tells."""
    image = str(_spec(failover, "redis", "image") or "")
    product = advisories.product(image)
    return (product, advisories.server_version(image)) if product else None


def _engine_change(old: dict, new: dict, before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    """Redis <-> Valkey: which data the new engine loads, and what clients must do (README, "Redis or Valkey")."""
    was, becomes = _engine(old), _engine(new)
    if was is None or becomes is None or was[0] == becomes[0]:
        return []
    (source, release), target = was, becomes[0]
    titles = f"{ENGINES[source].title} → {ENGINES[target].title}"
    shown = ".".join(map(str, release)) if release else "(release unknown)"
    if target == "valkey" and release and release[:2] <= (7, 2):
        data = (
            f"Valkey loads the RDB/AOF files of Redis {shown}, and each rolled replica resyncs from the Redis "
            "master before the master fails over to a Valkey replica: the data carries over"
        )
    elif target == "valkey":
        data = (
            f"Valkey loads RDB/AOF files only from Redis 7.2 or older, not from Redis {shown}: the rolled pods "
            "start empty. Copy the keys into a new cluster (new name, e.g. with rdb-cli) instead, or accept the loss"
        )
    else:
        data = (
            "Redis cannot load Valkey's RDB/AOF files (signed VALKEY080) and its replicas cannot sync from a "
            "Valkey master: do not switch back in place; create a Redis cluster under a new name, copy the keys "
            "or start empty, and move the clients"
        )
    keys_before = set().union(*(_payload(data) for data in _connections(before)))
    keys_after = set().union(*(_payload(data) for data in _connections(after)))
    if keys_before <= keys_after:
        clients = "clients keep their connection keys (both key sets are emitted)"
    else:
        clients = (
            "clients must restart to read the new connection keys, as the old ones go: set "
            "connection.keys: both first and move the applications one at a time"
        )
    return [f"engine {titles}: every Redis and Sentinel pod rolls onto the new image. {data}; {clients}"]


def _connections(found: dict[str, dict]) -> list[dict]:
    return [
        data
        for data in found.values()
        if data.get("kind") in ("Secret", "ConfigMap")
        and (data["metadata"].get("labels") or {}).get("app.kubernetes.io/component") == "connection"
    ]
