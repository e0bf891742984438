"""Every metric and label the rendered alert rules and dashboard panels read exists on the real exporters
(issue 7, part 3; panels: issue 15).

tests/fixtures/ holds one real /metrics scrape of each exporter kind: prometheus-redis-exporter 1.45 (Debian) on a
redis master, on a replica and on a sentinel, and the blackbox exporter's tcp_connect probe of a sentinel. They are
recorded from the loopback cluster of tests/test_alerts_e2e.py, which also checks they still match the installed
exporters; regenerate them with

    CKREDIS_RECORD_FIXTURES=1 scripts/test -m e2e -k fixtures tests/test_alerts_e2e.py

The chart runs redis_exporter v1.87.0, not 1.45: tests/fixtures/redis-exporter-source.txt lists the families and
labels the rules and panels read as that exporter's Go source defines them (its header names the files, commits
and how they bracket v1.87.0), and every rule and panel must read only what both the scrapes and that list hold.

No servers here: the rules are read from `ckredis render --stdout` of every example.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO, ckredis, documents

FIXTURES = REPO / "tests" / "fixtures"
# Labels a target gets from Prometheus Operator for a PodMonitor or Probe, not from the exporter; `cluster` is an
# external label (Thanos), only ever grouped by.
OPERATOR_TARGET_LABELS = {"namespace", "pod", "container", "endpoint", "job", "instance", "cluster"}
# Series that no exporter fixture can hold, and why.
NOT_FROM_EXPORTERS = {
    "up": "written by Prometheus for every scrape",
    "redis_operator_controller_cluster_ok": "the redis-operator's own metric (README: needs the operator scraped)",
}
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
CLAUSE = re.compile(r"\b(?:by|on|ignoring|without|group_left|group_right)\s*\(([^)]*)\)")
# label_replace(v, "dst", "replacement", "src", "regex"): the label it writes.
LABEL_REPLACE = re.compile(r',\s*"([a-zA-Z_][a-zA-Z0-9_]*)"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*,\s*"[^"]*"\s*\)')
TEMPLATE_LABEL = re.compile(r"\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)")
LEGEND_LABEL = re.compile(r"\{\{([a-zA-Z_][a-zA-Z0-9_]*)\}\}")  # a Grafana legend's {{label}}


def metric_families(text: str) -> dict[str, set[str]]:
    """Metric name -> label names, from the Prometheus text exposition format."""
    families: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s", line)
            assert match, line
            labels = re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"', match.group(3) or "")
            families.setdefault(match.group(1), set()).update(labels)
    return families


@cache
def exposed() -> dict[str, set[str]]:
    files = sorted(FIXTURES.glob("*.prom"))
    assert {path.name for path in files} == {
        "redis-exporter-master.prom",
        "redis-exporter-replica.prom",
        "redis-exporter-sentinel.prom",
        "blackbox-exporter-probe.prom",
    }
    families: dict[str, set[str]] = {}
    for path in files:
        for metric, labels in metric_families(path.read_text()).items():
            families.setdefault(metric, set()).update(labels)
    return families


def rendered(example: Path) -> dict[str, dict]:
    result = ckredis("render", str(example), "--stdout")
    assert result.returncode == 0, result.stderr
    return {doc["kind"]: doc for doc in documents(result.stdout)}


def target_labels(chart: dict[str, dict]) -> set[str]:
    """Labels Prometheus attaches to the exporters' series: Prometheus Operator's, the PodMonitor's relabelings,
    the Probe's static labels."""
    labels = set(OPERATOR_TARGET_LABELS)
    for endpoint in chart["PodMonitor"]["spec"]["podMetricsEndpoints"]:
        labels |= {relabeling["targetLabel"] for relabeling in endpoint.get("relabelings", [])}
    if "Probe" in chart:
        labels |= set(chart["Probe"]["spec"]["targets"]["staticConfig"].get("labels", {}))
    return labels


def test_the_fixtures_are_real_scrapes():
    families = exposed()
    assert "redis_exporter_build_info" in families and "probe_success" in families
    assert {"role", "redis_version"} <= families["redis_instance_info"]
    assert {"master_name", "master_address", "master_status"} <= families["redis_sentinel_master_status"]


def rule_problems(chart: dict[str, dict], families: dict[str, set[str]]) -> list[str]:
    """Metrics and labels the chart's rules read that neither the exporters nor the scrape give them."""
    problems = []
    for group in chart["PrometheusRule"]["spec"]["groups"]:
        for rule in group["rules"]:
            problems += expression_problems(
                rule["alert"], rule["expr"], list(rule["annotations"].values()), target_labels(chart), families
            )
    return problems


def panel_problems(chart: dict[str, dict], board: dict, families: dict[str, set[str]]) -> list[str]:
    """The same for every query of the dashboard, its legends read as the annotations are."""
    return [
        problem
        for panel in board["panels"]
        for target in panel["targets"]
        for problem in expression_problems(
            panel["title"], target["expr"], [target["legendFormat"]], target_labels(chart), families
        )
    ]


