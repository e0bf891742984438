"""Monitoring: PodMonitor, alert rules with promtool tests, uptime Probe, container probes (issue 4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from generator.model import Cluster


@dataclass(frozen=True)
class Monitoring:
    """Monitoring settings from spec.monitoring, defaults applied."""

    @classmethod
    def of(cls, spec: dict) -> Monitoring:
        return cls()


def manifests(cluster: Cluster) -> dict[str, str]:
    """Monitoring objects: `templates/<file>.yaml` -> YAML as Helm outputs it."""
    return {}


def chart_files(cluster: Cluster) -> dict[str, str]:
    """Monitoring files outside templates/ (rule files and promtool tests), path -> text."""
    return {}
