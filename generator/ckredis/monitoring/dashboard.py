"""Grafana dashboard: each alert's panel from its catalogue record, and a few context panels, scoped to this cluster."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ckredis.facts import MARKER
from ckredis.monitoring.catalogue import CATALOG
from ckredis.monitoring.scope import Panel, Scope
from ckredis.monitoring.settings import AlertSetting

if TYPE_CHECKING:
    from ckredis.model import Cluster


def dashboard(cluster: Cluster, settings: dict[str, AlertSetting]) -> dict:
    """One panel per alert of the catalogue (enabled or not, where the cluster has what it watches), drawn from the
    alert's own expression; then context panels no alert reads."""
    s = Scope.of(cluster)
    facts = cluster.monitoring.facts
    panels = [
        definition.build(s, settings[name]).panel for name, definition in CATALOG.items() if definition.applies(facts)
    ]
    panels += context_panels(s)
    datasource = {"type": "prometheus", "uid": "${datasource}"}
    rendered = []
    for number, panel in enumerate(panels):
        defaults: dict = {"unit": panel.unit}
        if panel.threshold is not None:
            defaults["custom"] = {"thresholdsStyle": {"mode": "line"}}
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"color": "green", "value": None}, {"color": "red", "value": panel.threshold}],
            }
        rendered.append(
            {
                "id": number + 1,
                "type": "timeseries",
                "title": panel.title,
                "datasource": datasource,
                "gridPos": {"h": 8, "w": 12, "x": 12 * (number % 2), "y": 8 * (number // 2)},
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}, "tooltip": {"mode": "multi"}},
                "targets": [
                    {"datasource": datasource, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + index)}
                    for index, (expr, legend) in enumerate(panel.targets)
                ],
            }
        )
    return {
        "uid": "ckredis-" + hashlib.sha256(f"{s.namespace}/{s.name}".encode()).hexdigest()[:16],
        "title": f"{s.server} {s.title} ({cluster.purpose})",
        "description": f"{s.server} Sentinel cluster {s.title}: the signals its alerts watch. {MARKER}: do not edit; "
        "change the ckredis spec and render again.",
        "tags": ["redis", "ckredis"],
        "editable": False,
        "schemaVersion": 39,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "1m",
        "timezone": "",
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                    "current": {},
                    "hide": 0,
                }
            ]
        },
        "annotations": {"list": []},
        "links": [],
        "panels": rendered,
    }


def context_panels(s: Scope) -> list[Panel]:
    """What explains an alert but raises none itself. (Failovers show in the master-role panels: no exporter version
    exposes a sentinel's config epoch.)"""
    rate = "$__rate_interval"
    hits, misses = (f"rate(redis_keyspace_{kind}_total{{{s.redis}}}[{rate}])" for kind in ("hits", "misses"))
    return [
        Panel("Replica lag", ((f"redis_connected_slave_lag_seconds{{{s.redis}}}", "{{slave_ip}}"),), "s"),
        Panel("Expired keys per second", ((f"rate(redis_expired_keys_total{{{s.redis}}}[{rate}])", "{{pod}}"),), "ops"),
        Panel(
            "Commands per second", ((f"rate(redis_commands_processed_total{{{s.redis}}}[{rate}])", "{{pod}}"),), "ops"
        ),
        Panel("Keyspace hit ratio", ((f"{hits} / ({hits} + {misses})", "{{pod}}"),), "percentunit"),
        Panel(
            "Seconds since last RDB save",
            ((f"time() - redis_rdb_last_save_timestamp_seconds{{{s.redis}}}", "{{pod}}"),),
            "s",
        ),
    ]
