"""Stage 3, model: one frozen description of the cluster that every rendered file is derived from.

All names, labels, selectors, ports, quorum and Redis directives are computed here, once. Templates
only place these values; they decide nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import MappingProxyType

from ckredis import __version__, memory
from ckredis.derive import (
    chart_label,
    client_labels,
    connection_manifest,
    connection_name,
    default_persistence_size,
    maxmemory_policy,
    memory_budget,
    purpose_of,
    sentinel_host,
)
from ckredis.facts import (
    ACCESS_LABEL_VALUE,
    DEDICATED_NODE_LABEL,
    DEFAULT_MASTER_NAME,
    ENGINES,
    MAX_UNAVAILABLE,
    NOBACKUP_LABEL,
    OPERATOR_FIELDS,
    OPERATOR_GROUP_LABEL,
    PASSWORD_VARIABLE,
    REDIS_DATA_VOLUME,
    REDIS_EXPORTER_PORT,
    RESERVED_POD_MEMORY_PERCENT,
    RUN_AS,
    SAFE_TO_EVICT_VOLUMES,
    SENTINEL_CONFIG_VOLUME,
    SENTINEL_EXPORTER_PORT,
    SENTINEL_PORT,
    Engine,
    access_label,
    workload_name,
)
from ckredis.monitoring.settings import Monitoring

POD_SECURITY_CONTEXT = MappingProxyType(
    {
        "fsGroup": RUN_AS,
        "runAsGroup": RUN_AS,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
)
CONTAINER_SECURITY_CONTEXT = MappingProxyType(
    {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsGroup": RUN_AS,
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
)


# The connection object's keys after their engine's prefix, in the order clients need them.
CONNECTION_KEYS = ("SENTINEL_HOST", "SENTINEL_PORT", "MASTER_NAME", "CLUSTER_NAME")


def image_reference(reference: str, registry: str | None) -> str:
    """The image as pulled: with a mirror, its registry host is replaced by the mirror prefix."""
    return f"{registry}/{reference.split('/', 1)[1]}" if registry else reference


def image_version(reference: str) -> str:
    """The tag of an image reference, or the start of its digest when it has no tag."""
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[1]
    return last.split(":", 1)[1] if ":" in last else digest.removeprefix("sha256:")[:12]


def _cpu_text(quantity: str | float) -> str:
    # CRDs type quantities as integer-or-string: a number like 0.5 must travel as text.
    return quantity if isinstance(quantity, str) else str(quantity)


@dataclass(frozen=True)
class WriteFence:
    """How long a master cut off from every replica keeps acknowledging writes that are lost when it rejoins.

    Redis refuses writes (NOREPLICAS) while fewer than `min-replicas-to-write` replicas have acknowledged the
    replication stream within `min-replicas-max-lag` seconds. Replicas acknowledge every second (REPLCONF ACK);
    the master counts the lag in whole seconds and re-checks it once a second (replicationCron), so after a cut
    its last acknowledged write comes at most lag + 2 s later: the loss window.
    Sentinel promotes nothing before down-after-milliseconds have passed without a reply to the PING it sends
    every second, i.e. no earlier than down-after - 1 s after the cut. A lag of down-after - 3 s closes the fence
    before another master can exist. Never below 2 s: a healthy link shows lag 1, and 2 after one late ACK; at 1
    the master would refuse writes at random. So with down-after under 5 s the fence may close a little after
    Sentinel could promote (overlap_seconds). tests/test_partition.py measures the window on real servers.
    """

    replicas: int  # min-replicas-to-write; 0: not fenced
    max_lag: int  # min-replicas-max-lag, seconds (meaningful only when fenced)

    CLOSING_SECONDS = 2  # the lag's rounding to whole seconds and the once-a-second re-check
    SENTINEL_PING_SECONDS = 1
    LAG_FLOOR_SECONDS = 2

    @classmethod
    def derive(cls, fenced: bool, down_after_ms: int) -> WriteFence:
        if not fenced:
            return cls(0, 0)
        lag = down_after_ms // 1000 - cls.SENTINEL_PING_SECONDS - cls.CLOSING_SECONDS
        return cls(1, max(cls.LAG_FLOOR_SECONDS, lag))

    @property
    def window_seconds(self) -> int:
        """The longest a cut-off master keeps acknowledging writes, when fenced."""
        return self.max_lag + self.CLOSING_SECONDS

    def overlap_seconds(self, down_after_ms: int) -> int:
        """How long the fence may stay open after Sentinel could promote a replica: 0 unless the lag floor forces it."""
        return max(0, self.window_seconds - (down_after_ms // 1000 - self.SENTINEL_PING_SECONDS))

    @property
    def directives(self) -> tuple[str, ...]:
        # Written even when off, so that a cluster that was fenced before is unfenced by CONFIG SET too.
        if not self.replicas:
            return ("min-replicas-to-write 0",)
        return (f"min-replicas-to-write {self.replicas}", f"min-replicas-max-lag {self.max_lag}")


@dataclass(frozen=True)
class Resources:
    cpu_request: str
    memory_request: str
    memory_limit: str
    cpu_limit: str | None

    @classmethod
    def of(cls, data: dict) -> Resources:
        cpu_limit = data["limits"].get("cpu")
        return cls(
            _cpu_text(data["requests"]["cpu"]),
            data["requests"]["memory"],
            data["limits"]["memory"],
            None if cpu_limit is None else _cpu_text(cpu_limit),
        )

    def as_k8s(self) -> dict:
        limits = {"cpu": self.cpu_limit} if self.cpu_limit else {}
        return {
            "limits": {**limits, "memory": self.memory_limit},
            "requests": {"cpu": self.cpu_request, "memory": self.memory_request},
        }


@dataclass(frozen=True)
class Endpoint:
    """A group of pods that takes part in a flow: pods matching `labels` in `namespace` (all pods if empty)."""

    key: str  # identifier in diagrams
    title: str  # how reviewers read it
    namespace: str
    labels: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Peers:
    """Pods outside this cluster that the NetworkPolicies admit."""

    operator: Endpoint
    prometheus: Endpoint
    blackbox: Endpoint
    dns: Endpoint


@dataclass(frozen=True)
class Component:
    """Redis or Sentinel pods, as the operator creates and labels them."""

    kind: str  # "redis" or "sentinel"
    cluster: str
    namespace: str
    replicas: int
    port: int
    image: str
    resources: Resources
    exporter_resources: Resources
    exporter_port: int

    @property
    def workload_name(self) -> str:
        return workload_name(self.kind, self.cluster)

    @property
    def selector(self) -> dict[str, str]:
        """The operator's selector labels for this component's pods (never shared with another cluster)."""
        return {
            "app.kubernetes.io/component": self.kind,
            "app.kubernetes.io/name": self.cluster,
            "app.kubernetes.io/part-of": "redis-failover",
        }

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(
            self.kind,
            f"{self.kind} pods {self.workload_name} in {self.namespace}",
            self.namespace,
            tuple(sorted(self.selector.items())),
        )

    @property
    def budget_name(self) -> str:
        return f"{self.workload_name}-pdb"


@dataclass(frozen=True)
class Client:
    namespace: str
    connection_name: str
    pod_labels: tuple[tuple[str, str], ...]  # matchLabels; empty only for an explicit whole namespace
    egress_policy: bool

    @property
    def endpoint(self) -> Endpoint:
        pods = ", ".join(f"{key}={value}" for key, value in self.pod_labels) or "all pods"
        key = "client_" + re.sub(r"[^A-Za-z0-9]", "_", f"{self.namespace}_{self.connection_name}")
        return Endpoint(key, f"clients in {self.namespace} ({pods})", self.namespace, self.pod_labels)

    @property
    def manifest_file(self) -> str:
        return connection_manifest(self.namespace, self.connection_name)


@dataclass(frozen=True)
class Persistence:
    size: str
    storage_class: str | None
    keep_after_deletion: bool

    def as_storage(self) -> dict:
        spec: dict = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": self.size}}}
        if self.storage_class:
            spec["storageClassName"] = self.storage_class
        return {
            "keepAfterDeletion": self.keep_after_deletion,
            "persistentVolumeClaim": {"metadata": {"name": "redis-data"}, "spec": spec},
        }


@dataclass(frozen=True)
class Placement:
    node_spread: str
    zone_spread: str
    dedicated_nodes: bool
    priority_class: str | None

    def affinity(self, component: Component) -> dict:
        term = {"labelSelector": {"matchLabels": component.selector}, "topologyKey": "kubernetes.io/hostname"}
        if self.node_spread == "hard":
            return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}
        return {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [{"podAffinityTerm": term, "weight": 100}]
            }
        }

    def topology_spread(self, component: Component) -> list[dict]:
        if self.zone_spread == "none":
            return []
        return [
            {
                "labelSelector": {"matchLabels": component.selector},
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "DoNotSchedule" if self.zone_spread == "hard" else "ScheduleAnyway",
            }
        ]

    @property
    def node_selector(self) -> dict[str, str]:
        return {DEDICATED_NODE_LABEL: "redis"} if self.dedicated_nodes else {}

    @property
    def tolerations(self) -> list[dict]:
        if not self.dedicated_nodes:
            return []
        return [{"effect": "NoSchedule", "key": DEDICATED_NODE_LABEL, "operator": "Equal", "value": "redis"}]


@dataclass(frozen=True)
class Cluster:
    """Everything ckredis renders for one spec."""

    name: str
    namespace: str
    purpose: str
    engine: str
    operator_version: str
    operator_group: str | None
    operator_namespace: str
    operator_labels: tuple[tuple[str, str], ...]
    pull_policy: str
    redis: Component
    sentinel: Component
    exporter_image: str
    redis_config: tuple[str, ...]
    sentinel_config: tuple[str, ...]
    master_name: str
    unique_master_name: bool
    memory_budget: memory.Budget
    write_fence: WriteFence
    down_after_ms: int
    termination_grace_seconds: int
    persistence: Persistence | None
    backed_up: bool
    auth_secret: str | None
    if_lost: str
    connection_kind: str
    connection_keys: str
    cluster_domain: str
    clients: tuple[Client, ...]
    placement: Placement
    peers: Peers
    monitoring: Monitoring
    prevent_master_eviction: bool
    disable_master_rollout: bool
    port_forward_groups: tuple[str, ...]

    @property
    def redis_command(self) -> list[str]:
        """The redis container's command: the operator's, plus every directive as a start-up option.

        customConfig only reaches a running server (CONFIG SET, after a reconcile); a restarted pod would boot
        without maxmemory and, worse for a session store, load its RDB snapshot instead of the append-only file.
        """
        command = [self.runs.server, "/redis/redis.conf"]
        for line in self.redis_config:
            name, value = line.split(" ", 1)
            if name == "save" and value != '""':
                command += ["--save", ""]  # save points add up across config lines: drop redis.conf's first
            command += [f"--{name}", "" if value == '""' else value]
        return command

    @property
    def operator_title(self) -> str:
        # The `freshworks` snapshot keeps its old wording, so its charts render as before.
        return "freshworks-oss redis-operator" if self.supports("operatorGroup") else "Spotahome redis-operator"

    @property
    def engine_facts(self) -> Engine:
        return ENGINES[self.engine]

    @property
    def runs(self) -> Engine:
        """The engine whose binaries the operator's scripts call: an operator that does not know engines calls
        redis-server and redis-cli, which the Valkey image provides as symlinks."""
        return self.engine_facts if self.supports("engine") else ENGINES["redis"]

    @property
    def crd_engine(self) -> str | None:
        """spec.engine of the RedisFailover, where the CRD has it."""
        return self.engine_facts.title if self.supports("engine") else None

    @property
    def access_label(self) -> str:
        """The label application teams set on their pods (value `allow`) for clients admitted by it."""
        return access_label(self.engine, self.name)

    @property
    def access_label_clients(self) -> tuple[Client, ...]:
        wanted = ((self.access_label, ACCESS_LABEL_VALUE),)
        return tuple(client for client in self.clients if client.pod_labels == wanted)

    @property
    def reserved_pod_memory_percent(self) -> int | None:
        """The fork's cut-off for maxmemory, stated explicitly (its default) where the CRD has it."""
        return RESERVED_POD_MEMORY_PERCENT if self.supports("reservedPodMemoryPercent") else None

    @property
    def maxmemory(self) -> int:
        return self.memory_budget.maxmemory

    @property
    def quorum(self) -> int:
        return self.sentinel.replicas // 2 + 1

    @property
    def pods_selector(self) -> dict:
        """Selects the Redis and Sentinel pods of this cluster and nothing else
        (not a second cluster in the namespace)."""
        return {
            "matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": ["redis", "sentinel"]}
            ],
            "matchLabels": {"app.kubernetes.io/name": self.name, "app.kubernetes.io/part-of": "redis-failover"},
        }

    @property
    def sentinel_host(self) -> str:
        return sentinel_host(self.name, self.namespace, self.cluster_domain)

    @property
    def chart_version(self) -> str:
        return __version__

    @property
    def app_version(self) -> str:
        return image_version(self.redis.image)

    def labels(self, component: str) -> dict[str, str]:
        """Recommended labels for an object of the chart; `component` says which part of the cluster it is."""
        return {
            "app.kubernetes.io/component": component,
            "app.kubernetes.io/instance": self.name,
            "app.kubernetes.io/managed-by": "Helm",
            "app.kubernetes.io/name": "redis",
            "app.kubernetes.io/part-of": "ckredis",
            "helm.sh/chart": chart_label(self.name),
        }

    @property
    def failover_labels(self) -> dict[str, str]:
        """Labels on the RedisFailover. Only these survive labelWhitelist onto the operator's pods."""
        group = {OPERATOR_GROUP_LABEL: self.operator_group} if self.operator_group else {}
        nobackup = {} if self.backed_up else {NOBACKUP_LABEL: "true"}
        return dict(sorted({**self.labels("redis-failover"), **nobackup, **group}.items()))

    @property
    def label_whitelist(self) -> list[str]:
        # Never empty: an empty whitelist propagates every RedisFailover label, and a chart version bump
        # would then roll every pod.
        return [f"^{NOBACKUP_LABEL.replace('.', '[.]')}$"]

    @property
    def connection_prefixes(self) -> tuple[str, ...]:
        """Prefixes of the connection object's keys: the engine's, or both engines' while applications move over."""
        if self.connection_keys == "both":
            return tuple(sorted(engine.key_prefix for engine in ENGINES.values()))
        return (self.engine_facts.key_prefix,)

    @property
    def connection_key_list(self) -> list[str]:
        return [prefix + key for prefix in self.connection_prefixes for key in CONNECTION_KEYS]

    @property
    def connection_data(self) -> dict[str, str]:
        """The connection object's data, keys sorted."""
        values = {
            "SENTINEL_HOST": self.sentinel_host,
            "SENTINEL_PORT": str(SENTINEL_PORT),
            "MASTER_NAME": self.master_name,
            "CLUSTER_NAME": self.name,
        }
        return dict(
            sorted((prefix + key, values[key]) for prefix in self.connection_prefixes for key in CONNECTION_KEYS)
        )

    @property
    def password_variable(self) -> str | None:
        """The environment variable client snippets read the Redis password from (None: auth is off)."""
        return PASSWORD_VARIABLE if self.auth_secret else None

    @property
    def when_full(self) -> str:
        policy = self.redis_config_value("maxmemory-policy")
        return "refuses writes (OOM errors)" if policy == "noeviction" else f"evicts keys ({policy})"

    def redis_config_value(self, name: str) -> str:
        return next(line.split(" ", 1)[1] for line in self.redis_config if line.split(" ", 1)[0] == name)

    def supports(self, field: str) -> bool:
        return field in OPERATOR_FIELDS[self.operator_version]

    @property
    def own_disruption_budgets(self) -> bool:
        """ckredis renders the PodDisruptionBudgets (and disables the operator's) where the CRD allows it."""
        return self.supports("disablePodDisruptionBudget")

    def pod_annotations(self, component: Component) -> dict[str, str]:
        """The emptyDir volumes of the operator's pods that cluster-autoscaler may discard with the pod."""
        if component.kind == "sentinel":
            return {SAFE_TO_EVICT_VOLUMES: SENTINEL_CONFIG_VOLUME}
        return {} if self.persistence else {SAFE_TO_EVICT_VOLUMES: REDIS_DATA_VOLUME}

    def disruption_budget(self, component: Component) -> dict:
        return {"maxUnavailable": MAX_UNAVAILABLE, "selector": {"matchLabels": component.selector}}

    @property
    def port_forward_name(self) -> str:
        return f"{self.name}-port-forward"

    @property
    def port_forward_rules(self) -> list[dict]:
        """What `kubectl port-forward pod/NAME` needs (get the pod, create its portforward), for the redis pods only:
        their StatefulSet names them, so the Role needs no access to the namespace's other pods."""
        pods = [f"{self.redis.workload_name}-{index}" for index in range(self.redis.replicas)]
        return [
            {"apiGroups": [""], "resourceNames": pods, "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": [""], "resourceNames": pods, "resources": ["pods/portforward"], "verbs": ["create"]},
        ]

    @property
    def port_forward_subjects(self) -> list[dict]:
        return [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
            for group in self.port_forward_groups
        ]

    @property
    def pod_security_context(self) -> dict:
        return dict(POD_SECURITY_CONTEXT)

    @property
    def container_security_context(self) -> dict:
        return dict(CONTAINER_SECURITY_CONTEXT)


