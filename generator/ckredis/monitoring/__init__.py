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

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ckredis.derive import maxmemory_policy, purpose_of
from ckredis.facts import METRICS_PORT, RF_NAME_LABEL
from ckredis.monitoring.catalogue import CATALOG, _alert_settings, rule_groups
from ckredis.monitoring.dashboard import dashboard
from ckredis.monitoring.fixtures import expand, unit_tests
from ckredis.monitoring.probes import _probe_commands, _probe_timings
from ckredis.monitoring.scope import Alert, Scope, _window
from ckredis.monitoring.settings import (DASHBOARD_LABEL, DEFAULT_RUNBOOK_BASE, SCOPE_LABEL, AlertSetting, Facts, ProbeTiming,
                                        UptimeProbe, object_name)

if TYPE_CHECKING:
    from ckredis.model import Cluster

__all__ = ["CATALOG", "Alert", "Monitoring", "dashboard", "expand", "object_name", "rule_groups", "unit_tests"]


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
        facts = Facts(
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
            ("redis", "readiness"): "the operator's `/redis-readiness/ready.sh`: the master role, or the replica role "
                                    "with a master other than 127.0.0.1 and no sync in progress (the link to the "
                                    "master is not checked)",
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
