"""Specs for tests: one that sets every field of the schema, and helpers to walk and change a spec's values."""

from __future__ import annotations

import copy
from collections.abc import Iterator

# A valid spec that sets every field the schema has (session store, freshworks-v3.3.5 operator),
# strings in every string field.
FULL = {
    "apiVersion": "ckredis.elastisys.io/v1alpha1",
    "kind": "RedisCluster",
    "metadata": {"name": "full", "namespace": "redis-system"},
    "spec": {
        "purpose": "session",
        "engine": "redis",
        "operator": {
            "version": "freshworks-v3.3.5",
            "group": "platform",
            "namespace": "redis-operator",
            "podSelector": {"app.kubernetes.io/name": "redis-operator"},
        },
        "images": {
            "registry": "harbor.example.com/proxy",
            "pullPolicy": "Always",
            "redis": "docker.io/library/redis:7.2.5-alpine",
            "sentinel": "docker.io/library/redis:7.2.5-alpine",
            "exporter": "quay.io/oliver006/redis_exporter:v1.87.0",
        },
        "redis": {
            "replicas": 3,
            "port": 6380,
            "maxmemoryPercent": 55,
            "memoryBudget": {"writeRate": "4Mi/s"},
            "terminationGracePeriodSeconds": 60,
            "preventMasterEviction": True,
            "disableMasterRollout": False,
            "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "1Gi"}},
            "config": {
                "maxmemoryPolicy": "noeviction",
                "timeout": 300,
                "tcpKeepalive": 60,
                "maxclients": 1000,
                "slowlogLogSlowerThan": 5000,
                "slowlogMaxLen": 64,
                "appendfsync": "everysec",
            },
            "exporter": {"resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}},
        },
        "sentinel": {
            "replicas": 3,
            "uniqueMasterName": True,
            "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            "config": {"downAfterMilliseconds": 5000, "failoverTimeout": 30000, "parallelSyncs": 1},
            "exporter": {"resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}},
        },
        "persistence": {"size": "4Gi", "storageClassName": "standard-rwo", "keepAfterDeletion": True},
        "backup": {"enabled": True},
        "auth": {"secretPath": "full-redis-auth"},
        "connection": {"kind": "Secret", "keys": "both", "clusterDomain": "cluster.local"},
        "portForward": {"groups": ["team-login"]},
        "clients": [
            {
                "namespace": "login",
                "podSelector": {"app.kubernetes.io/name": "login-api"},
                "connectionName": "full-redis",
                "egressPolicy": True,
            },
            {"namespace": "search", "accessLabel": True},
            {"namespace": "batch", "allowWholeNamespace": True, "egressPolicy": False},
        ],
        "networkPolicy": {
            "prometheus": {"namespace": "monitoring", "podSelector": {"app.kubernetes.io/name": "prometheus"}},
            "blackboxExporter": {
                "namespace": "monitoring",
                "podSelector": {"app.kubernetes.io/name": "prometheus-blackbox-exporter"},
            },
            "dns": {"namespace": "kube-system", "podSelector": {"k8s-app": "kube-dns"}},
        },
        "placement": {
            "nodeSpread": "hard",
            "zoneSpread": "soft",
            "dedicatedNodes": True,
            "priorityClassName": "redis-critical",
        },
        "monitoring": {
            "enabled": True,
            "labels": {"evaluate_thanos": "1"},
            "scrape": {"interval": "30s", "timeout": "10s"},
            "alerts": {
                "enabled": True,
                "labels": {"team": "platform"},
                "runbookBaseUrl": "https://runbooks.example.com/redis/",
                "rules": {
                    "RedisMemoryHigh": {"threshold": 80, "for": "10m", "severity": "warning"},
                    "RedisDown": {"enabled": True, "for": "1m", "severity": "critical"},
                    "RedisKeysEvicted": {"threshold": 10},
                },
            },
            "uptimeProbe": {
                "enabled": True,
                "proberUrl": "prometheus-blackbox-exporter.monitoring.svc:9115",
                "module": "tcp_connect",
                "interval": "30s",
            },
            "dashboard": {"enabled": True},
            "containerProbes": {
                "enabled": True,
                "redis": {"liveness": {"periodSeconds": 10, "timeoutSeconds": 5, "failureThreshold": 6}},
                "sentinel": {"readiness": {"periodSeconds": 5, "failureThreshold": 2}},
            },
        },
    },
}


def full() -> dict:
    return copy.deepcopy(FULL)


def string_paths(data: object, path: tuple = ()) -> Iterator[tuple]:
    """The path of every string value in data (mapping keys that are data, such as label keys, not included)."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from string_paths(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from string_paths(value, path + (index,))
    elif isinstance(data, str):
        yield path


def get(data: object, path: tuple) -> object:
    for part in path:
        data = data[part]
    return data


def put(data: object, path: tuple, value: object) -> None:
    get(data, path[:-1])[path[-1]] = value
