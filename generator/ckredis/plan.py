"""Stage 3b, plan: everything derived from one cluster's model, each computed once, read by render.

The plan is the one context of every template (`plan`, with `m` = its cluster and `mon` = its monitoring
settings as short names). The promtool unit tests are a separate, lazily computed step, so a caller that does not
write them never pays for them.
"""

from __future__ import annotations

import json
from functools import cached_property

from ckredis import access, guidance, monitoring
from ckredis.jsontext import indented_json
from ckredis.model import Cluster


class Plan:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.monitoring = mon = cluster.monitoring
        # Cheap names and labels, computed eagerly; what costs is a cached property below.
        self.monitoring_name = monitoring.object_name(cluster.name)
        self.monitoring_labels = mon.object_labels_for(cluster)
        self.dashboard_labels = mon.dashboard_labels(cluster)
        self.dashboard_file = mon.dashboard_file(cluster)
        self.probe_labels = mon.probe_labels(cluster)
        self.probe_target = mon.probe_target(cluster)

    # -- access -----------------------------------------------------------------------------------------------

    sync_wave = access.SYNC_WAVE

    @cached_property
    def flows(self) -> tuple[access.Flow, ...]:
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
    def alerts(self) -> list[monitoring.Alert]:
        return self.monitoring.alerts(self.cluster)

    @cached_property
    def rule_groups(self) -> list[dict]:
        return monitoring.rule_groups(self.cluster, self.alerts)

    @cached_property
    def catalogue(self) -> list[dict]:
        return self.monitoring.catalogue(self.cluster)

    @cached_property
    def container_probes(self) -> dict[str, dict[str, dict]]:
        """`custom*Probe` fields per component (redis, sentinel); empty when the operator keeps its own."""
        return {kind: self.monitoring.container_probes_for(self.cluster, kind) for kind in ("redis", "sentinel")}

    @cached_property
    def container_probe_rows(self) -> list[dict]:
        return self.monitoring.container_probe_rows(self.cluster)

    @cached_property
    def dashboard(self) -> dict:
        return monitoring.dashboard(self.cluster)

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
        return monitoring.unit_tests(self.alerts, rule_file)
