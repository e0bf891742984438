"""The alert catalogue: one AlertDefinition per alert, declared beside its builder, and the rule groups."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ckredis.facts import REDIS_EXPORTER, SENTINEL_EXPORTER, workload_name
from ckredis.monitoring.scope import (
    HEALTHY_KEYS,
    AlertRule,
    Apply,
    Failure,
    Panel,
    Scope,
    Series,
    sample_text,
    series_values,
)
from ckredis.monitoring.settings import GROUPING, SCOPE_LABEL, AlertSetting, Facts, Monitoring

if TYPE_CHECKING:
    from ckredis.model import Cluster


@dataclass(frozen=True)
class AlertDefinition:
    """One alert of the catalogue: everything the rules, promtool tests, dashboard, schema text and README
    derive from."""

    name: str
    when: str  # when it fires, in one line (README, spec reference)
    default: Callable[[Facts], AlertSetting]  # its purpose-aware default setting
    build: Callable[[Scope, AlertSetting], AlertRule]  # expression, texts and the failure cases that prove it
    threshold_unit: str | None = None  # "percent" or "count" (the schema's alertRulePercent / alertRuleCount)
    applies: Callable[[Facts], bool] = lambda facts: True  # whether the cluster has what it watches (rule and panel)


CATALOG: dict[str, AlertDefinition] = {}


def _alert(
    when: str,
    default: Callable[[Facts], AlertSetting],
    threshold_unit: str | None = None,
    applies: Callable[[Facts], bool] = lambda facts: True,
) -> Callable[[Callable[[Scope, AlertSetting], AlertRule]], Callable[[Scope, AlertSetting], AlertRule]]:
    def register(build: Callable[[Scope, AlertSetting], AlertRule]) -> Callable[[Scope, AlertSetting], AlertRule]:
        name = build.__name__.removeprefix("_")
        CATALOG[name] = AlertDefinition(name, when, default, build, threshold_unit, applies)
        return build

    return register


def _target(series: list[Series], scope: Scope, container: str, number: int) -> dict[str, str]:
    """The target labels of the `number`th exporter of `container` in `scope`'s cluster."""
    workload = workload_name("redis" if container == REDIS_EXPORTER else "sentinel", scope.name)
    for item in series:
        labels = item.labels
        if (
            labels.get("container") == container
            and labels.get(SCOPE_LABEL) == scope.name
            and labels["pod"].startswith(f"{workload}-")
            and labels["pod"].endswith(f"-{number}")
        ):
            return {
                key: labels[key]
                for key in ("container", "endpoint", "instance", "job", "namespace", "pod", SCOPE_LABEL)
            }
    raise LookupError(f"no {container} {number} in {scope.name}")


def _select(series: list[Series], metric: str | None = None, **labels: str) -> list[Series]:
    return [
        s
        for s in series
        if (metric is None or s.metric == metric) and all(s.labels.get(key) == value for key, value in labels.items())
    ]


def _set(series: list[Series], metric: str, values: str, **labels: str) -> None:
    chosen = _select(series, metric, **labels)
    if not chosen:
        raise LookupError(f"no {metric} {labels}")
    for item in chosen:
        item.values = values


def _drop(series: list[Series], metric: str | None = None, **labels: str) -> None:
    chosen = _select(series, metric, **labels)
    if not chosen:
        raise LookupError(f"nothing to drop: {metric} {labels}")
    for item in chosen:
        series.remove(item)


def _fraction_above(threshold: int) -> float:
    """A ratio halfway between a percent threshold and 100 %: clearly above it."""
    return (threshold + (100 - threshold) / 2) / 100


def _share_above(metric: str, number: int, whole: Callable[[Scope], int], threshold: int) -> Apply:
    """A failure: the `number`th redis pod's `metric` just above `threshold` percent of `whole`."""

    def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, number)
        value = round(whole(scope) * _fraction_above(threshold))
        _set(series, metric, series_values(value, samples), pod=target["pod"])
        return [(target, value / whole(scope))]

    return apply


def _cluster_labels(scope: Scope) -> dict[str, str]:
    return {"namespace": scope.namespace, SCOPE_LABEL: scope.name}


