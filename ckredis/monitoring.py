"""Monitoring: PodMonitor, alert rules with promtool tests, uptime Probe, container probes, dashboard (issue 4).

Everything is derived here from the spec and the model: the alert catalogue (names, expressions, thresholds,
severities, texts, runbook links), the promtool unit tests that prove every alert, the container probes and
the Grafana dashboard. Templates only place the results.

Scoping. The PodMonitor adds `redisfailover` (the RedisFailover's name, from the pod label the operator sets) to
the `namespace`, `pod` and `container` labels Prometheus Operator gives every target. Every expression selects
on namespace + redisfailover (+ container, which tells the redis exporter from the sentinel exporter), and
aggregates `by (cluster, namespace, redisfailover)`, so two clusters in one namespace never mix (operator issue
#421). `cluster` is absent in a workload cluster's Prometheus and set by Thanos setups; grouping by it is
harmless where it is missing and keeps Kubernetes clusters apart where it is not.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ckredis.derive import maxmemory_policy, purpose_of
from ckredis.facts import (MARKER, METRICS_PORT, OPERATOR_METRICS_PORT, REDIS_EXPORTER, REDIS_EXPORTER_PORT, RF_NAME_LABEL,
                           SENTINEL_EXPORTER, SENTINEL_EXPORTER_PORT, SENTINEL_PORT, workload_name)
from ckredis.quantity import memory_bytes

if TYPE_CHECKING:
    from ckredis.model import Cluster

SCOPE_LABEL = "redisfailover"
GROUPING = "cluster, namespace, redisfailover"
DEFAULT_RUNBOOK_BASE = "https://github.com/elastisys/ckredis/blob/main/docs/runbooks/"
DASHBOARD_LABEL = ("grafana_dashboard", "1")
TEST_STEP_MINUTES = 1


def object_name(cluster_name: str) -> str:
    """The name of the PodMonitor, PrometheusRule, Probe and dashboard of a cluster."""
    return f"redis-{cluster_name}"


# ----------------------------------------------------------------------------------------------------------------
# Settings: spec.monitoring with every default applied (defaults that depend on the purpose are decided here).


@dataclass(frozen=True)
class AlertSetting:
    enabled: bool
    for_: str
    severity: str
    threshold: int | None = None


@dataclass(frozen=True)
class ProbeTiming:
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int

    def as_k8s(self) -> dict:
        return {"failureThreshold": self.failure_threshold, "periodSeconds": self.period_seconds,
                "timeoutSeconds": self.timeout_seconds}


@dataclass(frozen=True)
class UptimeProbe:
    prober_url: str
    module: str
    interval: str


@dataclass(frozen=True)
class Monitoring:
    """Monitoring settings from spec.monitoring, defaults applied."""

    enabled: bool = True
    object_labels: dict[str, str] = field(default_factory=dict)
    scrape_interval: str = "30s"
    scrape_timeout: str = "10s"
    alerts_enabled: bool = True
    alert_labels: dict[str, str] = field(default_factory=dict)
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE
    alert_settings: dict[str, AlertSetting] = field(default_factory=dict)
    uptime_probe: UptimeProbe | None = None
    dashboard: bool = False
    container_probes: bool = True
    probe_timings: dict[str, dict[str, ProbeTiming]] = field(default_factory=dict)
    maxclients: int = 10000

    @classmethod
    def of(cls, spec: dict) -> Monitoring:
        settings = spec.get("monitoring", {})
        purpose = purpose_of(spec)
        probe = settings.get("uptimeProbe", {})
        facts = _Facts(
            session=purpose.persists,  # a store whose data must not be lost: stricter alerts, patient probes
            persists=purpose.persists,
            policy=maxmemory_policy(spec),
            failover_ms=spec["sentinel"]["config"]["downAfterMilliseconds"] + spec["sentinel"]["config"]["failoverTimeout"],
            probe=probe.get("enabled", True),
        )
        alerts = settings.get("alerts", {})
        scrape = settings.get("scrape", {})
        uptime = UptimeProbe(probe.get("proberUrl", "prometheus-blackbox-exporter.monitoring.svc:9115"),
                             probe.get("module", "tcp_connect"), probe.get("interval", "30s"))
        container = settings.get("containerProbes", {})
        return cls(
            enabled=settings.get("enabled", True),
            object_labels=dict(sorted(settings.get("labels", {}).items())),
            scrape_interval=scrape.get("interval", "30s"),
            scrape_timeout=scrape.get("timeout", "10s"),
            alerts_enabled=alerts.get("enabled", True),
            alert_labels=dict(sorted(alerts.get("labels", {}).items())),
            runbook_base_url=alerts.get("runbookBaseUrl", DEFAULT_RUNBOOK_BASE),
            alert_settings=_alert_settings(facts, alerts.get("rules", {})),
            uptime_probe=uptime if probe.get("enabled", True) else None,
            dashboard=settings.get("dashboard", {}).get("enabled", False),
            container_probes=container.get("enabled", True),
            probe_timings=_probe_timings(facts, container),
            maxclients=spec["redis"]["config"]["maxclients"],
        )

    # -- what the chart renders -----------------------------------------------------------------------------

    def object_labels_for(self, cluster: Cluster) -> dict[str, str]:
        return {**self.object_labels, **cluster.labels("monitoring")}

    def dashboard_labels(self, cluster: Cluster) -> dict[str, str]:
        return {**self.object_labels_for(cluster), DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]}

    @property
    def scope_label(self) -> str:
        return SCOPE_LABEL

    def pod_metrics_endpoints(self) -> list[dict]:
        """One endpoint for both exporters: their container ports are both named `metrics`."""
        return [{
            "port": METRICS_PORT,
            "interval": self.scrape_interval,
            "scrapeTimeout": self.scrape_timeout,
            "relabelings": [{
                "action": "replace",
                "sourceLabels": ["__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9_]", "_", RF_NAME_LABEL)],
                "targetLabel": SCOPE_LABEL,
            }],
        }]

    def probe_target(self, cluster: Cluster) -> str:
        return f"{cluster.sentinel_host}:{cluster.sentinel.port}"

    def probe_labels(self, cluster: Cluster) -> dict[str, str]:
        return {"namespace": cluster.namespace, SCOPE_LABEL: cluster.name}

    def alerts(self, cluster: Cluster) -> list[Alert]:
        """The enabled alerts, in catalogue order."""
        if not (self.enabled and self.alerts_enabled):
            return []
        scope = Scope.of(cluster)
        return [definition.build(scope, self.alert_settings[name]) for name, definition in CATALOG.items()
                if self.alert_settings[name].enabled]

    def catalogue(self, cluster: Cluster) -> list[dict]:
        """Every alert of the catalogue with its effective setting, enabled or not (README)."""
        rows = []
        for name in CATALOG:
            setting = self.alert_settings[name]
            rows.append({"name": name, "enabled": setting.enabled and self.enabled and self.alerts_enabled,
                         "severity": setting.severity, "for": setting.for_,
                         "threshold": self._threshold_text(name, setting.threshold),
                         "when": CATALOG[name].when, "link": f"[{name}]({self.runbook_base_url}{name}.md)"})
        return rows

    def _threshold_text(self, name: str, threshold: int | None) -> str:
        kind = CATALOG[name].threshold_unit
        if kind == "percent":
            return f"{threshold} %"
        if kind == "count":
            return f"{threshold} in {_window(self.scrape_interval)}"
        return ""


    def container_probes_for(self, cluster: Cluster, kind: str) -> dict[str, dict]:
        """`custom*Probe` fields of one RedisFailover component; empty when the operator cannot take them."""
        if not (self.container_probes and cluster.supports("customProbes")):
            return {}
        timings = self.probe_timings[kind]
        commands = _probe_commands(cluster, kind)
        return {f"custom{stage.capitalize()}Probe": {"exec": {"command": commands[stage]}, **timings[stage].as_k8s()}
                for stage in ("liveness", "readiness", "startup")}

    def container_probe_rows(self, cluster: Cluster) -> list[dict]:
        """The container probes as the README lists them; empty when the operator keeps its own."""
        checks = {
            ("redis", "startup"): "`PING` answered: PONG, LOADING or NOAUTH (no password sent)",
            ("redis", "liveness"): "`PING` answered: PONG, LOADING or NOAUTH (no password sent)",
            ("redis", "readiness"): "the operator's `/redis-readiness/ready.sh`: a master, or a replica in sync with a real master",
            ("sentinel", "startup"): "`PING` answered with PONG",
            ("sentinel", "liveness"): "`PING` answered with PONG",
            ("sentinel", "readiness"): f"knows a master for `{cluster.master_name}` that is not 127.0.0.1",
        }
        rows = []
        for kind in ("redis", "sentinel"):
            if not self.container_probes_for(cluster, kind):
                return []
            for stage in ("startup", "liveness", "readiness"):
                timing = self.probe_timings[kind][stage]
                rows.append({"container": kind, "probe": stage, "check": checks[kind, stage],
                             "period": timing.period_seconds, "timeout": timing.timeout_seconds,
                             "failures": timing.failure_threshold})
        return rows

    def dashboard_file(self, cluster: Cluster) -> str:
        return f"{object_name(cluster.name)}.json"


@dataclass(frozen=True)
class _Facts:
    session: bool
    persists: bool
    policy: str
    failover_ms: int
    probe: bool

    @property
    def redundancy(self) -> str:
        return "high" if self.session else "warning"  # a session store without replicas loses sessions on the next failure

    @property
    def no_master_for(self) -> str:
        # A failover takes down-after-milliseconds plus at most failover-timeout; "no master" only pages after that.
        return f"{math.ceil(self.failover_ms / 60000) + 1}m"


def _alert_settings(facts: _Facts, overrides: dict) -> dict[str, AlertSetting]:
    """Each alert's setting: the purpose-aware default of its catalogue record, then what the spec sets."""
    settings = {}
    for name, definition in CATALOG.items():
        default = definition.default(facts)
        override = overrides.get(name, {})
        settings[name] = AlertSetting(
            enabled=override.get("enabled", default.enabled) and (name != "RedisUptimeProbeFailed" or facts.probe),
            for_=override.get("for", default.for_),
            severity=override.get("severity", default.severity),
            threshold=override.get("threshold", default.threshold),
        )
    return settings


