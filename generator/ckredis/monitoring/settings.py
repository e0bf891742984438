"""Monitoring settings: spec.monitoring as the schema defaulted it, and the names monitoring objects share.

Plain frozen data, part of the model. What the chart renders from it (alerts, probes, dashboard) is computed from
the model by monitoring/chart.py, so building a model never imports the alert catalogue.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ckredis.derive import maxmemory_policy, purpose_of

SCOPE_LABEL = "redisfailover"
GROUPING = "cluster, namespace, redisfailover"
DASHBOARD_LABEL = ("grafana_dashboard", "1")
TEST_STEP_MINUTES = 1


def object_name(cluster_name: str) -> str:
    """The name of the PodMonitor, PrometheusRule, Probe and dashboard of a cluster."""
    return f"redis-{cluster_name}"


# ----------------------------------------------------------------------------------------------------------------
# Settings: spec.monitoring as given, schema defaults applied. The defaults that depend on the purpose (each alert's,
# each container probe's) are decided from `Facts` by catalogue.alert_settings and probes.probe_timings.


@dataclass(frozen=True)
class AlertSetting:
    enabled: bool
    for_: str
    severity: str
    threshold: int | None = None  # None for an alert without one

    @property
    def required_threshold(self) -> int:
        """The threshold of an alert that has one (its catalogue record names a threshold_unit)."""
        if self.threshold is None:
            raise ValueError("this alert has no threshold")
        return self.threshold


@dataclass(frozen=True)
class ProbeTiming:
    period_seconds: int
    timeout_seconds: int
    failure_threshold: int

    def as_k8s(self) -> dict:
        return {
            "failureThreshold": self.failure_threshold,
            "periodSeconds": self.period_seconds,
            "timeoutSeconds": self.timeout_seconds,
        }


@dataclass(frozen=True)
class UptimeProbe:
    prober_url: str
    module: str
    interval: str


@dataclass(frozen=True)
class Facts:
    session: bool
    persists: bool
    policy: str
    failover_ms: int
    probe: bool

    @property
    def redundancy(self) -> str:
        return (
            "high" if self.session else "warning"
        )  # a session store without replicas loses sessions on the next failure

    @property
    def no_master_for(self) -> str:
        # A failover takes down-after-milliseconds plus at most failover-timeout; "no master" only pages after that.
        return f"{math.ceil(self.failover_ms / 60000) + 1}m"


@dataclass(frozen=True)
class Monitoring:
    """spec.monitoring, schema defaults applied (validate.with_defaults), and the facts its own defaults depend on."""

    enabled: bool
    object_labels: dict[str, str]
    scrape_interval: str
    scrape_timeout: str
    alerts_enabled: bool
    alert_labels: dict[str, str]
    runbook_base_url: str
    alert_rules: dict[str, dict]  # spec.monitoring.alerts.rules: what the spec sets per alert
    uptime_probe: UptimeProbe | None
    dashboard: bool
    container_probes: bool
    container_probe_timings: dict[str, dict[str, dict]]  # spec.monitoring.containerProbes.<kind>.<stage>
    facts: Facts

    @classmethod
    def of(cls, spec: dict) -> Monitoring:
        settings, purpose = spec["monitoring"], purpose_of(spec)
        alerts, scrape, probe = settings["alerts"], settings["scrape"], settings["uptimeProbe"]
        # No schema default: rules.py refuses containerProbes, even empty, where the operator has no custom*Probe.
        container = settings.get("containerProbes", {})
        sentinel = spec["sentinel"]["config"]
        return cls(
            enabled=settings["enabled"],
            object_labels=dict(sorted(settings["labels"].items())),
            scrape_interval=scrape["interval"],
            scrape_timeout=scrape["timeout"],
            alerts_enabled=alerts["enabled"],
            alert_labels=dict(sorted(alerts["labels"].items())),
            runbook_base_url=alerts["runbookBaseUrl"],
            alert_rules=alerts["rules"],
            uptime_probe=UptimeProbe(probe["proberUrl"], probe["module"], probe["interval"])
            if probe["enabled"]
            else None,
            dashboard=settings["dashboard"]["enabled"],
            container_probes=container.get("enabled", True),
            container_probe_timings={kind: container.get(kind, {}) for kind in ("redis", "sentinel")},
            facts=Facts(
                session=purpose.persists,  # a store whose data must not be lost: stricter alerts, patient probes
                persists=purpose.persists,
                policy=maxmemory_policy(spec),
                failover_ms=sentinel["downAfterMilliseconds"] + sentinel["failoverTimeout"],
                probe=probe["enabled"],
            ),
        )
