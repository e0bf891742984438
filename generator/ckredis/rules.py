"""Cross-field rules the JSON Schema cannot express. Each yields (path, message, hint) for valid-shaped data."""

from __future__ import annotations

from collections.abc import Collection, Iterator

from ckredis import advisories, memory
from ckredis.derive import (
    chart_label,
    client_labels,
    connection_manifest,
    connection_name,
    default_persistence_size,
    egress_policy_name,
    memory_budget,
    policy_manifest,
    purpose_of,
    sentinel_host,
)
from ckredis.facts import (
    ENGINES,
    OPERATOR_FIELDS,
    OPERATOR_GROUP_LABEL,
    OPERATOR_PDB_MIN_AVAILABLE,
    VALKEY_CLI_AUTH_SINCE,
)
from ckredis.quantity import cpu_millicores, human_bytes, memory_bytes

Finding = tuple[tuple, str, str]
MIN_MAXMEMORY = 32 * 2**20
NAME_MAX = 255  # bytes in one file name (Linux, macOS)
DNS_SUBDOMAIN_MAX = 253  # object names, host names
LABEL_VALUE_MAX = 63
PUBLIC_REGISTRIES = frozenset({"docker.io", "quay.io"})
PART_OF_LABEL = "app.kubernetes.io/part-of"

# Spec fields that exist only for some operator releases: spec path -> (CRD field, needed capability).
VERSIONED_FIELDS = {
    ("spec", "sentinel", "uniqueMasterName"): ("sentinel.disableMyMaster", "disableMyMaster"),
    ("spec", "monitoring", "containerProbes"): ("redis/sentinel custom*Probe", "customProbes"),
    ("spec", "operator", "group"): (f"the label {OPERATOR_GROUP_LABEL}", "operatorGroup"),
    ("spec", "redis", "preventMasterEviction"): ("redis.preventMasterEviction", "preventMasterEviction"),
    ("spec", "redis", "disableMasterRollout"): ("redis.disableMasterRollout", "disableMasterRollout"),
}
# The snapshot of the fork that today's fork ignores: its specs keep rendering as they did, with a warning.
SUPERSEDED_OPERATORS = {"freshworks": "freshworks-v3.3.5"}


def check(data: dict, invalid: Collection[tuple] = frozenset()) -> Iterator[Finding]:
    """Findings of every rule whose inputs are valid: none of them is at, under or above an `invalid` path."""
    for rule, inputs in _RULES:
        if not any(path[: len(bad)] == bad or bad[: len(path)] == path for path in inputs for bad in invalid):
            yield from rule(data)


def advice(data: dict) -> Iterator[Finding]:
    """Warnings: valid specs that work but deserve a second look. They never block rendering."""
    spec = data["spec"]
    yield from _vulnerable_images(spec)
    yield from _superseded_operator(spec)
    yield from _engine_image_mismatch(spec)
    yield from _untrusted_registry(spec)
    yield from _tenants(spec)


def _vulnerable_images(spec: dict) -> Iterator[Finding]:
    for kind in ("redis", "sentinel"):
        image = spec["images"][kind]
        found, release, product = (
            advisories.affecting(image),
            advisories.server_version(image),
            advisories.product(image),
        )
        if found and release and product:
            title = ENGINES[product].title
            version = ".".join(map(str, release))
            listed = ", ".join(f"{advisory.id} ({advisory.severity})" for advisory in found)
            yield (
                ("spec", "images", kind),
                f"{title} {version} has {len(found)} known vulnerabilities (ckredis table of "
                f"{advisories.CHECKED_ON}): {listed}",
                _patched_hint(title, version, found),
            )


def _patched_hint(product: str, version: str, found: list[advisories.Advisory]) -> str:
    line = version.rsplit(".", 1)[0]
    fixes = [next((fix for fix in advisory.fixed if fix.startswith(line + ".")), None) for advisory in found]
    patched = [fix for fix in fixes if fix is not None]
    if len(patched) < len(fixes):
        return (
            f"{product} {line} gets no more fixes; pin a supported release line (see generator/ckredis/advisories.py)"
        )
    newest = max(patched, key=advisories.parse)
    return (
        f"pin {product} {newest} or a later {line} release (same image flavour), or leave the image unset for "
        f"the patched default"
    )