# ----------------------------------------------------------------------------------------------------------------
# Container probes (RedisFailover custom*Probe, v1.3.0-rc1 and freshworks only).


def _probe_timings(facts: _Facts, settings: dict) -> dict[str, dict[str, ProbeTiming]]:
    session = facts.session
    defaults = {
        "redis": {
            # Startup only waits for the server to answer at all (LOADING counts); generous, as it costs nothing
            # once passed. A session store may sit on a slow volume.
            "startup": ProbeTiming(5, 3, 60 if session else 24),
            # Restarting a session store costs a reload and a failover: be patient. A cache restarts cheaply.
            "liveness": ProbeTiming(10, 5, 6 if session else 3),
            # The operator's own readiness script and timings (k8s defaults), without its 30 s initial delay:
            # the startup probe gates it.
            "readiness": ProbeTiming(10, 5, 3),
        },
        "sentinel": {
            "startup": ProbeTiming(5, 3, 12),
            "liveness": ProbeTiming(10, 5, 3),
            # Readiness puts a sentinel into the rfs Service clients discover the master through: react fast.
            "readiness": ProbeTiming(5, 3, 2),
        },
    }
    timings = {}
    for kind, stages in defaults.items():
        timings[kind] = {}
        for stage, default in stages.items():
            given = settings.get(kind, {}).get(stage, {})
            timings[kind][stage] = ProbeTiming(given.get("periodSeconds", default.period_seconds),
                                               given.get("timeoutSeconds", default.timeout_seconds),
                                               given.get("failureThreshold", default.failure_threshold))
    return timings


def _probe_commands(cluster: Cluster, kind: str) -> dict[str, list[str]]:
    """Exec commands. No probe sends a password: liveness needs none, readiness is the operator's own script.

    redis-cli exits 0 on an error reply, so every check reads the reply. Liveness accepts any reply that proves
    the server is processing commands: PONG, LOADING (a large dataset is being loaded) and NOAUTH (auth is on;
    answering it needs no credentials, so a password rotation never gets pods killed).
    """
    if kind == "redis":
        alive = (f"reply=$(redis-cli -h 127.0.0.1 -p {cluster.redis.port} ping 2>&1); "
                 'case "$reply" in PONG|*LOADING*|*NOAUTH*) exit 0 ;; esac; echo "$reply"; exit 1')
        # The operator mounts this script in every redis pod: a master is ready; a replica is ready once it is
        # in sync with a real master (not 127.0.0.1). It authenticates with REDISCLI_AUTH from REDIS_PASSWORD.
        return {"liveness": ["sh", "-c", alive], "startup": ["sh", "-c", alive],
                "readiness": ["/bin/sh", "/redis-readiness/ready.sh"]}
    alive = (f'reply=$(redis-cli -h 127.0.0.1 -p {SENTINEL_PORT} ping 2>&1); '
             'case "$reply" in PONG) exit 0 ;; esac; echo "$reply"; exit 1')
    # The operator's readiness (commit 156474af): ready once this sentinel knows a master that is not the
    # 127.0.0.1 placeholder. Stricter than the original: an empty or error reply is not an address.
    ready = (f"addr=$(redis-cli -h 127.0.0.1 -p {SENTINEL_PORT} sentinel get-master-addr-by-name {cluster.master_name} "
             '2>/dev/null | head -n 1); case "$addr" in ""|127.0.0.1|*" "*) echo "no master: $addr"; exit 1 ;; esac')
    return {"liveness": ["sh", "-c", alive], "startup": ["sh", "-c", alive], "readiness": ["sh", "-c", ready]}


# ----------------------------------------------------------------------------------------------------------------
# Alerts


