"""promtool unit tests: healthy series, each alert's failure cases, and Go template expansion of alert texts."""

from __future__ import annotations

import math
import re

from ckredis.facts import (
    METRICS_PORT,
    OPERATOR_METRICS_PORT,
    REDIS_EXPORTER,
    REDIS_EXPORTER_PORT,
    SENTINEL_EXPORTER,
    SENTINEL_EXPORTER_PORT,
    workload_name,
)
from ckredis.monitoring.scope import HEALTHY_KEYS, AlertRule, Failure, Scope, Series, seconds, series_values
from ckredis.monitoring.settings import SCOPE_LABEL, TEST_STEP_MINUTES

# ----------------------------------------------------------------------------------------------------------------
# promtool unit tests: for every alert, it fires on each of its failures, it stays silent on a healthy cluster, on
# the faults of something else it names (its quiet cases), and when only a different RedisFailover in the same
# namespace fails.


def healthy(scope: Scope, samples: int) -> list[Series]:
    """What the exporters, the operator and the probe report for a healthy cluster."""
    series: list[Series] = []
    net = 10 + scope.index

    def add(metric: str, labels: dict[str, str], value: float) -> None:
        series.append(Series(metric, dict(labels), series_values(value, samples)))

    master_ip = f"10.{net}.0.10"
    for number in range(scope.redis_replicas):
        target = {
            "container": REDIS_EXPORTER,
            "endpoint": METRICS_PORT,
            "instance": f"10.{net}.0.{10 + number}:{REDIS_EXPORTER_PORT}",
            "job": scope.podmonitor_job,
            "namespace": scope.namespace,
            "pod": f"{workload_name('redis', scope.name)}-{number}",
            SCOPE_LABEL: scope.name,
        }
        is_master = number == 0
        add("up", target, 1)
        add("redis_up", target, 1)
        add(
            "redis_instance_info",
            {
                **target,
                "redis_mode": "standalone",
                "redis_version": "7.2.5",
                "role": "master" if is_master else "slave",
            },
            1,
        )
        add("redis_connected_slaves", target, scope.redis_replicas - 1 if is_master else 0)
        if not is_master:
            add("redis_master_link_up", {**target, "master_host": master_ip, "master_port": str(scope.redis_port)}, 1)
        add("redis_memory_used_bytes", target, scope.maxmemory // 2)
        add("redis_memory_max_bytes", target, scope.maxmemory)
        add("redis_memory_used_rss_bytes", target, scope.maxmemory // 2 + 8 * 2**20)
        add("redis_connected_clients", target, 12)
        add("redis_config_maxclients", target, scope.maxclients)
        add("redis_rejected_connections_total", target, 0)
        add("redis_evicted_keys_total", target, 0)
        add("redis_db_keys", {**target, "db": "db0"}, HEALTHY_KEYS)
        add("redis_uptime_in_seconds", target, 86400)
        for status in (
            "redis_rdb_last_bgsave_status",
            "redis_aof_last_write_status",
            "redis_aof_last_bgrewrite_status",
        ):
            add(status, target, 1)
    master = {"master_name": scope.master_name, "master_address": f"{master_ip}:{scope.redis_port}"}
    for number in range(scope.sentinel_replicas):
        target = {
            "container": SENTINEL_EXPORTER,
            "endpoint": METRICS_PORT,
            "instance": f"10.{net}.1.{10 + number}:{SENTINEL_EXPORTER_PORT}",
            "job": scope.podmonitor_job,
            "namespace": scope.namespace,
            "pod": f"{workload_name('sentinel', scope.name)}-6d4b9c7f8-{number}",
            SCOPE_LABEL: scope.name,
        }
        add("up", target, 1)
        add("redis_up", target, 1)
        add("redis_connected_clients", target, 7)
        add("redis_rejected_connections_total", target, 0)
        add("redis_sentinel_tilt", target, 0)
        add("redis_sentinel_masters", target, 1)
        add("redis_sentinel_master_status", {**target, **master, "master_status": "ok"}, 1)
        add("redis_sentinel_master_ok_sentinels", {**target, **master}, scope.sentinel_replicas)
        add("redis_sentinel_master_ok_slaves", {**target, **master}, scope.redis_replicas - 1)
        add(
            "redis_sentinel_master_ckquorum_status",
            {
                **target,
                "master_name": scope.master_name,
                "message": f"OK {scope.sentinel_replicas} usable Sentinels. "
                "Quorum and failover authorization can be reached",
            },
            1,
        )
    # Scraped by the operator chart's monitor without honorLabels: the RedisFailover's namespace is renamed.
    add(
        "redis_operator_controller_cluster_ok",
        {
            "exported_namespace": scope.namespace,
            "instance": f"10.99.0.5:{OPERATOR_METRICS_PORT}",
            "job": "redis-operator",
            "name": scope.name,
            "namespace": scope.operator_namespace,
        },
        1,
    )
    if scope.probe:
        add(
            "probe_success",
            {
                "instance": scope.probe_instance,
                "job": scope.probe_job,
                "namespace": scope.namespace,
                SCOPE_LABEL: scope.name,
            },
            1,
        )
    return series


def _minutes(duration: str) -> int:
    return math.ceil(seconds(duration) / 60)


def unit_tests(alerts: list[AlertRule], rule_file: str) -> dict:
    """The promtool test file for the cluster's alerts (rule file relative to the test file)."""
    groups = []
    for alert in alerts:
        groups += alert_test_groups(alert)
    return {"rule_files": [rule_file], "evaluation_interval": f"{TEST_STEP_MINUTES}m", "tests": groups}


def alert_test_groups(alert: AlertRule) -> list[dict]:
    scope, other = alert.scope, alert.scope.neighbour()
    eval_minutes = _minutes(alert.setting.for_) + (_minutes(alert.window) if alert.window else 0) + 2
    samples = eval_minutes + 1

    def world(failing: Scope | None, failure: Failure | None) -> tuple[list[Series], list[tuple[dict, float]]]:
        mine, theirs = healthy(scope, samples), healthy(other, samples)
        expected: list[tuple[dict, float]] = []
        if failure is not None and failing is not None:  # given together: which cluster fails, and how
            fired = failure.apply(mine if failing is scope else theirs, failing, samples)
            expected = fired if failing is scope else []
        metrics = alert.metrics  # a regex over the expression: once per world, not per series
        series = [s for s in mine + theirs if s.metric in metrics]
        return series, expected

    def group(kind: str, title: str, failing: Scope | None, failure: Failure | None) -> dict:
        series, expected = world(failing, failure)
        return {
            "name": f"{alert.name} | {kind} | {title}",
            "interval": f"{TEST_STEP_MINUTES}m",
            "input_series": [s.notation() for s in sorted(series, key=lambda s: (s.metric, sorted(s.labels.items())))],
            "alert_rule_test": [
                {
                    "eval_time": f"{eval_minutes}m",
                    "alertname": alert.name,
                    "exp_alerts": [_expected_alert(alert, labels, value) for labels, value in expected],
                }
            ],
        }

    groups = [group("fires", failure.title, scope, failure) for failure in alert.failures]
    groups += [group("silent", fault.title, scope, fault) for fault in alert.quiet]
    groups.append(group("healthy", f"{scope.title} and {other.title} are healthy", None, None))
    groups += [
        group("other cluster", f"only {other.title}: {failure.title}", other, failure) for failure in alert.failures
    ]
    return groups


def _expected_alert(alert: AlertRule, labels: dict[str, str], value: float) -> dict:
    return {
        "exp_labels": {**labels, **alert.rule_labels},
        "exp_annotations": {key: expand(text, labels, value) for key, text in alert.annotations.items()},
    }


_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def expand(text: str, labels: dict[str, str], value: float) -> str:
    """The few Prometheus template forms the alerts use, as Prometheus expands them (promtool checks this)."""

    def one(match: re.Match) -> str:
        action = match.group(1)
        if action.startswith("$labels."):
            return labels[action.removeprefix("$labels.")]
        if action == "$value":
            return _go_float(value)
        if action == "$value | humanizePercentage":
            return _go_g4(value * 100) + "%"
        raise ValueError(f"unsupported template action {action!r} in {text!r}")

    return _TEMPLATE.sub(one, text)


def _go_float(value: float) -> str:
    """fmt.Sprint of a float64 for the values alerts report (small whole numbers and plain decimals)."""
    value = float(value)
    if math.isnan(value):
        raise ValueError("the alert's value is not known in advance; keep $value out of its annotations")
    return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)


def _go_g4(value: float) -> str:
    """fmt.Sprintf("%.4g", value): C's %g, which Python's g format shares."""
    return f"{value:.4g}"