def _superseded_operator(spec: dict) -> Iterator[Finding]:
    version = spec["operator"]["version"]
    if version in SUPERSEDED_OPERATORS:
        target = SUPERSEDED_OPERATORS[version]
        yield (
            ("spec", "operator", "version"),
            f"{version} is a 2025-08 snapshot of the freshworks-oss fork; the fork reconciles, since v3.3.3, only "
            f"RedisFailovers labelled {OPERATOR_GROUP_LABEL}, which this target does not render, so today's fork "
            f"ignores this cluster without a word",
            f"set spec.operator.version: {target} and spec.operator.group to the operator's OPERATOR_GROUP_ID "
            f'(see README, "Which operator")',
        )


def _untrusted_registry(spec: dict) -> Iterator[Finding]:
    images = spec["images"]
    public = sorted({images[kind].split("/", 1)[0] for kind in ("redis", "sentinel", "exporter")} & PUBLIC_REGISTRIES)
    if public and "registry" not in images:
        yield (
            ("spec", "images", "registry"),
            f"images are pulled from {' and '.join(public)}: Compliant Kubernetes warns about every pod whose image "
            f"is not from its trusted registry (Harbor), and a public registry can rate-limit or lose a tag",
            "copy the images into a Harbor project and set images.registry (e.g. harbor.example.com/redis), "
            'or pin each image to a Harbor proxy-cache project; see README, "Images from Harbor"',
        )


def _tenants(spec: dict) -> Iterator[Finding]:
    applications = sorted({application_of(entry) for entry in spec["clients"]})
    acknowledged = "multiTenant" in spec
    if len(applications) > 1 and not acknowledged:
        yield (
            ("spec", "clients"),
            f"clients of {len(applications)} applications ({', '.join(applications)}) share this cluster: they share "
            f"eviction (one fills memory, the others lose keys), every failover and restart, the password, and "
            f"CPU and connections (noisy neighbours)",
            "give each application its own cluster, or record why sharing is acceptable in multiTenant.reason",
        )
    elif len(applications) <= 1 and acknowledged:
        yield (
            ("spec", "multiTenant"),
            "the clients belong to one application; multiTenant has no effect",
            "remove multiTenant",
        )


def application_of(entry: dict) -> str:
    """The application a client entry belongs to: its `app.kubernetes.io/part-of` label, else its namespace."""
    part_of = entry.get("podSelector", {}).get(PART_OF_LABEL)
    return f"{PART_OF_LABEL}={part_of}" if part_of else f"namespace {entry['namespace']}"


def _resources(spec: dict) -> Iterator[Finding]:
    blocks = {
        ("spec", "redis", "resources"): spec["redis"]["resources"],
        ("spec", "redis", "exporter", "resources"): spec["redis"]["exporter"]["resources"],
        ("spec", "sentinel", "resources"): spec["sentinel"]["resources"],
        ("spec", "sentinel", "exporter", "resources"): spec["sentinel"]["exporter"]["resources"],
    }
    for path, block in blocks.items():
        requests, limits = block["requests"], block["limits"]
        if memory_bytes(requests["memory"]) > memory_bytes(limits["memory"]):
            yield (
                path + ("requests", "memory"),
                f"memory request {requests['memory']} is above the limit {limits['memory']}",
                "requests must not exceed limits",
            )
        if "cpu" in limits and cpu_millicores(requests["cpu"]) > cpu_millicores(limits["cpu"]):
            yield (
                path + ("requests", "cpu"),
                f"cpu request {requests['cpu']} is above the limit {limits['cpu']}",
                "requests must not exceed limits",
            )


