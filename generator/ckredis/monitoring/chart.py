"""What one cluster's chart holds for monitoring, computed from the model: object labels, the scrape endpoint, the
enabled alerts and the catalogue rows, the container probes. plan.py calls these once per cluster."""

from __future__ import annotations

import re

from ckredis.facts import METRICS_PORT, RF_NAME_LABEL
from ckredis.model import Cluster
from ckredis.monitoring.catalogue import CATALOG
from ckredis.monitoring.probes import probe_commands
from ckredis.monitoring.scope import AlertRule, Scope
from ckredis.monitoring.settings import DASHBOARD_LABEL, SCOPE_LABEL, AlertSetting, ProbeTiming, object_name


def object_labels(cluster: Cluster) -> dict[str, str]:
    return {**cluster.monitoring.object_labels, **cluster.labels("monitoring")}


def dashboard_labels(cluster: Cluster) -> dict[str, str]:
    return {**object_labels(cluster), DASHBOARD_LABEL[0]: DASHBOARD_LABEL[1]}


def dashboard_file(cluster: Cluster) -> str:
    return f"{object_name(cluster.name)}.json"


def probe_labels(cluster: Cluster) -> dict[str, str]:
    return {"namespace": cluster.namespace, SCOPE_LABEL: cluster.name}


def pod_metrics_endpoints(cluster: Cluster) -> list[dict]:
    """One endpoint for both exporters: their container ports are both named `metrics`."""
    return [
        {
            "port": METRICS_PORT,
            "interval": cluster.monitoring.scrape_interval,
            "scrapeTimeout": cluster.monitoring.scrape_timeout,
            "relabelings": [
                {
                    "action": "replace",
                    "sourceLabels": ["__meta_kubernetes_pod_label_" + re.sub(r"[^A-Za-z0-9_]", "_", RF_NAME_LABEL)],
                    "targetLabel": SCOPE_LABEL,
                }
            ],
        }
    ]


def alerts(cluster: Cluster, settings: dict[str, AlertSetting]) -> list[AlertRule]:
    """The enabled alerts, in catalogue order."""
    mon = cluster.monitoring
    if not (mon.enabled and mon.alerts_enabled):
        return []
    scope = Scope.of(cluster)
    return [definition.build(scope, settings[name]) for name, definition in CATALOG.items() if settings[name].enabled]


def catalogue_rows(cluster: Cluster, settings: dict[str, AlertSetting]) -> list[dict]:
    """Every alert of the catalogue with its effective setting, enabled or not (README)."""
    mon, scope = cluster.monitoring, Scope.of(cluster)
    rows = []
    for name, definition in CATALOG.items():
        setting = settings[name]
        rows.append(
            {
                "name": name,
                "enabled": setting.enabled and mon.enabled and mon.alerts_enabled,
                "severity": setting.severity,
                "for": setting.for_,
                "threshold": _threshold_text(
                    definition.threshold_unit, setting.threshold, definition.build(scope, setting).window
                ),
                "when": definition.when,
                "link": f"[{name}]({mon.runbook_base_url}{name}.md)",
            }
        )
    return rows


def _threshold_text(unit: str | None, threshold: int | None, window: str | None) -> str:
    if unit == "percent":
        return f"{threshold} %"
    if unit == "count":
        return f"{threshold} in {window}"
    return ""


def _sets_container_probes(cluster: Cluster) -> bool:
    return cluster.monitoring.container_probes and cluster.supports("customProbes")


def container_probes(cluster: Cluster, kind: str, timings: dict[str, dict[str, ProbeTiming]]) -> dict[str, dict]:
    """`custom*Probe` fields of one RedisFailover component; empty when the operator cannot take them."""
    if not _sets_container_probes(cluster):
        return {}
    commands = probe_commands(cluster, kind)
    return {
        f"custom{stage.capitalize()}Probe": {"exec": {"command": commands[stage]}, **timings[kind][stage].as_k8s()}
        for stage in ("liveness", "readiness", "startup")
    }


def container_probe_rows(cluster: Cluster, timings: dict[str, dict[str, ProbeTiming]]) -> list[dict]:
    """The container probes as the README lists them; empty when the operator keeps its own."""
    if not _sets_container_probes(cluster):
        return []
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
        for stage in ("startup", "liveness", "readiness"):
            timing = timings[kind][stage]
            rows.append(
                {
                    "container": kind,
                    "probe": stage,
                    "check": checks[kind, stage],
                    "period": timing.period_seconds,
                    "timeout": timing.timeout_seconds,
                    "failures": timing.failure_threshold,
                }
            )
    return rows