def expression_problems(
    name: str, expr: str, texts: list[str], targets: set[str], families: dict[str, set[str]]
) -> list[str]:
    selectors = SELECTOR.findall(expr)
    readable = targets | set(LABEL_REPLACE.findall(expr))
    problems = []
    for metric, matchers in selectors:
        if metric in NOT_FROM_EXPORTERS:
            continue
        if metric not in families:
            problems.append(f"{name}: metric {metric} is not exposed")
            continue
        readable |= families[metric]
        problems += [
            f"{name}: {metric} has no label {label}"
            for label in MATCHER.findall(matchers)
            if label not in targets | families[metric]
        ]
    if any(metric in NOT_FROM_EXPORTERS and metric != "up" for metric, _ in selectors):
        return problems  # the operator's series: its labels are proven by the promtool tests only
    for clause in CLAUSE.findall(expr):
        problems += [
            f"{name}: grouping label {label} is on no series it reads"
            for label in (part.strip() for part in clause.split(","))
            if label and label not in readable
        ]
    for text in texts:
        problems += [
            f"{name}: label {label} in its text is on no series it reads"
            for label in TEMPLATE_LABEL.findall(text) + LEGEND_LABEL.findall(text)
            if label not in readable
        ]
    return problems


def test_every_metric_and_label_the_rules_read_is_exposed(example):
    assert rule_problems(rendered(example), exposed()) == []


def test_every_metric_and_label_the_dashboard_reads_is_exposed(example, tmp_path):
    """Every panel query and legend, as the rendered dashboard holds it (it once read a sentinel config epoch that
    no exporter exposes)."""
    result = ckredis("render", str(example), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (board_file,) = tmp_path.glob("*/dashboards/*.json")
    board = json.loads(board_file.read_text())
    assert board["panels"] and panel_problems(rendered(example), board, exposed()) == []


def test_the_check_finds_a_metric_and_labels_the_exporter_lacks():
    chart = rendered(REPO / "examples" / "session.yaml")
    rules = {rule["alert"]: rule for group in chart["PrometheusRule"]["spec"]["groups"] for rule in group["rules"]}
    rules["RedisReplicasMissing"]["expr"] = rules["RedisReplicasMissing"]["expr"].replace(
        "redis_connected_slaves{", "redis_connected_replicas{"
    )
    rules["RedisSentinelNoUsableMaster"]["expr"] = rules["RedisSentinelNoUsableMaster"]["expr"].replace(
        'master_name="', 'master="'
    )
    rules["RedisReplicaLinkDown"]["annotations"]["summary"] += " {{ $labels.master_ip }}"
    assert sorted(rule_problems(chart, exposed())) == [
        "RedisReplicaLinkDown: label master_ip in its text is on no series it reads",
        "RedisReplicasMissing: metric redis_connected_replicas is not exposed",
        "RedisSentinelNoUsableMaster: redis_sentinel_master_status has no label master",
    ]
    board = {
        "panels": [
            {
                "title": "Failovers",
                "targets": [
                    {
                        "expr": 'changes(redis_sentinel_master_config_epoch{master_name="m"}[5m])',
                        "legendFormat": "{{pod}}",
                    }
                ],
            },
            {
                "title": "Replica lag",
                "targets": [{"expr": "redis_connected_slave_lag_seconds{}", "legendFormat": "{{replica_ip}}"}],
            },
        ]
    }
    assert panel_problems(chart, board, exposed()) == [
        "Failovers: metric redis_sentinel_master_config_epoch is not exposed",
        "Replica lag: label replica_ip in its text is on no series it reads",
    ]


def source_families() -> dict[str, set[str]]:
    """tests/fixtures/redis-exporter-source.txt: the families and labels of the chart's exporter, from its source."""
    families: dict[str, set[str]] = {}
    for line in (FIXTURES / "redis-exporter-source.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            family, _, labels = line.split(" <- ")[0].partition(" ")
            families[family] = set(labels.split(",")) - {""}
    return families


def test_every_metric_and_label_is_in_the_source_of_the_charts_exporter(example, tmp_path):
    """The chart runs redis_exporter v1.87.0, the scrapes come from Debian's 1.45: rules and panels must read only
    what both expose. The blackbox exporter's probe_success is the platform's, not the chart's: from its scrape."""
    families = source_families() | {name: labels for name, labels in exposed().items() if name.startswith("probe_")}
    result = ckredis("render", str(example), "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    (board_file,) = tmp_path.glob("*/dashboards/*.json")
    chart = rendered(example)
    assert rule_problems(chart, families) + panel_problems(chart, json.loads(board_file.read_text()), families) == []


def test_the_source_list_is_what_the_rules_and_panels_read():
    """No family listed that nothing reads (the list stays the chart's, and each line stays checked)."""
    exprs = [
        rule["expr"]
        for path in sorted((REPO / "output").glob("*/templates/prometheusrule.yaml"))
        for group in yaml.safe_load(path.read_text())["spec"]["groups"]
        for rule in group["rules"]
    ]
    exprs += [
        target["expr"]
        for path in sorted((REPO / "output").glob("*/dashboards/*.json"))
        for panel in json.loads(path.read_text())["panels"]
        for target in panel["targets"]
    ]
    read = {metric for expr in exprs for metric, _ in SELECTOR.findall(expr)}
    assert set(source_families()) == read - set(NOT_FROM_EXPORTERS) - {"probe_success"}


@pytest.mark.parametrize(
    "fixture", ["redis-exporter-master.prom", "redis-exporter-replica.prom", "redis-exporter-sentinel.prom"]
)
def test_each_redis_exporter_fixture_is_one_redis_role(fixture):
    families = metric_families((FIXTURES / fixture).read_text())
    is_sentinel = "redis_sentinel_masters" in families
    assert is_sentinel == (fixture == "redis-exporter-sentinel.prom")
    assert ("redis_master_link_up" in families) == (fixture == "redis-exporter-replica.prom")