def _memory(spec: dict) -> Iterator[Finding]:
    limit, budget = spec["redis"]["resources"]["limits"]["memory"], memory_budget(spec)
    percent = spec["redis"].get("maxmemoryPercent")
    if percent is not None and not budget.fits:
        largest = memory.largest_percent(limit, budget.write_rate, budget.engine, budget.persists)
        buffer, copy = human_bytes(budget.replication), human_bytes(budget.copy_on_write)
        fork = (
            f"the larger of replication buffer {buffer} and copy-on-write {copy} (dual-channel replication)"
            if budget.dual_channel
            else f"replication buffer {buffer} + copy-on-write {copy}"
        )
        yield (
            ("spec", "redis", "maxmemoryPercent"),
            f"{percent}% of {limit} does not fit the memory budget: maxmemory {human_bytes(budget.maxmemory)} + "
            f"{fork} + overhead {human_bytes(budget.overhead)} is {100 * budget.planned // budget.limit}% of the limit "
            f"during a fork at {budget.write_rate} of writes, above {100 - memory.RESERVE_PERCENT}%",
            (f"use at most {largest}, or " if largest else "")
            + "remove maxmemoryPercent, raise limits.memory or lower memoryBudget.writeRate",
        )
    elif budget.maxmemory < MIN_MAXMEMORY:
        source = (
            f"{percent}% of {limit}"
            if percent is not None
            else f"what the memory budget leaves of {limit} for writes at {budget.write_rate}"
        )
        yield (
            ("spec", "redis", "resources", "limits", "memory"),
            f"maxmemory would be {human_bytes(budget.maxmemory)} ({source}), below {human_bytes(MIN_MAXMEMORY)}",
            "raise limits.memory or maxmemoryPercent"
            if percent is not None
            else "raise limits.memory, or lower memoryBudget.writeRate",
        )
    size = spec.get("persistence", {}).get("size")
    if size and memory_bytes(size) < 2 * budget.maxmemory:
        yield (
            ("spec", "persistence", "size"),
            f"{size} is less than twice maxmemory ({human_bytes(budget.maxmemory)}); an AOF rewrite would not fit",
            f"use at least {default_persistence_size(spec)}",
        )


def _purpose(spec: dict) -> Iterator[Finding]:
    if purpose_of(spec).persists:
        return
    if "persistence" in spec:
        yield (("spec", "persistence"), "a cache keeps nothing on disk", "remove persistence, or set purpose: session")
    if "appendfsync" in spec["redis"]["config"]:
        yield (
            ("spec", "redis", "config", "appendfsync"),
            "a cache writes no append-only file",
            "remove appendfsync, or set purpose: session",
        )


def _operator_version(data: dict) -> Iterator[Finding]:
    version = data["spec"]["operator"]["version"]
    for path, (crd_field, capability) in VERSIONED_FIELDS.items():
        value = _get(data, path)
        if value and capability not in OPERATOR_FIELDS[version]:
            supported = [
                name
                for name, fields in OPERATOR_FIELDS.items()
                if capability in fields and name not in SUPERSEDED_OPERATORS
            ]
            yield (
                path,
                f"needs {crd_field}, which the {version} operator's RedisFailover CRD does not have",
                f"set spec.operator.version to {' or '.join(supported)}, or remove it",
            )


def _operator_group(data: dict) -> Iterator[Finding]:
    operator = data["spec"]["operator"]
    if "operatorGroup" in OPERATOR_FIELDS[operator["version"]] and "group" not in operator:
        yield (
            ("spec", "operator", "version"),
            f"the {operator['version']} operator reconciles only RedisFailovers labelled {OPERATOR_GROUP_LABEL} "
            f"with its own group id: without spec.operator.group it would silently ignore this cluster",
            "set spec.operator.group to the OPERATOR_GROUP_ID of the operator that should reconcile it",
        )


def _engine_image_mismatch(spec: dict) -> Iterator[Finding]:
    for kind in ("redis", "sentinel"):
        product = advisories.product(spec["images"][kind])
        if product and product != spec["engine"]:
            yield (
                ("spec", "images", kind),
                f"an official {ENGINES[product].title} image while spec.engine is {spec['engine']}: the connection "
                f"keys, the access label and the chart's documents say {ENGINES[spec['engine']].title}",
                f"set spec.engine: {product}, or pin a {spec['engine']} image",
            )


def _valkey_binaries(data: dict) -> Iterator[Finding]:
    """The fork's Valkey mode starts valkey-server and calls valkey-cli, which the official redis image lacks."""
    spec = data["spec"]
    if spec["engine"] != "valkey" or "engine" not in OPERATOR_FIELDS[spec["operator"]["version"]]:
        return
    for kind in ("redis", "sentinel"):
        if advisories.product(spec["images"][kind]) == "redis":
            yield (
                ("spec", "images", kind),
                f"the {spec['operator']['version']} operator's Valkey mode runs valkey-server and valkey-cli, "
                f"which the official redis image does not have: the pods would never start",
                f"pin a valkey/valkey image, or leave images.{kind} unset for the Valkey default",
            )