def build(spec_document: dict) -> Cluster:
    """The model of a validated spec (defaults already applied)."""
    meta, spec = spec_document["metadata"], spec_document["spec"]
    name, purpose = meta["name"], purpose_of(spec)
    images, redis, sentinel = spec["images"], spec["redis"], spec["sentinel"]
    registry = images.get("registry")
    unique_master = sentinel["uniqueMasterName"]
    budget = memory_budget(spec)
    fence = WriteFence.derive(purpose.fenced, sentinel["config"]["downAfterMilliseconds"])
    persistence = None
    if purpose.persists:
        stored = spec.get("persistence", {})
        persistence = Persistence(
            stored.get("size") or default_persistence_size(spec),
            stored.get("storageClassName"),
            stored.get("keepAfterDeletion", True),
        )
    return Cluster(
        name=name,
        namespace=meta["namespace"],
        purpose=spec["purpose"],
        engine=spec["engine"],
        operator_version=spec["operator"]["version"],
        operator_group=spec["operator"].get("group"),
        operator_namespace=spec["operator"]["namespace"],
        operator_labels=tuple(sorted(spec["operator"]["podSelector"].items())),
        pull_policy=images["pullPolicy"],
        redis=Component(
            "redis",
            name,
            meta["namespace"],
            redis["replicas"],
            redis["port"],
            image_reference(images["redis"], registry),
            Resources.of(redis["resources"]),
            Resources.of(redis["exporter"]["resources"]),
            REDIS_EXPORTER_PORT,
        ),
        sentinel=Component(
            "sentinel",
            name,
            meta["namespace"],
            sentinel["replicas"],
            SENTINEL_PORT,
            image_reference(images["sentinel"], registry),
            Resources.of(sentinel["resources"]),
            Resources.of(sentinel["exporter"]["resources"]),
            SENTINEL_EXPORTER_PORT,
        ),
        exporter_image=image_reference(images["exporter"], registry),
        redis_config=_redis_config(spec, budget, fence),
        sentinel_config=_sentinel_config(sentinel["config"]),
        master_name=name if unique_master else DEFAULT_MASTER_NAME,
        unique_master_name=unique_master,
        memory_budget=budget,
        write_fence=fence,
        down_after_ms=sentinel["config"]["downAfterMilliseconds"],
        termination_grace_seconds=redis["terminationGracePeriodSeconds"],
        persistence=persistence,
        backed_up=spec["backup"].get("enabled", purpose.backed_up),
        auth_secret=spec.get("auth", {}).get("secretPath"),
        if_lost=purpose.if_lost,
        connection_kind=spec["connection"]["kind"],
        connection_keys=spec["connection"]["keys"],
        cluster_domain=spec["connection"]["clusterDomain"],
        clients=tuple(
            sorted(
                (_client(name, spec["engine"], entry) for entry in spec["clients"]),
                key=lambda c: (c.namespace, c.connection_name),
            )
        ),
        placement=Placement(
            spec["placement"]["nodeSpread"],
            spec["placement"]["zoneSpread"],
            spec["placement"]["dedicatedNodes"],
            spec["placement"].get("priorityClassName"),
        ),
        peers=_peers(spec),
        monitoring=Monitoring.of(spec),
        # Defaults where the operator has the fields (README, "Which operator"): keep the master out of a node
        # scale-down, which would cost a failover; roll every pod, so a patched image reaches the master too.
        prevent_master_eviction=redis.get("preventMasterEviction", True),
        disable_master_rollout=redis.get("disableMasterRollout", False),
        port_forward_groups=tuple(spec.get("portForward", {}).get("groups", ())),
    )