@_alert(
    "Prometheus has no redis exporter, sentinel exporter or uptime probe series of this cluster, "
    "so no other alert can fire.",
    lambda f: AlertSetting(True, "10m", "warning"),
)
def _RedisMetricsMissing(s: Scope, a: AlertSetting) -> AlertRule:
    watched = [
        (f"up{{{s.redis}}}", REDIS_EXPORTER, "redis {{pod}}"),
        (f"up{{{s.sentinel}}}", SENTINEL_EXPORTER, "sentinel {{pod}}"),
    ]
    if s.probe:
        watched.append((f"probe_success{{{s.cluster}}}", "uptime-probe", "probe {{instance}}"))
    parts = [f'label_replace(absent({series}), "missing", "{missing}", "", "")' for series, missing, _ in watched]

    def without(container: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            _drop(series, container=container, **_cluster_labels(scope))
            return [({**_cluster_labels(scope), "container": container, "missing": container}, 1)]

        return apply

    def without_probe(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _drop(series, "probe_success", **_cluster_labels(scope))
        return [({**_cluster_labels(scope), "missing": "uptime-probe"}, 1)]

    failures = [
        Failure("the redis exporters are not scraped", without(REDIS_EXPORTER)),
        Failure("the sentinel exporters are not scraped", without(SENTINEL_EXPORTER)),
    ]
    if s.probe:
        failures.append(Failure("the uptime probe reports nothing", without_probe))
    return AlertRule(
        "RedisMetricsMissing",
        " or ".join(parts),
        a,
        f"{s.server} {s.title}: no {{{{ $labels.missing }}}} metrics",
        f"Prometheus has had no {{{{ $labels.missing }}}} series of {s.server} {s.title} for {a.for_}, so the other "
        "alerts of this cluster cannot fire. The PodMonitor or Probe is not picked up, the scrape is blocked, "
        "or the pods do not exist.",
        tuple(failures),
        s,
        Panel("Scraped exporters and probe (1 = up)", tuple((series, legend) for series, _, legend in watched)),
    )


def _down(s: Scope, a: AlertSetting, name: str, selector: str, container: str, what: str) -> AlertRule:
    def exporter_answers_no(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, container, 1)
        _set(series, "redis_up", series_values(0, samples), pod=target["pod"])
        return [(target, 0)]

    def exporter_unreachable(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, container, 2)
        for item in _select(series, pod=target["pod"]):
            if item.metric != "up":
                series.remove(item)
        _set(series, "up", series_values(0, samples), pod=target["pod"])
        return [(target, 0)]

    answering = f"redis_up{{{selector}}} or up{{{selector}}}"
    return AlertRule(
        name,
        f"({answering}) == 0",
        a,
        f"{s.server} {s.title}: {what} {{{{ $labels.pod }}}} is down",
        f"The {what} {{{{ $labels.pod }}}} of {s.server} {s.title} has not answered its exporter (redis_up) "
        f"or the exporter has not been scraped (up) for {a.for_}: the process is down, or it refuses the "
        "exporter's connection (maxclients reached: see RedisRejectedConnections).",
        (
            Failure(f"the {what} does not answer its exporter", exporter_answers_no),
            Failure(f"the {what} exporter cannot be scraped", exporter_unreachable),
        ),
        s,
        Panel(f"{what.capitalize()}s answering their exporter (1 = up)", ((answering, "{{pod}}"),), threshold=1),
    )


@_alert(
    "A redis pod does not answer its exporter, or the exporter cannot be scraped.",
    lambda f: AlertSetting(True, "2m", "high"),
)
def _RedisDown(s: Scope, a: AlertSetting) -> AlertRule:
    return _down(s, a, "RedisDown", s.redis, REDIS_EXPORTER, "redis pod")


@_alert(
    "A sentinel pod does not answer its exporter, or the exporter cannot be scraped.",
    lambda f: AlertSetting(True, "2m", "high"),
)
def _RedisSentinelDown(s: Scope, a: AlertSetting) -> AlertRule:
    return _down(s, a, "RedisSentinelDown", s.sentinel, SENTINEL_EXPORTER, "sentinel pod")


@_alert(
    "No redis pod reports the master role, and no replica has a live link to a master. "
    "A master its exporter cannot reach (maxclients reached) is RedisDown, not this.",
    lambda f: AlertSetting(True, f.no_master_for, "critical"),
)
def _RedisNoMaster(s: Scope, a: AlertSetting) -> AlertRule:
    # A master whose exporter cannot reach it (maxclients reached, exporter down) reports no role at all; its replicas'
    # live links still prove it is there. Then RedisDown names the unreachable pod and this alert stays silent.
    def all_replicas(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for item in _select(series, "redis_instance_info", role="master", **_cluster_labels(scope)):
            item.labels["role"] = "slave"
        _set(series, "redis_master_link_up", series_values(0, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), 0)]

    def all_down(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for metric in ("redis_instance_info", "redis_master_link_up"):
            _drop(series, metric, **_cluster_labels(scope))
        _set(series, "redis_up", series_values(0, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), 0)]

    def master_unreachable(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        for item in _select(series, pod=target["pod"]):
            if item.metric not in ("up", "redis_up"):
                series.remove(item)
        _set(series, "redis_up", series_values(0, samples), pod=target["pod"])
        return []

    masters = f'count by ({GROUPING}) (redis_instance_info{{{s.redis}, role="master"}})'
    links = f"redis_master_link_up{{{s.redis}}}"
    return AlertRule(
        "RedisNoMaster",
        f"({masters} or 0 * count by ({GROUPING}) (redis_up{{{s.redis}}})) < 1"
        f" unless on ({GROUPING}) max by ({GROUPING}) ({links}) == 1",
        a,
        f"{s.server} {s.title} has no master",
        f"No redis pod of {s.title} has reported the master role, and no replica has had a link to a master, "
        f"for {a.for_}, longer than a Sentinel failover takes: writes fail. Sentinel cannot promote a "
        "replica, or every redis pod is down.",
        (
            Failure("every redis pod reports the replica role, none linked to a master", all_replicas),
            Failure("every redis pod is down", all_down),
        ),
        s,
        Panel("Masters", ((masters, "masters"),), threshold=1),
        quiet=(
            Failure("the master refuses its exporter (maxclients) while its replicas stay linked", master_unreachable),
        ),
    )


@_alert(
    "No sentinel knows a usable master: each one that answers monitors none, or sees its master down "
    "(what clients asking Sentinel get).",
    lambda f: AlertSetting(True, f.no_master_for, "critical"),
)
def _RedisSentinelNoUsableMaster(s: Scope, a: AlertSetting) -> AlertRule:
    # Sentinel's own view, which clients use to find the master. On v1.2.4 a sentinel is Ready on PING alone, so the
    # uptime Probe cannot see this; RedisNoMaster cannot either when a redis pod is master but the sentinels monitor
    # something else (the operator's 127.0.0.1 placeholder, a dead address).
    def master_down(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for item in _select(series, "redis_sentinel_master_status", **_cluster_labels(scope)):
            item.labels["master_status"] = "odown"
            item.values = series_values(0, samples)
        return [(_cluster_labels(scope), 0)]

    def nothing_monitored(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _drop(series, "redis_sentinel_master_status", **_cluster_labels(scope))
        return [(_cluster_labels(scope), 0)]

    status = f"redis_sentinel_master_status{{{s.master}}}"
    return AlertRule(
        "RedisSentinelNoUsableMaster",
        f"(max by ({GROUPING}) ({status}) or 0 * max by ({GROUPING}) (redis_up{{{s.sentinel}}})) < 1",
        a,
        f"{s.server} {s.title}: Sentinel knows no usable master",
        f"For {a.for_} no sentinel of {s.server} {s.title} has reported master {s.master_name} as up: each sentinel "
        "that answers monitors no master, or sees it down and cannot promote a replica. Clients asking Sentinel "
        "get no master or a dead one: writes fail.",
        (
            Failure("every sentinel sees the master down", master_down),
            Failure("no sentinel monitors a master", nothing_monitored),
        ),
        s,
        Panel("Master status per sentinel (1 = ok)", ((status, "{{pod}}: {{master_status}}"),), threshold=1),
    )


@_alert(
    "More than one redis pod reports the master role (split brain).",
    lambda f: AlertSetting(True, "1m", "critical"),
)
def _RedisMultipleMasters(s: Scope, a: AlertSetting) -> AlertRule:
    def second_master(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 1)
        for item in _select(series, "redis_instance_info", pod=target["pod"]):
            item.labels["role"] = "master"
        return [(_cluster_labels(scope), 2)]

    masters = f'redis_instance_info{{{s.redis}, role="master"}}'
    return AlertRule(
        "RedisMultipleMasters",
        f"count by ({GROUPING}) ({masters}) > 1",
        a,
        f"{s.server} {s.title} has {{{{ $value }}}} masters (split brain)",
        f"{{{{ $value }}}} redis pods of {s.title} have reported the master role for {a.for_}. Clients may write "
        "to different masters; writes to all but one are lost when Sentinel reconciles.",
        (Failure("a replica also reports the master role", second_master),),
        s,
        Panel("Pods reporting the master role", ((masters, "{{pod}}"),)),
    )


@_alert(
    "A replica has no link to its master.",
    lambda f: AlertSetting(True, "5m", "warning"),
)
def _RedisReplicaLinkDown(s: Scope, a: AlertSetting) -> AlertRule:
    def link_down(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 2)
        (item,) = _select(series, "redis_master_link_up", pod=target["pod"])
        item.values = series_values(0, samples)
        return [({**target, "master_host": item.labels["master_host"], "master_port": item.labels["master_port"]}, 0)]

    link = f"redis_master_link_up{{{s.redis}}}"
    return AlertRule(
        "RedisReplicaLinkDown",
        f"{link} == 0",
        a,
        f"{s.server} {s.title}: replica {{{{ $labels.pod }}}} is not replicating",
        f"Replica {{{{ $labels.pod }}}} of {s.server} {s.title} has had no link to its master "
        f"{{{{ $labels.master_host }}}}:{{{{ $labels.master_port }}}} for {a.for_}: it serves stale data and "
        "cannot take over safely.",
        (Failure("a replica lost its master link", link_down),),
        s,
        Panel("Replica link to master (1 = up)", ((link, "{{pod}}"),), threshold=1),
    )


@_alert(
    "The master has fewer connected replicas than redis.replicas - 1.",
    lambda f: AlertSetting(True, "10m", f.redundancy),
)
def _RedisReplicasMissing(s: Scope, a: AlertSetting) -> AlertRule:
    expected = s.redis_replicas - 1

    def replica_gone(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        _set(series, "redis_connected_slaves", series_values(expected - 1, samples), pod=target["pod"])
        return [(_cluster_labels(scope), expected - 1)]

    connected = (
        f"redis_connected_slaves{{{s.redis}}} and on (cluster, namespace, pod) "
        f'redis_instance_info{{{s.redis}, role="master"}}'
    )
    return AlertRule(
        "RedisReplicasMissing",
        f"max by ({GROUPING}) ({connected}) < {expected}",
        a,
        f"{s.server} {s.title}: the master has {{{{ $value }}}} of {expected} replicas",
        f"The master of {s.server} {s.title} has had only {{{{ $value }}}} connected replicas instead of {expected} "
        f"for {a.for_}: one more failure loses data or availability.",
        (Failure("a replica disconnected from the master", replica_gone),),
        s,
        Panel("Replicas connected to the master", ((connected, "{{pod}}"),), threshold=expected),
    )


@_alert(
    "No sentinel can authorise a failover: fewer usable sentinels than the quorum, CKQUORUM failing, "
    "or no sentinel monitoring the master.",
    lambda f: AlertSetting(True, "2m", "critical"),
)
def _RedisSentinelQuorumLost(s: Scope, a: AlertSetting) -> AlertRule:
    def few_sentinels(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _set(
            series,
            "redis_sentinel_master_ok_sentinels",
            series_values(scope.quorum - 1, samples),
            **_cluster_labels(scope),
        )
        return [(_cluster_labels(scope), scope.quorum - 1)]

    def ckquorum_fails(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for item in _select(series, "redis_sentinel_master_ckquorum_status", **_cluster_labels(scope)):
            item.labels["message"] = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority"
            item.values = series_values(0, samples)
        return [(_cluster_labels(scope), 0)]

    def nothing_monitored(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for metric in ("redis_sentinel_master_ok_sentinels", "redis_sentinel_master_ckquorum_status"):
            _drop(series, metric, **_cluster_labels(scope))
        _set(series, "redis_sentinel_masters", series_values(0, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), scope.sentinel_replicas)]

    usable = f"redis_sentinel_master_ok_sentinels{{{s.master}}}"
    ckquorum = f"redis_sentinel_master_ckquorum_status{{{s.master}}}"
    return AlertRule(
        "RedisSentinelQuorumLost",
        f"max by ({GROUPING}) ({usable}) < {s.quorum} or max by ({GROUPING}) ({ckquorum}) == 0"
        f" or count by ({GROUPING}) (redis_up{{{s.sentinel}}} == 1) unless on ({GROUPING})"
        f" count by ({GROUPING}) (redis_sentinel_master_ok_sentinels{{{s.master}}})",
        a,
        f"{s.server} {s.title}: Sentinel cannot fail over",
        f"For {a.for_} no sentinel of {s.server} {s.title} has been able to authorise a failover of master "
        f"{s.master_name}: fewer than {s.quorum} of {s.sentinel_replicas} sentinels are usable (CKQUORUM fails), "
        "or no sentinel monitors the master. The next master failure is an outage.",
        (
            Failure("every sentinel sees fewer ok sentinels than the quorum", few_sentinels),
            Failure("CKQUORUM fails on every sentinel", ckquorum_fails),
            Failure("no sentinel monitors the master", nothing_monitored),
        ),
        s,
        Panel(
            "Usable sentinels per sentinel, and CKQUORUM (1 = ok)",
            ((usable, "usable {{pod}}"), (ckquorum, "ckquorum {{pod}}")),
            threshold=s.quorum,
        ),
    )


@_alert(
    "A sentinel is in TILT mode.",
    lambda f: AlertSetting(True, "2m", "warning"),
)
def _RedisSentinelTilt(s: Scope, a: AlertSetting) -> AlertRule:
    def tilt(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, SENTINEL_EXPORTER, 0)
        _set(series, "redis_sentinel_tilt", series_values(1, samples), pod=target["pod"])
        return [(target, 1)]

    tilted = f"redis_sentinel_tilt{{{s.sentinel}}}"
    return AlertRule(
        "RedisSentinelTilt",
        f"{tilted} > 0",
        a,
        f"{s.server} {s.title}: sentinel {{{{ $labels.pod }}}} is in TILT mode",
        f"Sentinel {{{{ $labels.pod }}}} of {s.server} {s.title} has been in TILT mode for {a.for_}: it takes part "
        "in no failover. Its clock jumped or it was starved of CPU.",
        (Failure("a sentinel is in TILT mode", tilt),),
        s,
        Panel("Sentinel TILT mode (1 = tilt)", ((tilted, "{{pod}}"),)),
    )


@_alert(
    "A sentinel sees fewer healthy replicas than redis.replicas - 1.",
    lambda f: AlertSetting(True, "10m", "warning"),
)
def _RedisSentinelReplicasMissing(s: Scope, a: AlertSetting) -> AlertRule:
    expected = s.redis_replicas - 1

    def sees_fewer(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, SENTINEL_EXPORTER, 1)
        _set(series, "redis_sentinel_master_ok_slaves", series_values(expected - 1, samples), pod=target["pod"])
        return [(_cluster_labels(scope), expected - 1)]

    healthy = f"redis_sentinel_master_ok_slaves{{{s.master}}}"
    return AlertRule(
        "RedisSentinelReplicasMissing",
        f"min by ({GROUPING}) ({healthy}) < {expected}",
        a,
        f"{s.server} {s.title}: a sentinel sees {{{{ $value }}}} of {expected} replicas",
        f"A sentinel of {s.server} {s.title} has seen only {{{{ $value }}}} healthy replicas of master {s.master_name} "
        f"instead of {expected} for {a.for_}: it cannot promote the others in a failover.",
        (Failure("a sentinel sees a replica as down", sees_fewer),),
        s,
        Panel("Healthy replicas seen per sentinel", ((healthy, "{{pod}}"),), threshold=expected),
    )


def _percent(threshold: int) -> str:
    return sample_text(threshold / 100)


# At maxmemory an allkeys-* cache evicts by design; with noeviction or volatile-* writes start failing.
@_alert(
    "Memory used above `threshold` percent of maxmemory.",
    lambda f: AlertSetting(
        not f.policy.startswith("allkeys-"), "5m", f.redundancy, 85 if f.policy == "noeviction" else 90
    ),
    threshold_unit="percent",
)
def _RedisMemoryHigh(s: Scope, a: AlertSetting) -> AlertRule:
    filling = _share_above("redis_memory_used_bytes", 0, lambda scope: scope.maxmemory, a.required_threshold)
    share = f"redis_memory_used_bytes{{{s.redis}}} / (redis_memory_max_bytes{{{s.redis}}} > 0)"
    return AlertRule(
        "RedisMemoryHigh",
        f"{share} > {_percent(a.required_threshold)}",
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} uses {{{{ $value | humanizePercentage }}}} of maxmemory",
        f"{s.server} pod {{{{ $labels.pod }}}} of {s.title} has used more than {a.threshold}% of maxmemory for "
        f"{a.for_}. At maxmemory it evicts keys or, with noeviction, refuses writes.",
        (Failure(f"memory is above {a.threshold}% of maxmemory", filling),),
        s,
        Panel("Memory used / maxmemory", ((share, "{{pod}}"),), "percentunit", a.required_threshold / 100),
    )


@_alert(
    "Resident memory above `threshold` percent of the redis container's memory limit (OOM kill ahead).",
    lambda f: AlertSetting(True, "5m", f.redundancy, 90),
    threshold_unit="percent",
)
def _RedisMemoryNearPodLimit(s: Scope, a: AlertSetting) -> AlertRule:
    swelling = _share_above("redis_memory_used_rss_bytes", 2, lambda scope: scope.memory_limit, a.required_threshold)
    share = f"redis_memory_used_rss_bytes{{{s.redis}}} / {s.memory_limit}"
    return AlertRule(
        "RedisMemoryNearPodLimit",
        f"{share} > {_percent(a.required_threshold)}",
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} is at {{{{ $value | humanizePercentage }}}} of its memory limit",
        f"The resident memory of redis pod {{{{ $labels.pod }}}} of {s.title} has been above {a.threshold}% of "
        f"the container memory limit ({s.memory_limit} bytes) for {a.for_}: fragmentation or buffers beyond "
        "maxmemory; the kernel OOM-kills it soon.",
        (Failure("resident memory nears the limit", swelling),),
        s,
        Panel("Resident memory / pod limit", ((share, "{{pod}}"),), "percentunit", a.required_threshold / 100),
    )


# Rejections stop when their cause does: a window of 1m (not 5m) resolves the alert soon after, and still holds four
# scrapes, so a missed scrape hides no rejection.
@_alert(
    "A redis or sentinel pod rejected more than `threshold` connections (maxclients reached) within the rate window "
    "(1m, or four scrape intervals if longer), so it resolves soon after the rejections stop.",
    lambda f: AlertSetting(True, "0m", "warning", 0),
    threshold_unit="count",
)
def _RedisRejectedConnections(s: Scope, a: AlertSetting) -> AlertRule:
    def rejecting(container: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            target = _target(series, scope, container, 0)
            _set(
                series, "redis_rejected_connections_total", f"0+{a.required_threshold + 1}x{samples}", pod=target["pod"]
            )
            return [(target, math.nan)]

        return apply

    rejected = f"increase(redis_rejected_connections_total{{{s.exporters}}}[{s.event_window}])"
    return AlertRule(
        "RedisRejectedConnections",
        f"{rejected} > {a.threshold}",
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} rejects connections",
        f"{{{{ $labels.pod }}}} of {s.server} {s.title} rejected more than {a.threshold} client connections in the "
        f"last {s.event_window}: it has reached maxclients, and those clients got errors.",
        (
            Failure("redis rejects connections", rejecting(REDIS_EXPORTER)),
            Failure("a sentinel rejects connections", rejecting(SENTINEL_EXPORTER)),
        ),
        s,
        Panel(f"Rejected connections in {s.event_window}", ((rejected, "{{pod}}"),), threshold=a.threshold),
        window=s.event_window,
    )


@_alert(
    "Connected clients above `threshold` percent of maxclients.",
    lambda f: AlertSetting(True, "5m", "warning", 85),
    threshold_unit="percent",
)
def _RedisTooManyClients(s: Scope, a: AlertSetting) -> AlertRule:
    crowded = _share_above("redis_connected_clients", 0, lambda scope: scope.maxclients, a.required_threshold)
    share = f"redis_connected_clients{{{s.redis}}} / (redis_config_maxclients{{{s.redis}}} > 0)"
    return AlertRule(
        "RedisTooManyClients",
        f"{share} > {_percent(a.required_threshold)}",
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} is at {{{{ $value | humanizePercentage }}}} of maxclients",
        f"{s.server} pod {{{{ $labels.pod }}}} of {s.title} has had more than {a.threshold}% of maxclients connected "
        f"for {a.for_}; at maxclients it rejects new connections. A client may be leaking connections.",
        (Failure(f"clients exceed {a.threshold}% of maxclients", crowded),),
        s,
        Panel("Clients / maxclients", ((share, "{{pod}}"),), "percentunit", a.required_threshold / 100),
    )


# A session store must never lose sessions silently; a cache evicts by design.
@_alert(
    "More than `threshold` keys evicted within the rate window.",
    lambda f: AlertSetting(f.session, "0m", "high" if f.session else "warning", 0),
    threshold_unit="count",
)
def _RedisKeysEvicted(s: Scope, a: AlertSetting) -> AlertRule:
    def evicting(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        _set(series, "redis_evicted_keys_total", f"0+{a.required_threshold + 1}x{samples}", pod=target["pod"])
        return [(target, math.nan)]

    evicted = f"increase(redis_evicted_keys_total{{{s.redis}}}[{s.window}])"
    return AlertRule(
        "RedisKeysEvicted",
        f"{evicted} > {a.threshold}",
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} evicts keys",
        f"{s.server} pod {{{{ $labels.pod }}}} of {s.title} evicted more than {a.threshold} keys in the last "
        f"{s.window}: data (sessions) was dropped to stay under maxmemory.",
        (Failure("the master evicts keys", evicting),),
        s,
        Panel(f"Evicted keys in {s.window}", ((evicted, "{{pod}}"),), threshold=a.threshold),
        window=s.window,
    )


PERSISTENCE_STATUS = {
    "redis_rdb_last_bgsave_status": "RDB snapshot",
    "redis_aof_last_write_status": "AOF write",
    "redis_aof_last_bgrewrite_status": "AOF rewrite",
}


# stop-writes-on-bgsave-error: a failing save makes the master refuse writes.
@_alert(
    "The last RDB snapshot, AOF write or AOF rewrite failed.",
    lambda f: AlertSetting(f.persists, "1m", "critical"),
)
def _RedisPersistenceFailing(s: Scope, a: AlertSetting) -> AlertRule:
    def failed(metric: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            target = _target(series, scope, REDIS_EXPORTER, 0)
            _set(series, metric, series_values(0, samples), pod=target["pod"])
            return [(target, 0)]

        return apply

    statuses = {metric: f"{metric}{{{s.redis}}}" for metric in PERSISTENCE_STATUS}
    return AlertRule(
        "RedisPersistenceFailing",
        " or ".join(f"{status} == 0" for status in statuses.values()),
        a,
        f"{s.server} {s.title}: {{{{ $labels.pod }}}} cannot write to disk",
        f"The last RDB snapshot, append-only file write or AOF rewrite of redis pod {{{{ $labels.pod }}}} of "
        f"{s.title} failed: a master then refuses writes (stop-writes-on-bgsave-error), and data written since "
        "the last good save is lost on restart. The volume is full or failing.",
        tuple(Failure(f"the last {what} failed", failed(metric)) for metric, what in PERSISTENCE_STATUS.items()),
        s,
        Panel(
            "Last RDB save, AOF write and AOF rewrite (1 = ok)",
            tuple((status, f"{PERSISTENCE_STATUS[metric]} {{{{pod}}}}") for metric, status in statuses.items()),
            threshold=1,
        ),
    )


KEYS_LOOKBACK_SECONDS = 3600  # how far back the keys a cluster held are remembered, and how new a master must be


# After a full restart no sentinel knows a master and the operator promotes the oldest pod (SetOldestAsMaster), not
# the one with the newest data; the others resync from it. Only a master that started within the lookback is
# judged, so keys expiring or deleted on a long-running master never fire it. A cache loses everything on a full
# restart by design.
@_alert(
    "A master that started within the last hour holds under `threshold` percent of the keys the fullest pod held "
    "in that hour (a full restart promoted a pod without the newest data).",
    lambda f: AlertSetting(f.persists, "0m", "high", 50),
    threshold_unit="percent",
)
def _RedisMasterLostKeys(s: Scope, a: AlertSetting) -> AlertRule:
    lookback = f"{KEYS_LOOKBACK_SECONDS // 60}m"

    def restarted_master(keys: int) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            target = _target(series, scope, REDIS_EXPORTER, 0)
            _set(series, "redis_uptime_in_seconds", f"60+60x{samples}", pod=target["pod"])
            for item in _select(series, "redis_db_keys", **_cluster_labels(scope)):  # the replicas resync from it
                item.values = f"{HEALTHY_KEYS}x1 {keys}x{samples - 2}"
            return [({**_cluster_labels(scope), "db": "db0"}, keys)]

        return apply

    master = (
        f"max by ({GROUPING}, db) (redis_db_keys{{{s.redis}}} and on (cluster, namespace, pod) "
        f'redis_instance_info{{{s.redis}, role="master"}} and on (cluster, namespace, pod) '
        f"(redis_uptime_in_seconds{{{s.redis}}} < {KEYS_LOOKBACK_SECONDS}))"
    )
    held = f"max by ({GROUPING}, db) (max_over_time(redis_db_keys{{{s.redis}}}[{lookback}]))"
    return AlertRule(
        "RedisMasterLostKeys",
        f"{master} < on ({GROUPING}, db) {_percent(a.required_threshold)} * {held}",
        a,
        f"{s.server} {s.title}: the new master holds only {{{{ $value }}}} keys of {{{{ $labels.db }}}}",
        f"A redis pod of {s.title} that started within the last hour is master with {{{{ $value }}}} keys in "
        f"{{{{ $labels.db }}}}, under {a.threshold}% of what the fullest pod held in that hour: after a full "
        "restart the operator promoted a pod without the newest data, and the replicas drop theirs as they "
        "resync from it. Act before they have: the runbook promotes the pod with the most keys.",
        (
            Failure("a restarted master holds a tenth of the keys", restarted_master(HEALTHY_KEYS // 10)),
            Failure("a restarted master is empty", restarted_master(0)),
        ),
        s,
        Panel(
            "Keys of a master started within the hour, and the most any pod held in it",
            ((master, "new master {{db}}"), (held, "most held {{db}}")),
        ),
    )


@_alert(
    "The operator reports the cluster not OK (redis_operator_controller_cluster_ok == 0).",
    lambda f: AlertSetting(True, "5m", "high"),
)
def _RedisOperatorClusterNotOk(s: Scope, a: AlertSetting) -> AlertRule:
    # The operator's series carries `namespace` and `name` of the RedisFailover. Scraped with honorLabels (its chart's
    # ServiceMonitor), `namespace` is the RedisFailover's; without, Prometheus renames it to `exported_namespace`.
    def not_ok(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _set(
            series,
            "redis_operator_controller_cluster_ok",
            series_values(0, samples),
            name=scope.name,
            exported_namespace=scope.namespace,
        )
        return [(_cluster_labels(scope), 0)]

    def not_ok_honoured(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        (item,) = _select(
            series, "redis_operator_controller_cluster_ok", name=scope.name, exported_namespace=scope.namespace
        )
        del item.labels["exported_namespace"]
        item.labels["namespace"] = scope.namespace
        item.values = series_values(0, samples)
        return [(_cluster_labels(scope), 0)]

    ok = (
        f'min by (cluster) (redis_operator_controller_cluster_ok{{namespace="{s.namespace}", '
        f'exported_namespace="", name="{s.name}"}} or redis_operator_controller_cluster_ok'
        f'{{exported_namespace="{s.namespace}", name="{s.name}"}})'
    )
    return AlertRule(
        "RedisOperatorClusterNotOk",
        f"{ok} == 0",
        a,
        f"{s.server} {s.title}: the operator cannot reconcile it",
        f"The redis-operator has reported RedisFailover {s.title} as not OK for {a.for_}: its checks fail or "
        "it cannot reach the pods, so it neither heals nor updates the cluster.",
        (
            Failure("the operator reports an error", not_ok),
            Failure("the operator (scraped with honorLabels) reports an error", not_ok_honoured),
        ),
        s,
        Panel("Operator reports OK (1 = ok)", ((ok, "operator"),), threshold=1),
        labels=tuple(_cluster_labels(s).items()),
    )


@_alert(
    "The uptime Probe cannot connect to the sentinel Service.",
    lambda f: AlertSetting(True, "2m", "critical"),
    applies=lambda f: f.probe,
)
def _RedisUptimeProbeFailed(s: Scope, a: AlertSetting) -> AlertRule:
    def probe_fails(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        (item,) = _select(series, "probe_success", **_cluster_labels(scope))
        item.values = series_values(0, samples)
        return [(dict(item.labels), 0)]

    success = f"probe_success{{{s.cluster}}}"
    return AlertRule(
        "RedisUptimeProbeFailed",
        f"{success} == 0",
        a,
        f"{s.server} {s.title}: Sentinel is unreachable",
        f"The uptime probe has not reached {{{{ $labels.instance }}}} for {a.for_}: clients of {s.server} {s.title} "
        "cannot discover the master. No sentinel pod is Ready (from operator v1.3.0-rc1 on: none knows a "
        "master; on v1.2.4: none answers PING), or the Service is unreachable.",
        (Failure("the uptime probe fails", probe_fails),),
        s,
        Panel("Uptime probe (1 = success)", ((success, "{{instance}}"),), threshold=1),
    )


def alert_settings(monitoring: Monitoring) -> dict[str, AlertSetting]:
    """Each alert's setting: the purpose-aware default of its catalogue record, then what the spec sets."""
    facts, settings = monitoring.facts, {}
    for name, definition in CATALOG.items():
        default = definition.default(facts)
        override = monitoring.alert_rules.get(name, {})
        settings[name] = AlertSetting(
            enabled=override.get("enabled", default.enabled) and definition.applies(facts),
            for_=override.get("for", default.for_),
            severity=override.get("severity", default.severity),
            threshold=override.get("threshold", default.threshold),
        )
    return settings


def rule_groups(cluster: Cluster, alerts: list[AlertRule]) -> list[dict]:
    if not alerts:
        return []
    return [{"name": f"ckredis.{cluster.namespace}.{cluster.name}", "rules": [a.rule for a in alerts]}]