def _valkey_cli_auth(data: dict) -> Iterator[Finding]:
    """The fork's Valkey mode hands valkey-cli the password as VALKEYCLI_AUTH, which Valkey before 9.0 ignores."""
    spec = data["spec"]
    image = spec["images"]["redis"]
    version = advisories.server_version(image) if advisories.product(image) == "valkey" else None
    if (
        spec["engine"] == "valkey"
        and "engine" in OPERATOR_FIELDS[spec["operator"]["version"]]
        and "auth" in spec
        and version is not None
        and version[:2] < VALKEY_CLI_AUTH_SINCE
    ):
        since = ".".join(map(str, VALKEY_CLI_AUTH_SINCE))
        yield (
            ("spec", "images", "redis"),
            f"Valkey {'.'.join(map(str, version))} with auth on the {spec['operator']['version']} operator's "
            f"Valkey mode never becomes ready: its readiness script passes the password as VALKEYCLI_AUTH, which "
            f"valkey-cli reads only from {since} on",
            f"pin Valkey {since} or later (or leave images.redis unset), or remove auth",
        )


def _fixed_disruption_budgets(data: dict) -> Iterator[Finding]:
    """Where the operator's PodDisruptionBudgets cannot be disabled, only 3 pods of each kind are protected by them."""
    spec, version = data["spec"], data["spec"]["operator"]["version"]
    if "disablePodDisruptionBudget" in OPERATOR_FIELDS[version]:
        return
    supported = " or ".join(
        name
        for name, fields in OPERATOR_FIELDS.items()
        if "disablePodDisruptionBudget" in fields and name not in SUPERSEDED_OPERATORS
    )
    keeps = (
        f"the {version} operator's PodDisruptionBudget, which cannot be disabled, "
        f"keeps only {OPERATOR_PDB_MIN_AVAILABLE}"
    )
    sentinels, redis = spec["sentinel"]["replicas"], spec["redis"]["replicas"]
    if sentinels > OPERATOR_PDB_MIN_AVAILABLE + 1:
        yield (
            ("spec", "sentinel", "replicas"),
            f"{keeps} sentinel pods available: a node drain may evict {sentinels - OPERATOR_PDB_MIN_AVAILABLE} of "
            f"{sentinels} at once, below the quorum of {sentinels // 2 + 1}, and no failover could be authorised",
            f"use {OPERATOR_PDB_MIN_AVAILABLE + 1} sentinels, or set spec.operator.version to {supported} "
            f"(ckredis then renders budgets that evict one pod at a time)",
        )
    if redis > OPERATOR_PDB_MIN_AVAILABLE + 1:
        yield (
            ("spec", "redis", "replicas"),
            f"{keeps} redis pods available: a node drain may evict {redis - OPERATOR_PDB_MIN_AVAILABLE} of {redis} "
            f"at once, the master and its replicas together",
            f"use {OPERATOR_PDB_MIN_AVAILABLE + 1} redis pods, or set spec.operator.version to {supported} "
            f"(ckredis then renders budgets that evict one pod at a time)",
        )


def _clients(data: dict) -> Iterator[Finding]:
    name, namespace = data["metadata"]["name"], data["metadata"]["namespace"]
    seen: dict[tuple[str, str], int] = {}
    selected: dict[str, list[tuple[int, frozenset]]] = {}
    for index, entry in enumerate(data["spec"]["clients"]):
        path = ("spec", "clients", index)
        yield from _client_selection(entry, path)
        if entry["namespace"] == namespace:
            yield (
                path + ("namespace",),
                f"clients run in their own namespace, not in {namespace!r} with Redis",
                "move the application to its own namespace",
            )
        key = (entry["namespace"], connection_name(name, entry))
        if key in seen:
            yield (
                path,
                f"a second client creates {key[0]}/{key[1]} (entry {seen[key]} already does)",
                "give it another connectionName, or merge the entries",
            )
            continue
        seen[key] = index
        labels = frozenset(client_labels(name, data["spec"]["engine"], entry))
        for other_index, other in selected.get(entry["namespace"], []):
            if labels <= other or other <= labels:
                yield (
                    path,
                    f"selects pods that entry {other_index} in namespace {entry['namespace']!r} already selects",
                    "use one entry per set of pods",
                )
                break
        selected.setdefault(entry["namespace"], []).append((index, labels))


