"""What every rendered RedisFailover promises: HA minimums, pinned images, resources, restricted security."""

from __future__ import annotations

import re

import yaml

from conftest import ckredis, documents

RESTRICTED_CONTAINER = {  # Pod Security Standards, "restricted" level, per container
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}
PINNED = re.compile(r"^[a-z0-9.-]+\.[a-z]+(:[0-9]+)?/.+(:[A-Za-z0-9_][A-Za-z0-9_.-]*|@sha256:[a-f0-9]{64})$")


def failover(example) -> dict:
    (doc,) = [d for d in documents(ckredis("render", "--stdout", str(example)).stdout) if d["kind"] == "RedisFailover"]
    return doc


def containers(spec: dict) -> dict[str, dict]:
    """Every container the operator will create from the RedisFailover, with the settings it will get."""
    result = {}
    for kind in ("redis", "sentinel"):
        part = spec[kind]
        result[kind] = {
            "image": part["image"],
            "imagePullPolicy": part["imagePullPolicy"],
            "resources": part["resources"],
            "securityContext": part["containerSecurityContext"],
        }
        result[f"{kind}-exporter"] = {
            **part["exporter"],
            "securityContext": part["exporter"]["containerSecurityContext"],
        }
    result["sentinel-config-copy"] = {"securityContext": spec["sentinel"]["configCopy"]["containerSecurityContext"]}
    return result


def test_high_availability(example):
    spec = failover(example)["spec"]
    assert spec["redis"]["replicas"] >= 3
    assert spec["sentinel"]["replicas"] >= 3 and spec["sentinel"]["replicas"] % 2 == 1
    for kind in ("redis", "sentinel"):
        affinity = spec[kind]["affinity"]["podAntiAffinity"]
        assert affinity, f"{kind} pods are spread over nodes"
    assert spec["redis"]["terminationGracePeriod"] > 31, "longer than the shutdown script's sleep"


def test_every_container_is_restricted_pinned_and_sized(example):
    spec = failover(example)["spec"]
    for kind in ("redis", "sentinel"):
        pod = spec[kind]["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for name, container in containers(spec).items():
        context = container["securityContext"]
        for key, value in RESTRICTED_CONTAINER.items():
            assert context.get(key) == value, f"{name}: securityContext.{key}"
        assert context.get("privileged") is False and context.get("readOnlyRootFilesystem") is True, name
        if name == "sentinel-config-copy":
            continue  # image and resources are the operator's (10m / 32Mi)
        assert container["enabled"] if "enabled" in container else True
        assert PINNED.match(container["image"]) and not container["image"].endswith(":latest"), name
        assert container["imagePullPolicy"] == "IfNotPresent", name
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]) and "memory" in resources["limits"], name


def test_chart_labels_never_reach_the_pods(example):
    doc = failover(example)
    whitelist = doc["spec"]["labelWhitelist"]
    assert whitelist, "an empty whitelist would propagate every label"
    for key in doc["metadata"]["labels"]:
        matches = any(re.search(pattern, key) for pattern in whitelist)
        assert matches == (key == "compliantkubernetes.io/nobackup"), key


def test_purpose_decides_eviction_and_persistence(example):
    spec = failover(example)["spec"]
    config = dict(line.split(" ", 1) for line in spec["redis"]["customConfig"])
    limit = spec["redis"]["resources"]["limits"]["memory"]
    assert 0 < int(config["maxmemory"]) < _bytes(limit)
    if "storage" in spec["redis"]:  # a session store
        assert config["maxmemory-policy"] == "noeviction" and config["appendonly"] == "yes"
    else:
        assert config["maxmemory-policy"].startswith("allkeys-") and config["appendonly"] == "no"
        assert config["save"] == '""'


def test_no_password_anywhere(example):
    stream = ckredis("render", "--stdout", str(example)).stdout
    assert not re.search(r"(?i)password\s*:", stream)
    for doc in yaml.safe_load_all(stream):
        if doc and doc["kind"] in ("Secret", "ConfigMap"):
            data = doc.get("stringData") or doc.get("data")
            # Only the four connection keys, under one engine's prefix or both (connection.keys: both)
            names = {"CLUSTER_NAME", "MASTER_NAME", "SENTINEL_HOST", "SENTINEL_PORT"}
            prefixes = {key.split("_", 1)[0] + "_" for key in data}
            assert prefixes and prefixes <= {"REDIS_", "VALKEY_"}
            assert set(data) == {prefix + name for prefix in prefixes for name in names}


def _bytes(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30}
    return int(quantity[:-2]) * units[quantity[-2:]]