def _peers(spec: dict) -> Peers:
    def endpoint(key: str, title: str, peer: dict) -> Endpoint:
        return Endpoint(
            key, f"{title} in {peer['namespace']}", peer["namespace"], tuple(sorted(peer["podSelector"].items()))
        )

    policy = spec["networkPolicy"]
    return Peers(
        operator=endpoint("operator", "the operator", spec["operator"]),
        prometheus=endpoint("prometheus", "Prometheus", policy["prometheus"]),
        blackbox=endpoint("blackbox", "blackbox exporter", policy["blackboxExporter"]),
        dns=endpoint("dns", "cluster DNS", policy["dns"]),
    )


def _client(cluster_name: str, engine: str, entry: dict) -> Client:
    return Client(
        entry["namespace"],
        connection_name(cluster_name, entry),
        client_labels(cluster_name, engine, entry),
        entry["egressPolicy"],
    )


def _redis_config(spec: dict, budget: memory.Budget, fence: WriteFence) -> tuple[str, ...]:
    """customConfig lines: the operator applies each with CONFIG SET <first word> <rest>."""
    config, purpose = spec["redis"]["config"], purpose_of(spec)
    lines = [
        f"maxmemory {budget.maxmemory}",
        *budget.directives,
        f"maxmemory-policy {maxmemory_policy(spec)}",
        f"maxclients {config['maxclients']}",
        f"timeout {config['timeout']}",
        f"tcp-keepalive {config['tcpKeepalive']}",
        f"slowlog-log-slower-than {config['slowlogLogSlowerThan']}",
        f"slowlog-max-len {config['slowlogMaxLen']}",
        *fence.directives,
    ]
    if purpose.persists:
        lines += [
            "appendonly yes",
            f"appendfsync {config.get('appendfsync', 'everysec')}",
            "save 900 1 300 10 60 10000",
        ]
    else:
        # rdb-del-sync-files: a replica deletes the RDB a full sync wrote to its emptyDir once loaded (nothing
        # persists, so nothing reads it again): it is as large as the data, as a cache's snapshot is not compressed.
        lines += ["appendonly no", 'save ""', "rdb-del-sync-files yes"]
    return tuple(lines)


def _sentinel_config(config: dict) -> tuple[str, ...]:
    """customConfig lines: the operator applies each with SENTINEL SET <master> <first word> <rest>."""
    return (
        f"down-after-milliseconds {config['downAfterMilliseconds']}",
        f"failover-timeout {config['failoverTimeout']}",
        f"parallel-syncs {config['parallelSyncs']}",
    )
