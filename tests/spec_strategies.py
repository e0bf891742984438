"""Hypothesis strategies: valid specs over every field of the schema, with hostile-but-valid strings, and mutations."""

from __future__ import annotations

import copy

import yaml
from hypothesis import strategies as st

from ckredis import memory
from ckredis.errors import first_unsafe
from ckredis.facts import PURPOSES
from ckredis.quantity import cpu_millicores, memory_bytes, whole_gibibytes
from ckredis.validate import schema
from specs import FULL, get, put

# Valid in their field, and each misread by some YAML reader when written plain.
LOOK_ALIKE_LABELS = [
    "y",
    "Y",
    "n",
    "N",
    "yes",
    "No",
    "on",
    "OFF",
    "true",
    "False",
    "null",
    "NULL",
    "1e3",
    "1E3",
    "0o17",
    "0x1F",
    "0X1F",
    "0b11",
    "1_0",
    "1.5",
    "08",
    "0755",
    "2001-02-03",
    "123",
]
LOOK_ALIKE_NAMES = ["y", "n", "on", "off", "yes", "no", "true", "null", "1e3", "0o17", "0x1f", "123", "0755", "1e-3"]
HOSTILE_TEXT = [
    "Y",
    "n",
    "1e3",
    "=",
    "<<",
    "~",
    "",
    " ",
    "- x",
    "#x",
    "a #b",
    "a: b",
    "'",
    '"',
    "\\",
    "\u2028",
    "\x85",
    "a\rb",
    "\t",
    "null",
    "2001-02-03",
    ".inf",
    "-.NaN",
    "|",
    ">",
    "*x",
    "&x",
    "!x",
    "%x",
    "@x",
    "`x",
    "---",
    "...",
    "\ufeff",
    "\x00",
    "\x7f",
    "é😀",
    "[x]",
    "a,b",
    "$labels",
    "0o17",
]
ALERTS = list(
    schema()["properties"]["spec"]["properties"]["monitoring"]["properties"]["alerts"]["properties"]["rules"][
        "properties"
    ]
)
RESERVED_ALERT_LABELS = set(schema()["$defs"]["alertLabels"]["propertyNames"]["not"]["enum"])
MEMORY = ["128Mi", "256Mi", "1Gi", "2G", "4Gi", "500M"]


def _regex(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(pattern, fullmatch=True)


def dns_labels(max_size: int = 63) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(LOOK_ALIKE_NAMES),
        _regex(r"[a-z0-9]([-a-z0-9]{0,14}[a-z0-9])?"),
        st.integers(1, max_size).map(lambda n: "x" * n),
    )


def dns_subdomains(max_size: int = 60) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(["1.5", "1e3", "0x1f", "y", "on.y", "2001-02-03"]),
        _regex(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?){0,2}"),
        st.integers(1, max_size).map(lambda n: "d" * n),
    )


label_values = st.one_of(
    st.sampled_from(LOOK_ALIKE_LABELS + [""]),
    _regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,14}[A-Za-z0-9])?"),
    st.just("v" * 63),
)
label_keys = st.one_of(
    st.sampled_from(LOOK_ALIKE_LABELS[:18] + ["app.kubernetes.io/name", "example.com/Y", "y/n"]),
    _regex(r"([a-z0-9]{1,6}(\.[a-z]{1,4})?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,10}[A-Za-z0-9])?"),
)


def labels(min_size: int = 0) -> st.SearchStrategy[dict]:
    return st.dictionaries(label_keys, label_values, min_size=min_size, max_size=4)


