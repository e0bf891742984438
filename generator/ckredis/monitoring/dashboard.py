"""Grafana dashboard: panels for the same signals the alerts watch, scoped to this cluster."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from ckredis.facts import MARKER
from ckredis.monitoring.scope import Scope

if TYPE_CHECKING:
    from ckredis.model import Cluster


def dashboard(cluster: Cluster) -> dict:
    s = Scope.of(cluster)
    rate = "$__rate_interval"
    operator_ok = (f'min(redis_operator_controller_cluster_ok{{namespace="{s.namespace}", exported_namespace="", '
                   f'name="{s.name}"}} or redis_operator_controller_cluster_ok{{exported_namespace="{s.namespace}", '
                   f'name="{s.name}"}})')
    master_only = f'and on (namespace, pod) redis_instance_info{{{s.redis}, role="master"}}'
    stats: list[tuple[str, str, str, list[tuple[float, str]]]] = [  # title, query, unit, (threshold, colour)
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