@dataclass(frozen=True)
class Scope:
    """What the expressions and their tests need to know about one cluster."""

    namespace: str
    name: str
    redis_replicas: int
    sentinel_replicas: int
    quorum: int
    master_name: str
    redis_port: int
    maxmemory: int
    memory_limit: int
    maxclients: int
    operator_namespace: str
    podmonitor_job: str
    probe: bool
    probe_job: str
    probe_instance: str
    window: str
    runbook_base_url: str
    alert_labels: tuple[tuple[str, str], ...]
    index: int = 0  # tells clusters apart in test data (pod IPs)

    @classmethod
    def of(cls, cluster: Cluster) -> Scope:
        m = cluster.monitoring
        return cls(
            namespace=cluster.namespace,
            name=cluster.name,
            redis_replicas=cluster.redis.replicas,
            sentinel_replicas=cluster.sentinel.replicas,
            quorum=cluster.quorum,
            master_name=cluster.master_name,
            redis_port=cluster.redis.port,
            maxmemory=cluster.maxmemory,
            memory_limit=memory_bytes(cluster.redis.resources.memory_limit),
            maxclients=m.maxclients,
            operator_namespace=cluster.operator_namespace,
            podmonitor_job=f"{cluster.namespace}/{object_name(cluster.name)}",
            probe=m.uptime_probe is not None,
            probe_job=f"probe/{cluster.namespace}/{object_name(cluster.name)}",
            probe_instance=m.probe_target(cluster),
            window=_window(m.scrape_interval),
            runbook_base_url=m.runbook_base_url,
            alert_labels=tuple(m.alert_labels.items()),
        )

    def neighbour(self) -> Scope:
        """Another RedisFailover in the same namespace whose name starts with this one's (regex traps included)."""
        return replace(self, name=f"{self.name}-other", podmonitor_job=f"{self.namespace}/{object_name(self.name)}-other",
                       probe_job=f"probe/{self.namespace}/{object_name(self.name)}-other",
                       probe_instance=self.probe_instance.replace(f"{workload_name('sentinel', self.name)}.",
                                                                   f"{workload_name('sentinel', self.name)}-other."),
                       index=self.index + 1)

    @property
    def cluster(self) -> str:
        return f'namespace="{self.namespace}", {SCOPE_LABEL}="{self.name}"'

    @property
    def redis(self) -> str:
        return f'{self.cluster}, container="{REDIS_EXPORTER}"'

    @property
    def sentinel(self) -> str:
        return f'{self.cluster}, container="{SENTINEL_EXPORTER}"'

    @property
    def exporters(self) -> str:
        return f'{self.cluster}, container=~"{REDIS_EXPORTER}|{SENTINEL_EXPORTER}"'

    @property
    def master(self) -> str:
        return f'{self.sentinel}, master_name="{self.master_name}"'

    @property
    def title(self) -> str:
        return f"{self.namespace}/{self.name}"


def _window(interval: str) -> str:
    """Range for increase(): at least 5m and four scrapes, so a single missed scrape never hides an event."""
    return f"{max(5, math.ceil(4 * _seconds(interval) / 60))}m"


def _seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


@dataclass
class Series:
    """One input series of a promtool test."""

    metric: str
    labels: dict[str, str]
    values: str

    def notation(self) -> dict:
        labels = ", ".join(f'{key}="{value}"' for key, value in sorted(self.labels.items()))
        return {"series": f"{self.metric}{{{labels}}}", "values": self.values}


# A failure applied to one cluster's healthy series; returns the (labels, value) of every alert it must raise.
Apply = Callable[[list["Series"], Scope, int], list[tuple[dict[str, str], float]]]


@dataclass(frozen=True)
class Failure:
    title: str
    apply: Apply


@dataclass(frozen=True)
class Alert:
    name: str
    expr: str
    setting: AlertSetting
    summary: str
    description: str
    failures: tuple[Failure, ...]
    scope: Scope
    labels: tuple[tuple[str, str], ...] = ()  # fixed labels beyond severity (when the expression cannot carry them)

    @property
    def rule_labels(self) -> dict[str, str]:
        return {**dict(self.scope.alert_labels), **dict(self.labels), "severity": self.setting.severity}

    @property
    def annotations(self) -> dict[str, str]:
        return {"description": self.description, "runbook_url": f"{self.scope.runbook_base_url}{self.name}.md",
                "summary": self.summary}

    @property
    def rule(self) -> dict:
        return {"alert": self.name, "expr": self.expr, "for": self.setting.for_, "labels": self.rule_labels,
                "annotations": self.annotations}

    @property
    def metrics(self) -> set[str]:
        return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", self.expr))


@dataclass(frozen=True)
class AlertDefinition:
    """One alert of the catalogue: everything the rules, promtool tests, dashboard, schema text and README derive from."""

    name: str
    when: str  # when it fires, in one line (README, spec reference)
    default: Callable[[_Facts], AlertSetting]  # its purpose-aware default setting
    build: Callable[[Scope, AlertSetting], Alert]  # expression, texts and the failure cases that prove it
    threshold_unit: str | None = None  # "percent" or "count" (the schema's alertRulePercent / alertRuleCount)


CATALOG: dict[str, AlertDefinition] = {}


def _alert(when: str, default: Callable[[_Facts], AlertSetting], threshold_unit: str | None = None
           ) -> Callable[[Callable[[Scope, AlertSetting], Alert]], Callable[[Scope, AlertSetting], Alert]]:
    def register(build: Callable[[Scope, AlertSetting], Alert]) -> Callable[[Scope, AlertSetting], Alert]:
        name = build.__name__.removeprefix("_")
        CATALOG[name] = AlertDefinition(name, when, default, build, threshold_unit)
        return build
    return register


def _target(series: list[Series], scope: Scope, container: str, number: int) -> dict[str, str]:
    """The target labels of the `number`th exporter of `container` in `scope`'s cluster."""
    prefix = "rfr" if container == REDIS_EXPORTER else "rfs"
    for item in series:
        labels = item.labels
        if (labels.get("container") == container and labels.get(SCOPE_LABEL) == scope.name
                and labels["pod"].startswith(f"{prefix}-{scope.name}-") and labels["pod"].endswith(f"-{number}")):
            return {key: labels[key] for key in ("container", "endpoint", "instance", "job", "namespace", "pod",
                                                 SCOPE_LABEL)}
    raise LookupError(f"no {container} {number} in {scope.name}")


def _select(series: list[Series], metric: str | None = None, **labels: str) -> list[Series]:
    return [s for s in series if (metric is None or s.metric == metric)
            and all(s.labels.get(key) == value for key, value in labels.items())]


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


def _const(value: float, samples: int) -> str:
    return f"{_number(value)}x{samples}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _fraction_above(threshold: int) -> float:
    """A ratio halfway between a percent threshold and 100 %: clearly above it."""
    return (threshold + (100 - threshold) / 2) / 100


def _cluster_labels(scope: Scope) -> dict[str, str]:
    return {"namespace": scope.namespace, SCOPE_LABEL: scope.name}