free_text = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="{}\n"), max_size=24),
)
alert_labels = st.dictionaries(
    st.one_of(
        st.sampled_from(["y", "n", "on", "null", "Y", "true", "team", "_x"]), _regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}")
    ).filter(lambda key: key not in RESERVED_ALERT_LABELS),
    free_text.filter(lambda text: first_unsafe(text) is None),
    max_size=4,
)  # no control, separator or bidi character
# What RFC 3986 allows in a URL path, less '/': YAML indicators enough ('&', '*', '!', '%', '#', ':', '[', '~', ...).
url_text = st.text(st.sampled_from("abcXYZ019-._~:?#[]@!$&'*+,;=%"), min_size=1, max_size=20)
durations = st.one_of(st.sampled_from(["30s", "1m", "5m", "1h", "10s"]), _regex(r"[1-9][0-9]{0,2}[smh]"))
images = st.sampled_from(
    [
        "docker.io/library/redis:7.2.5-alpine",
        "registry.example.com:5000/team/redis:7",
        "ghcr.io/a/b:1e3",
        "docker.io/library/redis:Y",
        "docker.io/library/redis:0o17",
        "quay.io/oliver006/redis_exporter@sha256:" + "a" * 64,
        "quay.io/oliver006/redis_exporter:v1.87.0",
    ]
)
cpus = st.one_of(st.sampled_from(["10m", "100m", "250m", "1", "2", "0.5", "1.25"]), st.sampled_from([0.5, 1, 2, 1.5]))


def _optional(draw, strategy: st.SearchStrategy) -> object:
    return draw(strategy) if draw(st.booleans()) else None


def _put(target: dict, key: str, value: object) -> None:
    if value is not None:
        target[key] = value


@st.composite
def resources(draw, limits: list[str]) -> dict:
    limit = draw(st.sampled_from(limits))
    request = draw(st.sampled_from([m for m in MEMORY if memory_bytes(m) <= memory_bytes(limit)] or [limit]))
    cpu = draw(st.sampled_from(["10m", "100m", "250m"]))
    result = {"requests": {"cpu": cpu, "memory": request}, "limits": {"memory": limit}}
    if draw(st.booleans()):
        result["limits"]["cpu"] = draw(cpus.filter(lambda limit: cpu_millicores(limit) >= cpu_millicores(cpu)))
    return result


@st.composite
def probe_timings(draw) -> dict:
    timing = {}
    for key, high in (("periodSeconds", 300), ("timeoutSeconds", 60), ("failureThreshold", 120)):
        _put(timing, key, _optional(draw, st.integers(1, high)))
    return timing


@st.composite
def monitoring(draw, version: str) -> dict:
    result: dict = {}
    _put(result, "enabled", _optional(draw, st.booleans()))
    _put(result, "labels", _optional(draw, labels()))
    _put(
        result,
        "scrape",
        _optional(draw, st.fixed_dictionaries({}, optional={"interval": durations, "timeout": durations})),
    )
    rules = {}
    for alert in draw(st.lists(st.sampled_from(ALERTS), max_size=4, unique=True)):
        rule = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": st.booleans(),
                    "for": durations,
                    "severity": st.sampled_from(["critical", "high", "warning", "medium", "low"]),
                },
            )
        )
        if alert in ("RedisMemoryHigh", "RedisMemoryNearPodLimit", "RedisTooManyClients"):
            _put(rule, "threshold", _optional(draw, st.integers(1, 99)))
        if alert in ("RedisRejectedConnections", "RedisKeysEvicted"):
            _put(rule, "threshold", _optional(draw, st.integers(0, 1_000_000)))
        rules[alert] = rule
    alerts = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "enabled": st.booleans(),
                "labels": alert_labels,
                "runbookBaseUrl": st.builds(
                    lambda scheme, host, path: f"{scheme}://{host}/{path}",
                    st.sampled_from(["http", "https"]),
                    url_text,
                    st.one_of(st.just(""), url_text.map(lambda text: text + "/")),
                ),
            },
        )
    )
    if rules:
        alerts["rules"] = rules
    _put(result, "alerts", alerts or None)
    _put(
        result,
        "uptimeProbe",
        _optional(
            draw,
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": st.booleans(),
                    "proberUrl": _regex(r"[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?:[0-9]{1,5}"),
                    "module": st.one_of(
                        st.sampled_from(["y", "N", "1e3", "0x1F", "1_0", "tcp_connect"]), _regex(r"[A-Za-z0-9_-]{1,20}")
                    ),
                    "interval": durations,
                },
            ),
        ),
    )
    _put(result, "dashboard", _optional(draw, st.fixed_dictionaries({}, optional={"enabled": st.booleans()})))
    if version != "v1.2.4" and draw(st.booleans()):
        result["containerProbes"] = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "enabled": st.booleans(),
                    "redis": st.fixed_dictionaries(
                        {}, optional={probe: probe_timings() for probe in ("startup", "liveness", "readiness")}
                    ),
                    "sentinel": st.fixed_dictionaries(
                        {}, optional={probe: probe_timings() for probe in ("startup", "liveness", "readiness")}
                    ),
                },
            )
        )
    return result


