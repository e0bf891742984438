"""Stage 3b, plan: everything derived from one cluster's model, each computed once, read by render.

The plan is the one context of every template (`plan`, with `m` = its cluster and `mon` = its monitoring
settings as short names). Monitoring settings are plain data in the model; what they make (alerts, probes,
dashboard) is computed here by monitoring functions. The promtool unit tests are a separate, lazily computed
step, so a caller that does not write them never pays for them.
"""

from __future__ import annotations

import json
from functools import cached_property

from ckredis import access, guidance
from ckredis.jsontext import indented_json
from ckredis.model import Cluster
from ckredis.monitoring import catalogue, chart, dashboard, probes, promtool_tests
from ckredis.monitoring.scope import AlertRule, probe_target
from ckredis.monitoring.settings import SCOPE_LABEL, AlertSetting, ProbeTiming, object_name


class Plan:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.monitoring = cluster.monitoring
        # Cheap names and labels, computed eagerly; what costs is a cached property below.
        self.monitoring_name = object_name(cluster.name)
        self.monitoring_labels = chart.object_labels(cluster)
        self.dashboard_labels = chart.dashboard_labels(cluster)
        self.dashboard_file = chart.dashboard_file(cluster)
        self.probe_labels = chart.probe_labels(cluster)
        self.probe_target = probe_target(cluster)
        self.pod_metrics_endpoints = chart.pod_metrics_endpoints(cluster)

    scope_label = SCOPE_LABEL

    # -- access -----------------------------------------------------------------------------------------------

    sync_wave = access.SYNC_WAVE

    @cached_property
    def flows(self) -> tuple[access.IntendedFlow, ...]:
        return access.flows(self.cluster)

    @cached_property
    def policies(self) -> tuple[access.Policy, ...]:
        return access.policies(self.cluster, self.flows)

    @cached_property
    def connectivity_table(self) -> list[tuple[str, str, str, str]]:
        return access.connectivity_table(self.flows)

    @cached_property
    def mermaid(self) -> str:
        return access.mermaid(self.flows)

    # -- monitoring -------------------------------------------------------------------------------------------

    @cached_property
    def alert_settings(self) -> dict[str, AlertSetting]:
        return catalogue.alert_settings(self.monitoring)

    @cached_property
    def alerts(self) -> list[AlertRule]:
        return chart.alerts(self.cluster, self.alert_settings)

    @cached_property
    def rule_groups(self) -> list[dict]:
        return catalogue.rule_groups(self.cluster, self.alerts)

    @cached_property
    def catalogue(self) -> list[dict]:
        return chart.catalogue_rows(self.cluster, self.alert_settings)

    @cached_property
    def probe_timings(self) -> dict[str, dict[str, ProbeTiming]]:
        return probes.probe_timings(self.monitoring)

    @cached_property
    def container_probes(self) -> dict[str, dict[str, dict]]:
        """`custom*Probe` fields per component (redis, sentinel); empty when the operator keeps its own."""
        return {kind: chart.container_probes(self.cluster, kind, self.probe_timings) for kind in ("redis", "sentinel")}

    @cached_property
    def container_probe_rows(self) -> list[dict]:
        return chart.container_probe_rows(self.cluster, self.probe_timings)

    @cached_property
    def dashboard(self) -> dict:
        return dashboard.dashboard(self.cluster, self.alert_settings)

    @cached_property
    def dashboard_compact(self) -> str:
        return json.dumps(self.dashboard, sort_keys=True, separators=(",", ":"))  # one line in the ConfigMap

    @cached_property
    def dashboard_json(self) -> str:
        return indented_json(self.dashboard) + "\n"  # json.dumps(indent=2, sort_keys=True), byte for byte

    # -- guidance for application teams and reviewers (README, NOTES) -----------------------------------------

    @cached_property
    def recovery(self) -> list[str]:
        return guidance.recovery(self.cluster)

    @cached_property
    def go_live(self) -> list[tuple[str, str]]:
        return guidance.go_live(self.cluster, self.alerts)

    def unit_tests(self, rule_file: str) -> dict:
        """The promtool tests of every alert, reading `rule_file`: a separate step, computed only when asked for."""
        return promtool_tests.unit_tests(self.alerts, rule_file)
