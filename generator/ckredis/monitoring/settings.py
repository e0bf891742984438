"""Monitoring settings: spec.monitoring with every default applied, and the names monitoring objects share."""

from __future__ import annotations

import math
from dataclasses import dataclass


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
class Facts:
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