@_alert(
    "Prometheus has no redis exporter, sentinel exporter or uptime probe series of this cluster, so no other alert can fire.",
    lambda f: AlertSetting(True, "10m", "warning"),
)
def _RedisMetricsMissing(s: Scope, a: AlertSetting) -> Alert:
    parts = [f'label_replace(absent(up{{{s.redis}}}), "missing", "{REDIS_EXPORTER}", "", "")',
             f'label_replace(absent(up{{{s.sentinel}}}), "missing", "{SENTINEL_EXPORTER}", "", "")']
    if s.probe:
        parts.append(f'label_replace(absent(probe_success{{{s.cluster}}}), "missing", "uptime-probe", "", "")')

    def without(container: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            _drop(series, container=container, **_cluster_labels(scope))
            return [({**_cluster_labels(scope), "container": container, "missing": container}, 1)]
        return apply

    def without_probe(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _drop(series, "probe_success", **_cluster_labels(scope))
        return [({**_cluster_labels(scope), "missing": "uptime-probe"}, 1)]

    failures = [Failure("the redis exporters are not scraped", without(REDIS_EXPORTER)),
                Failure("the sentinel exporters are not scraped", without(SENTINEL_EXPORTER))]
    if s.probe:
        failures.append(Failure("the uptime probe reports nothing", without_probe))
    return Alert("RedisMetricsMissing", " or ".join(parts), a,
                 f"Redis {s.title}: no {{{{ $labels.missing }}}} metrics",
                 f"Prometheus has had no {{{{ $labels.missing }}}} series of Redis {s.title} for {a.for_}, so the other "
                 "alerts of this cluster cannot fire. The PodMonitor or Probe is not picked up, the scrape is blocked, "
                 "or the pods do not exist.", tuple(failures), s)


def _down(s: Scope, a: AlertSetting, name: str, selector: str, container: str, what: str) -> Alert:
    def exporter_answers_no(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, container, 1)
        _set(series, "redis_up", _const(0, samples), pod=target["pod"])
        return [(target, 0)]

    def exporter_unreachable(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, container, 2)
        for item in _select(series, pod=target["pod"]):
            if item.metric != "up":
                series.remove(item)
        _set(series, "up", _const(0, samples), pod=target["pod"])
        return [(target, 0)]

    return Alert(name, f"(redis_up{{{selector}}} or up{{{selector}}}) == 0", a,
                 f"Redis {s.title}: {what} {{{{ $labels.pod }}}} is down",
                 f"{what.capitalize()} {{{{ $labels.pod }}}} of Redis {s.title} has not answered its exporter (redis_up) "
                 f"or the exporter has not been scraped (up) for {a.for_}.",
                 (Failure(f"the {what} does not answer its exporter", exporter_answers_no),
                  Failure(f"the {what} exporter cannot be scraped", exporter_unreachable)), s)


@_alert(
    "A redis pod does not answer its exporter, or the exporter cannot be scraped.",
    lambda f: AlertSetting(True, "2m", "high"),
)
def _RedisDown(s: Scope, a: AlertSetting) -> Alert:
    return _down(s, a, "RedisDown", s.redis, REDIS_EXPORTER, "redis pod")


@_alert(
    "A sentinel pod does not answer its exporter, or the exporter cannot be scraped.",
    lambda f: AlertSetting(True, "2m", "high"),
)
def _RedisSentinelDown(s: Scope, a: AlertSetting) -> Alert:
    return _down(s, a, "RedisSentinelDown", s.sentinel, SENTINEL_EXPORTER, "sentinel pod")


@_alert(
    "No redis pod reports the master role.",
    lambda f: AlertSetting(True, f.no_master_for, "critical"),
)
def _RedisNoMaster(s: Scope, a: AlertSetting) -> Alert:
    def all_replicas(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for item in _select(series, "redis_instance_info", role="master", **_cluster_labels(scope)):
            item.labels["role"] = "slave"
        return [(_cluster_labels(scope), 0)]

    def all_down(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _drop(series, "redis_instance_info", **_cluster_labels(scope))
        _set(series, "redis_up", _const(0, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), 0)]

    return Alert("RedisNoMaster",
                 f"(count by ({GROUPING}) (redis_instance_info{{{s.redis}, role=\"master\"}}) "
                 f"or 0 * count by ({GROUPING}) (redis_up{{{s.redis}}})) < 1", a,
                 f"Redis {s.title} has no master",
                 f"No redis pod of {s.title} has reported the master role for {a.for_}, longer than a Sentinel "
                 "failover takes: writes fail. Sentinel cannot promote a replica, or every redis pod is down.",
                 (Failure("every redis pod reports the replica role", all_replicas),
                  Failure("every redis pod is down", all_down)), s)


@_alert(
    "More than one redis pod reports the master role (split brain).",
    lambda f: AlertSetting(True, "1m", "critical"),
)
def _RedisMultipleMasters(s: Scope, a: AlertSetting) -> Alert:
    def second_master(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 1)
        for item in _select(series, "redis_instance_info", pod=target["pod"]):
            item.labels["role"] = "master"
        return [(_cluster_labels(scope), 2)]

    return Alert("RedisMultipleMasters",
                 f"count by ({GROUPING}) (redis_instance_info{{{s.redis}, role=\"master\"}}) > 1", a,
                 f"Redis {s.title} has {{{{ $value }}}} masters (split brain)",
                 f"{{{{ $value }}}} redis pods of {s.title} have reported the master role for {a.for_}. Clients may write "
                 "to different masters; writes to all but one are lost when Sentinel reconciles.",
                 (Failure("a replica also reports the master role", second_master),), s)


@_alert(
    "A replica has no link to its master.",
    lambda f: AlertSetting(True, "5m", "warning"),
)
def _RedisReplicaLinkDown(s: Scope, a: AlertSetting) -> Alert:
    def link_down(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 2)
        (item,) = _select(series, "redis_master_link_up", pod=target["pod"])
        item.values = _const(0, samples)
        return [({**target, "master_host": item.labels["master_host"], "master_port": item.labels["master_port"]}, 0)]

    return Alert("RedisReplicaLinkDown", f"redis_master_link_up{{{s.redis}}} == 0", a,
                 f"Redis {s.title}: replica {{{{ $labels.pod }}}} is not replicating",
                 f"Replica {{{{ $labels.pod }}}} of Redis {s.title} has had no link to its master "
                 f"{{{{ $labels.master_host }}}}:{{{{ $labels.master_port }}}} for {a.for_}: it serves stale data and "
                 "cannot take over safely.", (Failure("a replica lost its master link", link_down),), s)


@_alert(
    "The master has fewer connected replicas than redis.replicas - 1.",
    lambda f: AlertSetting(True, "10m", f.redundancy),
)
def _RedisReplicasMissing(s: Scope, a: AlertSetting) -> Alert:
    expected = s.redis_replicas - 1

    def replica_gone(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        _set(series, "redis_connected_slaves", _const(expected - 1, samples), pod=target["pod"])
        return [(_cluster_labels(scope), expected - 1)]

    return Alert("RedisReplicasMissing",
                 f"max by ({GROUPING}) (redis_connected_slaves{{{s.redis}}} and on (cluster, namespace, pod) "
                 f"redis_instance_info{{{s.redis}, role=\"master\"}}) < {expected}", a,
                 f"Redis {s.title}: the master has {{{{ $value }}}} of {expected} replicas",
                 f"The master of Redis {s.title} has had only {{{{ $value }}}} connected replicas instead of {expected} "
                 f"for {a.for_}: one more failure loses data or availability.",
                 (Failure("a replica disconnected from the master", replica_gone),), s)


@_alert(
    "No sentinel can authorise a failover: fewer usable sentinels than the quorum, CKQUORUM failing, or no sentinel monitoring the master.",
    lambda f: AlertSetting(True, "2m", "critical"),
)
def _RedisSentinelQuorumLost(s: Scope, a: AlertSetting) -> Alert:
    def few_sentinels(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _set(series, "redis_sentinel_master_ok_sentinels", _const(scope.quorum - 1, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), scope.quorum - 1)]

    def ckquorum_fails(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for item in _select(series, "redis_sentinel_master_ckquorum_status", **_cluster_labels(scope)):
            item.labels["message"] = "NOQUORUM 1 usable Sentinels. Not enough available Sentinels to reach the majority"
            item.values = _const(0, samples)
        return [(_cluster_labels(scope), 0)]

    def nothing_monitored(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        for metric in ("redis_sentinel_master_ok_sentinels", "redis_sentinel_master_ckquorum_status"):
            _drop(series, metric, **_cluster_labels(scope))
        _set(series, "redis_sentinel_masters", _const(0, samples), **_cluster_labels(scope))
        return [(_cluster_labels(scope), scope.sentinel_replicas)]

    return Alert("RedisSentinelQuorumLost",
                 f"max by ({GROUPING}) (redis_sentinel_master_ok_sentinels{{{s.master}}}) < {s.quorum}"
                 f" or max by ({GROUPING}) (redis_sentinel_master_ckquorum_status{{{s.master}}}) == 0"
                 f" or count by ({GROUPING}) (redis_up{{{s.sentinel}}} == 1) unless on ({GROUPING})"
                 f" count by ({GROUPING}) (redis_sentinel_master_ok_sentinels{{{s.master}}})", a,
                 f"Redis {s.title}: Sentinel cannot fail over",
                 f"For {a.for_} no sentinel of Redis {s.title} has been able to authorise a failover of master "
                 f"{s.master_name}: fewer than {s.quorum} of {s.sentinel_replicas} sentinels are usable (CKQUORUM fails), "
                 "or no sentinel monitors the master. The next master failure is an outage.",
                 (Failure("every sentinel sees fewer ok sentinels than the quorum", few_sentinels),
                  Failure("CKQUORUM fails on every sentinel", ckquorum_fails),
                  Failure("no sentinel monitors the master", nothing_monitored)), s)


@_alert(
    "A sentinel is in TILT mode.",
    lambda f: AlertSetting(True, "2m", "warning"),
)
def _RedisSentinelTilt(s: Scope, a: AlertSetting) -> Alert:
    def tilt(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, SENTINEL_EXPORTER, 0)
        _set(series, "redis_sentinel_tilt", _const(1, samples), pod=target["pod"])
        return [(target, 1)]

    return Alert("RedisSentinelTilt", f"redis_sentinel_tilt{{{s.sentinel}}} > 0", a,
                 f"Redis {s.title}: sentinel {{{{ $labels.pod }}}} is in TILT mode",
                 f"Sentinel {{{{ $labels.pod }}}} of Redis {s.title} has been in TILT mode for {a.for_}: it takes part "
                 "in no failover. Its clock jumped or it was starved of CPU.", (Failure("a sentinel is in TILT mode", tilt),), s)


@_alert(
    "A sentinel sees fewer healthy replicas than redis.replicas - 1.",
    lambda f: AlertSetting(True, "10m", "warning"),
)
def _RedisSentinelReplicasMissing(s: Scope, a: AlertSetting) -> Alert:
    expected = s.redis_replicas - 1

    def sees_fewer(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, SENTINEL_EXPORTER, 1)
        _set(series, "redis_sentinel_master_ok_slaves", _const(expected - 1, samples), pod=target["pod"])
        return [(_cluster_labels(scope), expected - 1)]

    return Alert("RedisSentinelReplicasMissing",
                 f"min by ({GROUPING}) (redis_sentinel_master_ok_slaves{{{s.master}}}) < {expected}", a,
                 f"Redis {s.title}: a sentinel sees {{{{ $value }}}} of {expected} replicas",
                 f"A sentinel of Redis {s.title} has seen only {{{{ $value }}}} healthy replicas of master {s.master_name} "
                 f"instead of {expected} for {a.for_}: it cannot promote the others in a failover.",
                 (Failure("a sentinel sees a replica as down", sees_fewer),), s)


def _percent(threshold: int) -> str:
    return _number(threshold / 100)


# At maxmemory an allkeys-* cache evicts by design; with noeviction or volatile-* writes start failing.
@_alert(
    "Memory used above `threshold` percent of maxmemory.",
    lambda f: AlertSetting(not f.policy.startswith("allkeys-"), "5m", f.redundancy, 85 if f.policy == "noeviction" else 90),
    threshold_unit="percent",
)
def _RedisMemoryHigh(s: Scope, a: AlertSetting) -> Alert:
    def filling(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        used = round(scope.maxmemory * _fraction_above(a.threshold))
        _set(series, "redis_memory_used_bytes", _const(used, samples), pod=target["pod"])
        return [(target, used / scope.maxmemory)]

    return Alert("RedisMemoryHigh",
                 f"redis_memory_used_bytes{{{s.redis}}} / (redis_memory_max_bytes{{{s.redis}}} > 0) > {_percent(a.threshold)}",
                 a, f"Redis {s.title}: {{{{ $labels.pod }}}} uses {{{{ $value | humanizePercentage }}}} of maxmemory",
                 f"Redis pod {{{{ $labels.pod }}}} of {s.title} has used more than {a.threshold}% of maxmemory for "
                 f"{a.for_}. At maxmemory it evicts keys or, with noeviction, refuses writes.",
                 (Failure(f"memory is above {a.threshold}% of maxmemory", filling),), s)


@_alert(
    "Resident memory above `threshold` percent of the redis container's memory limit (OOM kill ahead).",
    lambda f: AlertSetting(True, "5m", f.redundancy, 90),
    threshold_unit="percent",
)
def _RedisMemoryNearPodLimit(s: Scope, a: AlertSetting) -> Alert:
    def swelling(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 2)
        rss = round(scope.memory_limit * _fraction_above(a.threshold))
        _set(series, "redis_memory_used_rss_bytes", _const(rss, samples), pod=target["pod"])
        return [(target, rss / scope.memory_limit)]

    return Alert("RedisMemoryNearPodLimit",
                 f"redis_memory_used_rss_bytes{{{s.redis}}} / {s.memory_limit} > {_percent(a.threshold)}", a,
                 f"Redis {s.title}: {{{{ $labels.pod }}}} is at {{{{ $value | humanizePercentage }}}} of its memory limit",
                 f"The resident memory of redis pod {{{{ $labels.pod }}}} of {s.title} has been above {a.threshold}% of "
                 f"the container memory limit ({s.memory_limit} bytes) for {a.for_}: fragmentation or buffers beyond "
                 "maxmemory; the kernel OOM-kills it soon.", (Failure("resident memory nears the limit", swelling),), s)


@_alert(
    "A redis or sentinel pod rejected more than `threshold` connections (maxclients reached) within the rate window (5m, or four scrape intervals if longer).",
    lambda f: AlertSetting(True, "0m", "warning", 0),
    threshold_unit="count",
)
def _RedisRejectedConnections(s: Scope, a: AlertSetting) -> Alert:
    def rejecting(container: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            target = _target(series, scope, container, 0)
            _set(series, "redis_rejected_connections_total", f"0+{a.threshold + 1}x{samples}", pod=target["pod"])
            return [(target, math.nan)]
        return apply

    return Alert("RedisRejectedConnections",
                 f"increase(redis_rejected_connections_total{{{s.exporters}}}[{s.window}]) > {a.threshold}", a,
                 f"Redis {s.title}: {{{{ $labels.pod }}}} rejects connections",
                 f"{{{{ $labels.pod }}}} of Redis {s.title} rejected more than {a.threshold} client connections in the "
                 f"last {s.window}: it has reached maxclients, and those clients got errors.",
                 (Failure("redis rejects connections", rejecting(REDIS_EXPORTER)),
                  Failure("a sentinel rejects connections", rejecting(SENTINEL_EXPORTER))), s)


@_alert(
    "Connected clients above `threshold` percent of maxclients.",
    lambda f: AlertSetting(True, "5m", "warning", 85),
    threshold_unit="percent",
)
def _RedisTooManyClients(s: Scope, a: AlertSetting) -> Alert:
    def crowded(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        clients = round(scope.maxclients * _fraction_above(a.threshold))
        _set(series, "redis_connected_clients", _const(clients, samples), pod=target["pod"])
        return [(target, clients / scope.maxclients)]

    return Alert("RedisTooManyClients",
                 f"redis_connected_clients{{{s.redis}}} / (redis_config_maxclients{{{s.redis}}} > 0) > {_percent(a.threshold)}",
                 a, f"Redis {s.title}: {{{{ $labels.pod }}}} is at {{{{ $value | humanizePercentage }}}} of maxclients",
                 f"Redis pod {{{{ $labels.pod }}}} of {s.title} has had more than {a.threshold}% of maxclients connected "
                 f"for {a.for_}; at maxclients it rejects new connections. A client may be leaking connections.",
                 (Failure(f"clients exceed {a.threshold}% of maxclients", crowded),), s)


# A session store must never lose sessions silently; a cache evicts by design.
@_alert(
    "More than `threshold` keys evicted within the rate window.",
    lambda f: AlertSetting(f.session, "0m", "high" if f.session else "warning", 0),
    threshold_unit="count",
)
def _RedisKeysEvicted(s: Scope, a: AlertSetting) -> Alert:
    def evicting(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        target = _target(series, scope, REDIS_EXPORTER, 0)
        _set(series, "redis_evicted_keys_total", f"0+{a.threshold + 1}x{samples}", pod=target["pod"])
        return [(target, math.nan)]

    return Alert("RedisKeysEvicted", f"increase(redis_evicted_keys_total{{{s.redis}}}[{s.window}]) > {a.threshold}", a,
                 f"Redis {s.title}: {{{{ $labels.pod }}}} evicts keys",
                 f"Redis pod {{{{ $labels.pod }}}} of {s.title} evicted more than {a.threshold} keys in the last "
                 f"{s.window}: data (sessions) was dropped to stay under maxmemory.",
                 (Failure("the master evicts keys", evicting),), s)


# stop-writes-on-bgsave-error: a failing save makes the master refuse writes.
@_alert(
    "The last RDB snapshot, AOF write or AOF rewrite failed.",
    lambda f: AlertSetting(f.persists, "1m", "critical"),
)
def _RedisPersistenceFailing(s: Scope, a: AlertSetting) -> Alert:
    def failed(metric: str) -> Apply:
        def apply(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
            target = _target(series, scope, REDIS_EXPORTER, 0)
            _set(series, metric, _const(0, samples), pod=target["pod"])
            return [(target, 0)]
        return apply

    return Alert("RedisPersistenceFailing",
                 f"redis_rdb_last_bgsave_status{{{s.redis}}} == 0 or redis_aof_last_write_status{{{s.redis}}} == 0"
                 f" or redis_aof_last_bgrewrite_status{{{s.redis}}} == 0", a,
                 f"Redis {s.title}: {{{{ $labels.pod }}}} cannot write to disk",
                 f"The last RDB snapshot, append-only file write or AOF rewrite of redis pod {{{{ $labels.pod }}}} of "
                 f"{s.title} failed: a master then refuses writes (stop-writes-on-bgsave-error), and data written since "
                 "the last good save is lost on restart. The volume is full or failing.",
                 (Failure("the last RDB snapshot failed", failed("redis_rdb_last_bgsave_status")),
                  Failure("the last AOF write failed", failed("redis_aof_last_write_status")),
                  Failure("the last AOF rewrite failed", failed("redis_aof_last_bgrewrite_status"))), s)


@_alert(
    "The operator reports the cluster not OK (redis_operator_controller_cluster_ok == 0).",
    lambda f: AlertSetting(True, "5m", "high"),
)
def _RedisOperatorClusterNotOk(s: Scope, a: AlertSetting) -> Alert:
    # The operator's series carries `namespace` and `name` of the RedisFailover. Scraped with honorLabels (its chart's
    # ServiceMonitor), `namespace` is the RedisFailover's; without, Prometheus renames it to `exported_namespace`.
    def not_ok(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        _set(series, "redis_operator_controller_cluster_ok", _const(0, samples), name=scope.name,
             exported_namespace=scope.namespace)
        return [(_cluster_labels(scope), 0)]

    def not_ok_honoured(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        (item,) = _select(series, "redis_operator_controller_cluster_ok", name=scope.name,
                          exported_namespace=scope.namespace)
        del item.labels["exported_namespace"]
        item.labels["namespace"] = scope.namespace
        item.values = _const(0, samples)
        return [(_cluster_labels(scope), 0)]

    return Alert("RedisOperatorClusterNotOk",
                 f"min by (cluster) (redis_operator_controller_cluster_ok{{namespace=\"{s.namespace}\", "
                 f"exported_namespace=\"\", name=\"{s.name}\"}} or redis_operator_controller_cluster_ok"
                 f"{{exported_namespace=\"{s.namespace}\", name=\"{s.name}\"}}) == 0", a,
                 f"Redis {s.title}: the operator cannot reconcile it",
                 f"The redis-operator has reported RedisFailover {s.title} as not OK for {a.for_}: its checks fail or "
                 "it cannot reach the pods, so it neither heals nor updates the cluster.",
                 (Failure("the operator reports an error", not_ok),
                  Failure("the operator (scraped with honorLabels) reports an error", not_ok_honoured)), s,
                 labels=tuple(_cluster_labels(s).items()))


@_alert(
    "The uptime Probe cannot connect to the sentinel Service.",
    lambda f: AlertSetting(f.probe, "2m", "critical"),
)
def _RedisUptimeProbeFailed(s: Scope, a: AlertSetting) -> Alert:
    def probe_fails(series: list[Series], scope: Scope, samples: int) -> list[tuple[dict, float]]:
        (item,) = _select(series, "probe_success", **_cluster_labels(scope))
        item.values = _const(0, samples)
        return [(dict(item.labels), 0)]

    return Alert("RedisUptimeProbeFailed", f"probe_success{{{s.cluster}}} == 0", a,
                 f"Redis {s.title}: Sentinel is unreachable",
                 f"The uptime probe has not reached {{{{ $labels.instance }}}} for {a.for_}: clients of Redis {s.title} "
                 "cannot discover the master. No sentinel is Ready (none knows a master), or the Service is unreachable.",
                 (Failure("the uptime probe fails", probe_fails),), s)


# ----------------------------------------------------------------------------------------------------------------
# promtool unit tests: for every alert, it fires on each of its failures, it stays silent on a healthy cluster,
# and it stays silent when only a different RedisFailover in the same namespace fails.


def healthy(scope: Scope, samples: int) -> list[Series]:
    """What the exporters, the operator and the probe report for a healthy cluster."""
    series: list[Series] = []
    net = 10 + scope.index

    def add(metric: str, labels: dict[str, str], value: float) -> None:
        series.append(Series(metric, dict(labels), _const(value, samples)))

    master_ip = f"10.{net}.0.10"
    for number in range(scope.redis_replicas):
        target = {"container": REDIS_EXPORTER, "endpoint": METRICS_PORT, "instance": f"10.{net}.0.{10 + number}:{REDIS_EXPORTER_PORT}",
                  "job": scope.podmonitor_job, "namespace": scope.namespace, "pod": f"{workload_name('redis', scope.name)}-{number}",
                  SCOPE_LABEL: scope.name}
        master = number == 0
        add("up", target, 1)
        add("redis_up", target, 1)
        add("redis_instance_info", {**target, "redis_mode": "standalone", "redis_version": "7.2.5",
                                    "role": "master" if master else "slave"}, 1)
        add("redis_connected_slaves", target, scope.redis_replicas - 1 if master else 0)
        if not master:
            add("redis_master_link_up", {**target, "master_host": master_ip, "master_port": str(scope.redis_port)}, 1)
        add("redis_memory_used_bytes", target, scope.maxmemory // 2)
        add("redis_memory_max_bytes", target, scope.maxmemory)
        add("redis_memory_used_rss_bytes", target, scope.maxmemory // 2 + 8 * 2**20)
        add("redis_connected_clients", target, 12)
        add("redis_config_maxclients", target, scope.maxclients)
        add("redis_rejected_connections_total", target, 0)
        add("redis_evicted_keys_total", target, 0)
        for status in ("redis_rdb_last_bgsave_status", "redis_aof_last_write_status", "redis_aof_last_bgrewrite_status"):
            add(status, target, 1)
    master = {"master_name": scope.master_name, "master_address": f"{master_ip}:{scope.redis_port}"}
    for number in range(scope.sentinel_replicas):
        target = {"container": SENTINEL_EXPORTER, "endpoint": METRICS_PORT, "instance": f"10.{net}.1.{10 + number}:{SENTINEL_EXPORTER_PORT}",
                  "job": scope.podmonitor_job, "namespace": scope.namespace,
                  "pod": f"{workload_name('sentinel', scope.name)}-6d4b9c7f8-{number}", SCOPE_LABEL: scope.name}
        add("up", target, 1)
        add("redis_up", target, 1)
        add("redis_connected_clients", target, 7)
        add("redis_rejected_connections_total", target, 0)
        add("redis_sentinel_tilt", target, 0)
        add("redis_sentinel_masters", target, 1)
        add("redis_sentinel_master_ok_sentinels", {**target, **master}, scope.sentinel_replicas)
        add("redis_sentinel_master_ok_slaves", {**target, **master}, scope.redis_replicas - 1)
        add("redis_sentinel_master_ckquorum_status",
            {**target, "master_name": scope.master_name,
             "message": f"OK {scope.sentinel_replicas} usable Sentinels. Quorum and failover authorization can be reached"},
            1)
    # Scraped by the operator chart's monitor without honorLabels: the RedisFailover's namespace is renamed.
    add("redis_operator_controller_cluster_ok",
        {"exported_namespace": scope.namespace, "instance": f"10.99.0.5:{OPERATOR_METRICS_PORT}", "job": "redis-operator",
         "name": scope.name, "namespace": scope.operator_namespace}, 1)
    if scope.probe:
        add("probe_success", {"instance": scope.probe_instance, "job": scope.probe_job, "namespace": scope.namespace,
                              SCOPE_LABEL: scope.name}, 1)
    return series


def _minutes(duration: str) -> int:
    return math.ceil(_seconds(duration) / 60)


def rule_groups(cluster: Cluster, alerts: list[Alert]) -> list[dict]:
    if not alerts:
        return []
    return [{"name": f"ckredis.{cluster.namespace}.{cluster.name}", "rules": [a.rule for a in alerts]}]


def unit_tests(alerts: list[Alert], rule_file: str = "rules.yaml") -> dict:
    """The promtool test file for the cluster's alerts (rule file relative to the test file)."""
    groups = []
    for alert in alerts:
        groups += alert_test_groups(alert)
    return {"rule_files": [rule_file], "evaluation_interval": f"{TEST_STEP_MINUTES}m", "tests": groups}


def alert_test_groups(alert: Alert) -> list[dict]:
    scope, other = alert.scope, alert.scope.neighbour()
    eval_minutes = _minutes(alert.setting.for_) + _minutes(scope.window) + 2
    samples = eval_minutes + 1

    def world(failing: Scope | None, failure: Failure | None) -> tuple[list[Series], list[tuple[dict, float]]]:
        mine, theirs = healthy(scope, samples), healthy(other, samples)
        expected: list[tuple[dict, float]] = []
        if failure is not None:
            fired = failure.apply(mine if failing is scope else theirs, failing, samples)
            expected = fired if failing is scope else []
        metrics = alert.metrics  # a regex over the expression: once per world, not per series
        series = [s for s in mine + theirs if s.metric in metrics]
        return series, expected

    def group(kind: str, title: str, failing: Scope | None, failure: Failure | None) -> dict:
        series, expected = world(failing, failure)
        return {
            "name": f"{alert.name} | {kind} | {title}",
            "interval": f"{TEST_STEP_MINUTES}m",
            "input_series": [s.notation() for s in sorted(series, key=lambda s: (s.metric, sorted(s.labels.items())))],
            "alert_rule_test": [{
                "eval_time": f"{eval_minutes}m",
                "alertname": alert.name,
                "exp_alerts": [_expected_alert(alert, labels, value) for labels, value in expected],
            }],
        }

    groups = [group("fires", failure.title, scope, failure) for failure in alert.failures]
    groups.append(group("healthy", f"{scope.title} and {other.title} are healthy", None, None))
    groups += [group("other cluster", f"only {other.title}: {failure.title}", other, failure) for failure in alert.failures]
    return groups


def _expected_alert(alert: Alert, labels: dict[str, str], value: float) -> dict:
    return {"exp_labels": {**labels, **alert.rule_labels},
            "exp_annotations": {key: expand(text, labels, value) for key, text in alert.annotations.items()}}


_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def expand(text: str, labels: dict[str, str], value: float) -> str:
    """The few Prometheus template forms the alerts use, as Prometheus expands them (promtool checks this)."""

    def one(match: re.Match) -> str:
        action = match.group(1)
        if action.startswith("$labels."):
            return labels[action.removeprefix("$labels.")]
        if action == "$value":
            return _go_float(value)
        if action == "$value | humanizePercentage":
            return _go_g4(value * 100) + "%"
        raise ValueError(f"unsupported template action {action!r} in {text!r}")

    return _TEMPLATE.sub(one, text)


def _go_float(value: float) -> str:
    """fmt.Sprint of a float64 for the values alerts report (small whole numbers and plain decimals)."""
    value = float(value)
    if math.isnan(value):
        raise ValueError("the alert's value is not known in advance; keep $value out of its annotations")
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _go_g4(value: float) -> str:
    """fmt.Sprintf("%.4g", value): C's %g, which Python shares."""
    return "%.4g" % value


# ----------------------------------------------------------------------------------------------------------------
# Grafana dashboard: panels for the same signals the alerts watch, scoped to this cluster.


def dashboard(cluster: Cluster) -> dict:
    s = Scope.of(cluster)
    rate = "$__rate_interval"
    operator_ok = (f'min(redis_operator_controller_cluster_ok{{namespace="{s.namespace}", exported_namespace="", '
                   f'name="{s.name}"}} or redis_operator_controller_cluster_ok{{exported_namespace="{s.namespace}", '
                   f'name="{s.name}"}})')
    master_only = f'and on (namespace, pod) redis_instance_info{{{s.redis}, role="master"}}'
    stats = [
        ("Redis pods up", f"sum(redis_up{{{s.redis}}})", "none", [(0, "red"), (s.redis_replicas, "green")]),
        ("Sentinels up", f"sum(redis_up{{{s.sentinel}}})", "none", [(0, "red"), (s.quorum, "orange"),
                                                                   (s.sentinel_replicas, "green")]),
        ("Masters", f'count(redis_instance_info{{{s.redis}, role="master"}}) or vector(0)', "none",
         [(0, "red"), (1, "green"), (2, "red")]),
        ("Usable sentinels (best view)", f"max(redis_sentinel_master_ok_sentinels{{{s.master}}})", "none",
         [(0, "red"), (s.quorum, "orange"), (s.sentinel_replicas, "green")]),
        ("Operator reports OK", operator_ok, "bool_yes_no", [(0, "red"), (1, "green")]),
    ]
    if s.probe:
        stats.append(("Uptime (probe, range)", f"avg_over_time(probe_success{{{s.cluster}}}[$__range])", "percentunit",
                      [(0, "red"), (0.999, "green")]))
    series = [
        ("Role by pod (1 = master)", f'max by (pod) (redis_instance_info{{{s.redis}, role="master"}}) or '
                                     f'0 * max by (pod) (redis_instance_info{{{s.redis}}})', "none", "{{pod}}"),
        ("Replicas connected to the master", f"redis_connected_slaves{{{s.redis}}} {master_only}", "none", "{{pod}}"),
        ("Replica link to master (1 = up)", f"redis_master_link_up{{{s.redis}}}", "none", "{{pod}}"),
        ("Replica lag", f"redis_connected_slave_lag_seconds{{{s.redis}}}", "s", "{{slave_ip}}"),
        ("Usable sentinels per sentinel", f"redis_sentinel_master_ok_sentinels{{{s.master}}}", "none", "{{pod}}"),
        ("Healthy replicas seen per sentinel", f"redis_sentinel_master_ok_slaves{{{s.master}}}", "none", "{{pod}}"),
        ("CKQUORUM (1 = ok) and TILT (1 = tilt)", f"redis_sentinel_master_ckquorum_status{{{s.master}}}", "none",
         "ckquorum {{pod}}"),
        ("Failovers", f"changes(redis_sentinel_master_config_epoch{{{s.master}}}[{rate}])", "none", "{{pod}}"),
        ("Memory used / maxmemory", f"redis_memory_used_bytes{{{s.redis}}} / (redis_memory_max_bytes{{{s.redis}}} > 0)",
         "percentunit", "{{pod}}"),
        ("Resident memory / pod limit", f"redis_memory_used_rss_bytes{{{s.redis}}} / {s.memory_limit}", "percentunit",
         "{{pod}}"),
        ("Evicted keys per second", f"rate(redis_evicted_keys_total{{{s.redis}}}[{rate}])", "ops", "{{pod}}"),
        ("Expired keys per second", f"rate(redis_expired_keys_total{{{s.redis}}}[{rate}])", "ops", "{{pod}}"),
        ("Clients / maxclients", f"redis_connected_clients{{{s.redis}}} / (redis_config_maxclients{{{s.redis}}} > 0)",
         "percentunit", "{{pod}}"),
        ("Rejected connections per second", f"rate(redis_rejected_connections_total{{{s.exporters}}}[{rate}])", "ops",
         "{{pod}}"),
        ("Commands per second", f"rate(redis_commands_processed_total{{{s.redis}}}[{rate}])", "ops", "{{pod}}"),
        ("Keyspace hit ratio", f"rate(redis_keyspace_hits_total{{{s.redis}}}[{rate}]) / (rate(redis_keyspace_hits_total"
                               f"{{{s.redis}}}[{rate}]) + rate(redis_keyspace_misses_total{{{s.redis}}}[{rate}]))",
         "percentunit", "{{pod}}"),
        ("Last save and AOF write ok (1 = ok)",
         f"min by (pod) (redis_rdb_last_bgsave_status{{{s.redis}}} or redis_aof_last_write_status{{{s.redis}}})", "none",
         "{{pod}}"),
        ("Seconds since last RDB save", f"time() - redis_rdb_last_save_timestamp_seconds{{{s.redis}}}", "s", "{{pod}}"),
    ]
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    panels: list[dict] = []
    width = 24 // len(stats)
    for number, (title, expr, unit, steps) in enumerate(stats):
        panels.append({
            "id": len(panels) + 1, "type": "stat", "title": title, "datasource": datasource,
            "gridPos": {"h": 4, "w": width, "x": number * width, "y": 0},
            "fieldConfig": {"defaults": {"unit": unit, "thresholds": {"mode": "absolute", "steps": [
                {"color": color, "value": None if index == 0 else limit} for index, (limit, color) in enumerate(steps)]}},
                "overrides": []},
            "options": {"colorMode": "background", "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}},
            "targets": [{"datasource": datasource, "expr": expr, "refId": "A"}],
        })
    for number, (title, expr, unit, legend) in enumerate(series):
        panels.append({
            "id": len(panels) + 1, "type": "timeseries", "title": title, "datasource": datasource,
            "gridPos": {"h": 8, "w": 12, "x": 12 * (number % 2), "y": 4 + 8 * (number // 2)},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
            "targets": [{"datasource": datasource, "expr": expr, "legendFormat": legend, "refId": "A"}],
        })
    tilt = next(p for p in panels if p["title"].startswith("CKQUORUM"))
    tilt["targets"].append({"datasource": datasource, "expr": f"redis_sentinel_tilt{{{s.sentinel}}}",
                            "legendFormat": "tilt {{pod}}", "refId": "B"})
    return {
        "uid": "ckredis-" + hashlib.sha256(f"{s.namespace}/{s.name}".encode()).hexdigest()[:16],
        "title": f"Redis {s.title} ({cluster.purpose})",
        "description": f"Redis Sentinel cluster {s.title}: the signals its alerts watch. {MARKER}: do not edit; "
                       "change the ckredis spec and render again.",
        "tags": ["redis", "ckredis"],
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "",
        "templating": {"list": [{"name": "datasource", "label": "Prometheus", "type": "datasource",
                                 "query": "prometheus", "current": {}, "hide": 0}]},
        "annotations": {"list": []},
        "links": [],
        "panels": panels,
    }