def _client_selection(entry: dict, path: tuple) -> Iterator[Finding]:
    ways = [key for key in ("podSelector", "accessLabel", "allowWholeNamespace") if entry.get(key)]
    if not ways:
        yield (
            path,
            "selects no pods",
            "set podSelector, or accessLabel: true (or allowWholeNamespace: true to admit every pod)",
        )
    elif len(ways) > 1:
        yield (
            path + (ways[1],),
            f"{ways[0]} and {ways[1]} both select pods; use exactly one",
            f"remove {ways[1]}, or split the entry in two",
        )
    for key in ("accessLabel", "allowWholeNamespace"):
        if entry.get(key) is False:
            yield (path + (key,), f"{key}: false has no effect", f"remove {key}")


def _derived_names(data: dict) -> Iterator[Finding]:
    """Names and file names the chart derives from spec values stay within the limits of Kubernetes and file systems."""
    name, spec = data["metadata"]["name"], data["spec"]
    seen: set[tuple[str, str]] = set()
    for index, entry in enumerate(spec["clients"]):
        namespace, connection = entry["namespace"], connection_name(name, entry)
        if (namespace, connection) in seen:
            continue  # a duplicate, reported by _clients
        seen.add((namespace, connection))
        field = "connectionName" if "connectionName" in entry else "namespace"
        derived = [("the connection file name", _file_name(connection_manifest(namespace, connection)), NAME_MAX)]
        if entry["egressPolicy"]:
            policy = egress_policy_name(connection)
            derived += [
                ("the egress NetworkPolicy name", policy, DNS_SUBDOMAIN_MAX),
                ("the egress NetworkPolicy file name", _file_name(policy_manifest(namespace, policy)), NAME_MAX),
            ]
        yield from _longest_over(("spec", "clients", index, field), derived)
    yield from _longest_over(("metadata", "name"), [("the label helm.sh/chart", chart_label(name), LABEL_VALUE_MAX)])
    host = sentinel_host(name, data["metadata"]["namespace"], spec["connection"]["clusterDomain"])
    yield from _longest_over(
        ("spec", "connection", "clusterDomain"), [("the sentinel host name", host, DNS_SUBDOMAIN_MAX)]
    )


def _file_name(path: str) -> str:
    return path.rsplit("/", 1)[1]


def _longest_over(path: tuple, derived: list[tuple[str, str, int]]) -> Iterator[Finding]:
    """One finding at `path` for the derived (what, text, limit) that exceeds its limit the most, if any does."""
    over, what, text, limit = max((len(text.encode()) - limit, what, text, limit) for what, text, limit in derived)
    if over > 0:
        yield (
            path,
            f"{what} would be {len(text.encode())} characters long, over the limit of {limit} ({text[:60]}...)",
            f"shorten {path[-1]} by at least {over} characters",
        )


# Each rule with the paths it reads (schema defaults filled in): it runs only when they are valid.
_RESOURCES = (
    ("spec", "redis", "resources"),
    ("spec", "redis", "exporter"),
    ("spec", "sentinel", "resources"),
    ("spec", "sentinel", "exporter"),
)
_RULES = (
    (lambda data: _resources(data["spec"]), _RESOURCES),
    (
        lambda data: _memory(data["spec"]),
        (
            ("spec", "purpose"),
            ("spec", "engine"),
            ("spec", "redis", "resources", "limits", "memory"),
            ("spec", "redis", "maxmemoryPercent"),
            ("spec", "redis", "memoryBudget"),
            ("spec", "persistence"),
        ),
    ),
    (lambda data: _purpose(data["spec"]), (("spec", "purpose"), ("spec", "persistence"), ("spec", "redis", "config"))),
    (_operator_version, (("spec", "operator", "version"), *VERSIONED_FIELDS)),
    (_operator_group, (("spec", "operator"),)),
    (
        _valkey_binaries,
        (
            ("spec", "engine"),
            ("spec", "operator", "version"),
            ("spec", "images", "redis"),
            ("spec", "images", "sentinel"),
        ),
    ),
    (
        _valkey_cli_auth,
        (("spec", "engine"), ("spec", "operator", "version"), ("spec", "images", "redis"), ("spec", "auth")),
    ),
    (_clients, (("metadata", "name"), ("metadata", "namespace"), ("spec", "engine"), ("spec", "clients"))),
    (
        _fixed_disruption_budgets,
        (("spec", "operator", "version"), ("spec", "sentinel", "replicas"), ("spec", "redis", "replicas")),
    ),
    (_derived_names, (("metadata", "name"), ("metadata", "namespace"), ("spec", "clients"), ("spec", "connection"))),
)


def _get(data: dict, path: tuple) -> object:
    for part in path:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data