@st.composite
def clients(draw, cluster_namespace: str) -> list[dict]:
    namespaces = draw(st.lists(dns_labels().filter(lambda ns: ns != cluster_namespace), max_size=3, unique=True))
    result = []
    for namespace in namespaces:
        entry: dict = {"namespace": namespace}
        way = draw(st.sampled_from(["podSelector", "accessLabel", "allowWholeNamespace"]))
        entry[way] = draw(labels(min_size=1)) if way == "podSelector" else True
        _put(entry, "connectionName", _optional(draw, dns_subdomains(120)))
        _put(entry, "egressPolicy", _optional(draw, st.booleans()))
        result.append(entry)
    return result


@st.composite
def valid_specs(draw) -> dict:
    """A valid spec: every optional field may appear, strings are hostile where their pattern allows."""
    purpose = draw(st.sampled_from(["cache", "session"]))
    version = draw(st.sampled_from(["v1.2.4", "v1.3.0-rc1", "freshworks", "freshworks-v3.3.5"]))
    namespace = draw(dns_labels())
    spec: dict = {"purpose": purpose}
    _put(spec, "engine", _optional(draw, st.sampled_from(["redis", "valkey"])))
    operator = draw(st.fixed_dictionaries({}, optional={"namespace": dns_labels(), "podSelector": labels(min_size=1)}))
    if version != "v1.3.0-rc1" or draw(st.booleans()):
        operator["version"] = version
    if version == "freshworks-v3.3.5":  # required there: the fork ignores a RedisFailover without it
        operator["group"] = draw(
            st.one_of(
                st.sampled_from(["y", "on", "1e3", "0755"]), _regex(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,20}[A-Za-z0-9])?")
            )
        )
    _put(spec, "operator", operator or None)
    servers = images
    if spec.get("engine") == "valkey" and version == "freshworks-v3.3.5":  # runs valkey-server: no redis image
        servers = st.one_of(
            images.filter(lambda image: "/redis:" not in image), st.just("docker.io/valkey/valkey:9.1.2-alpine")
        )
    _put(
        spec,
        "images",
        _optional(
            draw,
            st.fixed_dictionaries(
                {},
                optional={
                    "registry": st.sampled_from(["harbor.example.com/proxy", "y.example.com", "1e3.io:5000/a.b"]),
                    "pullPolicy": st.sampled_from(["IfNotPresent", "Always", "Never"]),
                    "redis": servers,
                    "sentinel": servers,
                    "exporter": images,
                },
            ),
        ),
    )
    redis: dict = {"resources": draw(resources(["128Mi", "256Mi", "1Gi", "2G", "4Gi"]))}
    # v1.2.4's fixed PodDisruptionBudget protects at most 3 pods of a kind; maxmemoryPercent must fit the budget
    # (Redis's, the smaller: Valkey's dual-channel replication only lowers the peak).
    largest = (
        memory.largest_percent(
            redis["resources"]["limits"]["memory"], PURPOSES[purpose].write_rate, "redis", PURPOSES[purpose].persists
        )
        or 0
    )
    for key, low, high in (
        ("replicas", 3, 3 if version == "v1.2.4" else 9),
        ("port", 1024, 65535),
        ("maxmemoryPercent", min(30, largest), largest),
        ("terminationGracePeriodSeconds", 35, 600),
    ):
        if high >= low > 0:  # no maxmemoryPercent fits when largest is 0
            _put(redis, key, _optional(draw, st.integers(low, high)))
    config = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "maxmemoryPolicy": st.sampled_from(["noeviction", "allkeys-lru", "allkeys-lfu", "volatile-ttl"]),
                "timeout": st.integers(0, 86400),
                "tcpKeepalive": st.integers(0, 7200),
                "maxclients": st.integers(100, 100000),
                "slowlogLogSlowerThan": st.integers(0, 10_000_000),
                "slowlogMaxLen": st.integers(0, 10000),
            },
        )
    )
    if purpose == "session":
        _put(config, "appendfsync", _optional(draw, st.sampled_from(["always", "everysec", "no"])))
    _put(redis, "config", config or None)
    _put(redis, "exporter", _optional(draw, st.fixed_dictionaries({"resources": resources(["64Mi", "128Mi"])})))
    if version == "freshworks-v3.3.5":
        _put(redis, "preventMasterEviction", _optional(draw, st.booleans()))
        _put(redis, "disableMasterRollout", _optional(draw, st.booleans()))
    spec["redis"] = redis
    sentinel = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "replicas": st.sampled_from([3] if version == "v1.2.4" else [3, 5, 7, 9]),
                "resources": resources(["64Mi", "128Mi"]),
                "config": st.fixed_dictionaries(
                    {},
                    optional={
                        "downAfterMilliseconds": st.integers(1000, 600000),
                        "failoverTimeout": st.integers(3000, 3600000),
                        "parallelSyncs": st.integers(1, 8),
                    },
                ),
                "exporter": st.fixed_dictionaries({"resources": resources(["64Mi", "128Mi"])}),
            },
        )
    )
    if version.startswith("freshworks"):
        _put(sentinel, "uniqueMasterName", _optional(draw, st.booleans()))
    _put(spec, "sentinel", sentinel or None)
    if purpose == "session" and draw(st.booleans()):
        limit = memory_bytes(redis["resources"]["limits"]["memory"])
        persistence = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "size": st.sampled_from([whole_gibibytes(2 * limit), whole_gibibytes(8 * limit)]),
                    "storageClassName": dns_subdomains(),
                    "keepAfterDeletion": st.booleans(),
                },
            )
        )
        _put(spec, "persistence", persistence or None)
    _put(spec, "backup", _optional(draw, st.fixed_dictionaries({}, optional={"enabled": st.booleans()})))
    _put(spec, "auth", _optional(draw, st.fixed_dictionaries({"secretPath": dns_subdomains()})))
    _put(
        spec,
        "connection",
        _optional(
            draw,
            st.fixed_dictionaries(
                {},
                optional={
                    "kind": st.sampled_from(["Secret", "ConfigMap"]),
                    "keys": st.sampled_from(["engine", "both"]),
                    "clusterDomain": st.sampled_from(["cluster.local", "y", "1e3.example", "k8s.internal", "on"]),
                },
            ),
        ),
    )
    _put(spec, "clients", draw(clients(namespace)) or None)
    _put(
        spec,
        "portForward",
        _optional(
            draw,
            st.fixed_dictionaries(
                {
                    "groups": st.lists(
                        st.one_of(
                            st.sampled_from(["no", "1e3", "system:masters", "team a"]), _regex(r"[a-z][-a-z0-9:]{0,30}")
                        ),
                        min_size=1,
                        max_size=3,
                        unique=True,
                    )
                }
            ),
        ),
    )
    peer = st.fixed_dictionaries({"namespace": dns_labels(), "podSelector": labels(min_size=1)})
    _put(
        spec,
        "networkPolicy",
        _optional(
            draw, st.fixed_dictionaries({}, optional={"prometheus": peer, "blackboxExporter": peer, "dns": peer})
        ),
    )
    _put(
        spec,
        "placement",
        _optional(
            draw,
            st.fixed_dictionaries(
                {},
                optional={
                    "nodeSpread": st.sampled_from(["hard", "soft"]),
                    "zoneSpread": st.sampled_from(["hard", "soft", "none"]),
                    "dedicatedNodes": st.booleans(),
                    "priorityClassName": dns_subdomains(),
                },
            ),
        ),
    )
    _put(spec, "monitoring", draw(monitoring(version)) or None)
    return {
        "apiVersion": "ckredis.elastisys.io/v1alpha1",
        "kind": "RedisCluster",
        "metadata": {"name": draw(dns_labels(48)), "namespace": namespace},
        "spec": spec,
    }


