"""PromQL scope: the selectors that keep one RedisFailover's series apart, and the AlertRule record."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from ckredis.facts import REDIS_EXPORTER, SENTINEL_EXPORTER, workload_name
from ckredis.monitoring.settings import SCOPE_LABEL, AlertSetting, object_name
from ckredis.quantity import memory_bytes

if TYPE_CHECKING:
    from ckredis.model import Cluster


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
    window: str  # increase() window of events worth reporting for a while (evictions)
    event_window: str  # increase() window of events that stop when their cause does (rejected connections)
    runbook_base_url: str
    alert_labels: tuple[tuple[str, str], ...]
    server: str  # how alert texts name the server: Redis or Valkey
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
            maxclients=int(cluster.redis_config_value("maxclients")),
            operator_namespace=cluster.operator_namespace,
            podmonitor_job=f"{cluster.namespace}/{object_name(cluster.name)}",
            probe=m.uptime_probe is not None,
            probe_job=f"probe/{cluster.namespace}/{object_name(cluster.name)}",
            probe_instance=probe_target(cluster),
            window=increase_window(m.scrape_interval),
            event_window=increase_window(m.scrape_interval, floor_minutes=1),
            runbook_base_url=m.runbook_base_url,
            alert_labels=tuple(m.alert_labels.items()),
            server=cluster.engine_facts.title,
        )

    def neighbour(self) -> Scope:
        """Another RedisFailover in the same namespace whose name starts with this one's (regex traps included)."""
        return replace(
            self,
            name=f"{self.name}-other",
            podmonitor_job=f"{self.namespace}/{object_name(self.name)}-other",
            probe_job=f"probe/{self.namespace}/{object_name(self.name)}-other",
            probe_instance=self.probe_instance.replace(
                f"{workload_name('sentinel', self.name)}.", f"{workload_name('sentinel', self.name)}-other."
            ),
            index=self.index + 1,
        )

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


def probe_target(cluster: Cluster) -> str:
    """What the uptime probe connects to: the Sentinel Service."""
    return f"{cluster.sentinel_host}:{cluster.sentinel.port}"


def increase_window(interval: str, floor_minutes: int = 5) -> str:
    """Range for increase(): at least `floor_minutes` and four scrapes, so a single missed scrape never hides an event.
    An alert on it resolves one window after the last event; whole minutes keep promtool's 1m test steps inside it."""
    return f"{max(floor_minutes, math.ceil(4 * seconds(interval) / 60))}m"


def seconds(duration: str) -> int:
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


HEALTHY_KEYS = 1000  # keys in db0 of each redis pod of the promtool tests' healthy cluster


def series_values(value: float, samples: int) -> str:
    """promtool's notation for `samples` equal samples."""
    return f"{sample_text(value)}x{samples}"


def sample_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


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
class Panel:
    """The dashboard panel of an alert: the parts of its expression as they are written there, before the comparison
    that makes them alert (each target is a piece of the alert's expr, so a panel cannot re-spell it)."""

    title: str
    targets: tuple[tuple[str, str], ...]  # (expr, legend)
    unit: str = "none"
    threshold: float | None = None  # drawn as a line where the alert compares a target against a number


@dataclass(frozen=True)
class AlertRule:
    name: str
    expr: str
    setting: AlertSetting
    summary: str
    description: str
    failures: tuple[Failure, ...]
    scope: Scope
    panel: Panel  # its dashboard panel
    quiet: tuple[Failure, ...] = ()  # faults of something else, on which the alert must stay silent (promtool tests)
    window: str | None = None  # the increase() window of the expression, if any (README threshold text)
    labels: tuple[tuple[str, str], ...] = ()  # fixed labels beyond severity (when the expression cannot carry them)

    @property
    def rule_labels(self) -> dict[str, str]:
        return {**dict(self.scope.alert_labels), **dict(self.labels), "severity": self.setting.severity}

    @property
    def annotations(self) -> dict[str, str]:
        return {
            "description": self.description,
            "runbook_url": f"{self.scope.runbook_base_url}{self.name}.md",
            "summary": self.summary,
        }

    @property
    def rule(self) -> dict:
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.setting.for_,
            "labels": self.rule_labels,
            "annotations": self.annotations,
        }

    @property
    def metrics(self) -> set[str]:
        return set(re.findall(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{", self.expr))