def paths(data: object, path: tuple = ()) -> list[tuple]:
    """Every path in data, containers included (the root excluded)."""
    found = [path] if path else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths(value, path + (key,))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths(value, path + (index,))
    return found


# A placeholder that a mutation replaces in the spec's text, to write what a dict cannot hold (an unquoted scalar).
RAW = "ckredis-raw-placeholder"
UNQUOTED = [
    "yes",
    "no",
    "on",
    "off",
    "y",
    "N",
    "0755",
    "1:20",
    "2001-02-03",
    "1e3",
    "0o17",
    "~",
    "null",
    ".inf",
    "<<",
    "=",
]
WRONG_TYPES = st.one_of(
    st.integers(-5, 70000),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.just([]),
    st.just({}),
    st.just(["x"]),
    st.just({"x": 1}),
    st.just("text"),
)


@st.composite
def mutated_specs(draw) -> tuple[str, dict, str]:
    """(what was changed, the mutated data, the YAML text to write) from a valid spec, or from FULL."""
    spec = draw(st.one_of(valid_specs(), st.just(copy.deepcopy(FULL))))
    every = paths(spec)
    strings = [path for path in every if isinstance(get(spec, path), str)]
    mappings = [()] + [path for path in every if isinstance(get(spec, path), dict)]
    kind = draw(
        st.sampled_from(
            [
                "trailing newline",
                "over-long",
                "look-alike unquoted",
                "wrong type",
                "unknown key",
                "missing key",
                "hostile text",
                "huge number",
            ]
        )
    )
    raw = None
    if kind == "trailing newline":
        path = draw(st.sampled_from(strings))
        put(spec, path, get(spec, path) + "\n")
    elif kind == "over-long":
        put(
            spec,
            draw(st.sampled_from(strings)),
            draw(st.sampled_from(["a", "a.b", "x-", "9"])) * draw(st.integers(40, 400)),
        )
    elif kind == "look-alike unquoted":
        put(spec, draw(st.sampled_from(strings)), RAW)
        raw = draw(st.sampled_from(UNQUOTED))
    elif kind == "wrong type":
        put(spec, draw(st.sampled_from(every)), draw(WRONG_TYPES))
    elif kind == "unknown key":
        get(spec, draw(st.sampled_from(mappings)))[draw(st.sampled_from(["replica", "x", "password", "Name", "y"]))] = 1
    elif kind == "missing key":
        path = draw(st.sampled_from([p for p in every if isinstance(p[-1], str)]))
        del get(spec, path[:-1])[path[-1]]
    elif kind == "hostile text":
        put(spec, draw(st.sampled_from(strings)), draw(free_text))
    else:
        put(spec, draw(st.sampled_from([p for p in every if isinstance(get(spec, p), int)] or every)), 10**30)
    text = yaml.safe_dump(spec, allow_unicode=True, sort_keys=False, width=10**6)
    if raw is not None:
        text = text.replace(RAW, raw)
    return kind, spec, text
