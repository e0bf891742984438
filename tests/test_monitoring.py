"""Monitoring (issue 4): PodMonitor, Probe and PrometheusRule validate strictly against the upstream Prometheus
Operator CRDs; every alert is scoped to its RedisFailover and proven by promtool unit tests that can fail."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from ckredis import facts, model, render
from ckredis.errors import SpecError
from ckredis.monitoring import catalogue, dashboard, promtool_tests
from ckredis.monitoring.scope import Scope
from ckredis.plan import Plan
from ckredis.validate import validate_data
from conftest import EXAMPLES, REPO, ckredis, documents, load_example, tool
from crds import MONITORING_CRDS, monitoring_validator
from servers import free_port, with_engine

SESSION = next(p for p in EXAMPLES if p.stem == "session")  # every alert is enabled for a session store
CASE = re.compile(r"^(?P<alert>\w+) \| (?P<kind>fires|silent|healthy|other cluster) \| (?P<title>.+)$")


def cluster_of(spec: dict) -> model.Cluster:
    return model.build(validate_data(spec))


def objects(spec: dict) -> dict[str, dict]:
    return {
        doc["kind"]: doc
        for doc in (yaml.safe_load(text) for text in render.manifests(cluster_of(spec)).values())
        if doc["apiVersion"].startswith("monitoring.coreos.com/")
        or doc["kind"] == "ConfigMap"
        and "grafana_dashboard" in doc["metadata"]["labels"]
    }


def chart(example: Path) -> Path:
    return REPO / "output" / load_example(example)["metadata"]["name"]


def alert_tests(spec: dict) -> dict[str, str]:
    """What `ckredis test` gives promtool for a spec: rules.yaml and alerts.test.yaml."""
    return render.alert_tests(Plan(cluster_of(spec)))


def write_alert_tests(spec: dict, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in alert_tests(spec).items():
        (folder / name).write_text(text)
    return folder


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([tool("promtool"), *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def with_monitoring(spec: dict, **settings: object) -> dict:
    spec = copy.deepcopy(spec)
    spec["spec"].setdefault("monitoring", {}).update(copy.deepcopy(settings))
    return spec


def test_examples_render_every_monitoring_object():
    kinds = set()
    for example in EXAMPLES:
        kinds |= set(objects(load_example(example)))
    assert kinds == {"PodMonitor", "Probe", "PrometheusRule"}  # the dashboard ConfigMap is off by default


@pytest.mark.parametrize("kind", MONITORING_CRDS)
def test_objects_conform_strictly_to_the_prometheus_operator_crds(kind, example):
    doc = objects(load_example(example))[kind]
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in monitoring_validator(kind).iter_errors(doc)
    ]
    assert errors == []


def test_the_strict_check_rejects_unknown_fields():
    doc = objects(load_example(SESSION))["PodMonitor"]
    doc["spec"]["podMetricsEndpoints"][0]["relabellings"] = []
    doc["spec"]["podTargetLabel"] = ["x"]
    assert len(list(monitoring_validator("PodMonitor").iter_errors(doc))) == 2


def test_podmonitor_scrapes_both_exporters_of_this_cluster_only(example):
    spec = load_example(example)
    cluster = cluster_of(spec)
    monitor = objects(spec)["PodMonitor"]["spec"]
    assert monitor["selector"] == cluster.pods_selector
    assert monitor["namespaceSelector"] == {"matchNames": [cluster.namespace]}
    (endpoint,) = monitor["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics"  # the container port name of both exporters
    assert endpoint["relabelings"] == [
        {
            "action": "replace",
            "targetLabel": "redisfailover",
            "sourceLabels": ["__meta_kubernetes_pod_label_redisfailovers_databases_spotahome_com_name"],
        }
    ]


def test_probe_connects_to_the_sentinel_service_with_the_cluster_labels(example):
    spec = load_example(example)
    cluster = cluster_of(spec)
    probe = objects(spec)["Probe"]["spec"]
    assert probe["module"] == "tcp_connect"
    assert probe["prober"] == {"url": "prometheus-blackbox-exporter.monitoring.svc:9115"}
    assert probe["targets"]["staticConfig"] == {
        "static": [f"rfs-{cluster.name}.{cluster.namespace}.svc.cluster.local:26379"],
        "labels": {"namespace": cluster.namespace, "redisfailover": cluster.name},
    }


@pytest.mark.parametrize("version", ["v1.2.4", "v1.3.0-rc1", "freshworks"])
def test_the_uptime_text_says_what_sentinel_readiness_checks_on_each_operator_version(version):
    """v1.2.4's sentinel readiness is a plain PING (no custom probes there): its Probe cannot see "no master"."""
    spec = copy.deepcopy(load_example(SESSION))
    spec["spec"]["operator"] = {"version": version}
    spec["spec"]["sentinel"].pop("uniqueMasterName")
    files = render.render_chart(cluster_of(spec))
    probe, readme = files["templates/probe.yaml"], files["README.md"]
    if version == "v1.2.4":
        assert "plain PING" in probe and "RedisSentinelNoUsableMaster" in probe
        assert "readiness is a plain `PING`" in readme and "knows a master that is not 127.0.0.1" not in readme
    else:
        assert "only while some\n# sentinel is Ready (knows a master that is not 127.0.0.1)" in probe
        assert "PING" not in probe
    assert [r["alert"] for r in rules(spec)].count("RedisSentinelNoUsableMaster") == 1


def test_monitoring_can_be_switched_off():
    spec = with_monitoring(load_example(SESSION), enabled=False)
    assert objects(spec) == {}
    files = render.render_chart(cluster_of(spec))
    assert not [path for path in files if path.startswith("dashboards/")] and alert_tests(spec) == {}
    spec = with_monitoring(load_example(SESSION), uptimeProbe={"enabled": False}, alerts={"enabled": False})
    assert set(objects(spec)) == {"PodMonitor"}


# -- alert rules ---------------------------------------------------------------------------------------------


def rules(spec: dict) -> list[dict]:
    return [rule for group in objects(spec)["PrometheusRule"]["spec"]["groups"] for rule in group["rules"]]


def test_every_rule_group_passes_promtool_check(example, tmp_path):
    groups = objects(load_example(example))["PrometheusRule"]["spec"]["groups"]
    assert groups
    for number, group in enumerate(groups):
        path = tmp_path / f"group-{number}.yaml"
        path.write_text(yaml.safe_dump({"groups": [group]}))
        result = promtool("check", "rules", str(path))
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"SUCCESS: {len(group['rules'])} rules found" in result.stdout


def test_the_tested_rule_file_is_the_prometheusrule(example):
    spec = load_example(example)
    assert yaml.safe_load(alert_tests(spec)["rules.yaml"]) == {
        "groups": objects(spec)["PrometheusRule"]["spec"]["groups"]
    }


def test_the_chart_carries_no_alert_tests(example):
    """The unit tests prove the generator; a reviewer reads templates/prometheusrule.yaml (issue #10)."""
    assert not (chart(example) / "tests").exists()


def test_ckredis_test_proves_every_example_with_promtool(tmp_path):
    result = ckredis("test", "--promtool", tool("promtool"), "--write", str(tmp_path), *map(str, EXAMPLES))
    assert result.returncode == 0, result.stdout + result.stderr
    names = [load_example(example)["metadata"]["name"] for example in EXAMPLES]
    assert result.stdout.splitlines() == [f"{name}: passed" for name in names]
    for example, name in zip(EXAMPLES, names, strict=True):
        written = {path.name: path.read_text() for path in (tmp_path / name).iterdir()}
        assert written == alert_tests(load_example(example))


def test_ckredis_test_fails_when_an_alert_would_not_fire(tmp_path):
    """A promtool that reports a failing test makes `ckredis test` exit 1 with promtool's report on stderr."""
    fake = tmp_path / "promtool"
    fake.write_text('#!/bin/sh\n[ "$1" = check ] && exit 0\necho "FAILED: RedisDown | fires | x"; exit 1\n')
    fake.chmod(0o755)
    result = ckredis("test", "--promtool", str(fake), str(SESSION))
    assert result.returncode == 1
    assert result.stdout == "sessions: FAILED\n" and "RedisDown | fires" in result.stderr


def test_ckredis_test_without_promtool_says_how_to_get_it(tmp_path):
    result = ckredis("test", "--promtool", str(tmp_path / "nowhere" / "promtool"), str(SESSION))
    assert result.returncode == 2 and result.stdout == ""
    assert "promtool not found" in result.stderr and "prometheus" in result.stderr and "--write" in result.stderr


def test_ckredis_test_says_when_there_is_nothing_to_test(tmp_path):
    spec = tmp_path / "quiet.yaml"
    spec.write_text(yaml.safe_dump(with_monitoring(load_example(SESSION), alerts={"enabled": False})))
    result = ckredis("test", "--promtool", tool("promtool"), str(spec))
    assert (result.returncode, result.stdout) == (0, "sessions: no alert rules to test\n")


def test_every_enabled_alert_has_the_three_cases(example):
    """A new alert without a failure, a healthy and an other-cluster case fails here."""
    tests = yaml.safe_load(alert_tests(load_example(example))["alerts.test.yaml"])
    cases: dict[str, dict[str, list]] = {}
    for group in tests["tests"]:
        match = CASE.match(group["name"])
        assert match, group["name"]
        (check,) = group["alert_rule_test"]
        assert check["alertname"] == match["alert"]
        assert group["input_series"], group["name"]
        cases.setdefault(match["alert"], {}).setdefault(match["kind"], []).append((match["title"], check["exp_alerts"]))
    names = [rule["alert"] for rule in rules(load_example(example))]
    assert sorted(cases) == sorted(names)
    for name, kinds in cases.items():
        assert kinds["fires"] and all(expected for _, expected in kinds["fires"]), name
        assert [expected for _, expected in kinds["healthy"]] == [[]], name
        assert [expected for _, expected in kinds["other cluster"]] == [[]] * len(kinds["fires"]), name
        assert {title.split(": ", 1)[1] for title, _ in kinds["other cluster"]} == {t for t, _ in kinds["fires"]}, name
        assert [expected for _, expected in kinds.get("silent", [])] == [[]] * len(quiet_cases(example, name)), name


def quiet_cases(example: Path, name: str) -> tuple:
    cluster = cluster_of(load_example(example))
    setting = catalogue.alert_settings(cluster.monitoring)[name]
    return catalogue.CATALOG[name].build(Scope.of(cluster), setting).quiet


def test_the_session_example_enables_every_alert():
    assert [rule["alert"] for rule in rules(load_example(SESSION))] == list(catalogue.CATALOG)


def test_alert_texts_severities_and_runbooks(example):
    spec = load_example(example)
    cluster = cluster_of(spec)
    for rule in rules(spec):
        name = rule["alert"]
        assert rule["labels"]["severity"] in facts.SEVERITIES
        annotations = rule["annotations"]
        assert set(annotations) == {"summary", "description", "runbook_url"}
        assert annotations["runbook_url"] == f"https://github.com/elastisys/ckredis/blob/main/docs/runbooks/{name}.md"
        assert f"{cluster.namespace}/{cluster.name}" in annotations["summary"] + annotations["description"]
        per_instance = "pod" in rule["expr"] or "$labels.pod" in annotations["description"]
        if "$labels.pod" in annotations["summary"]:
            assert per_instance, name
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), name


SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")


def test_every_selector_is_scoped_to_the_cluster(example):
    """Every series an alert reads belongs to this namespace and RedisFailover (operator issue #421)."""
    cluster = cluster_of(load_example(example))
    for rule in rules(load_example(example)):
        selectors = SELECTOR.findall(rule["expr"])
        assert selectors, rule["alert"]
        for metric, matchers in selectors:
            if metric == "redis_operator_controller_cluster_ok":
                assert f'name="{cluster.name}"' in matchers
                assert f'namespace="{cluster.namespace}"' in matchers  # or exported_namespace
            else:
                assert f'namespace="{cluster.namespace}", redisfailover="{cluster.name}"' in matchers, (
                    metric,
                    matchers,
                )
            if (
                metric.startswith("redis_")
                and not metric.startswith(("redis_operator_", "redis_up"))
                and "rejected" not in metric
            ):
                assert "container=" in matchers, (rule["alert"], metric)


def test_aggregations_keep_clusters_apart(example):
    for rule in rules(load_example(example)):
        for clause in re.findall(r"\b(?:count|max|min|sum) by \(([^)]*)\)", rule["expr"]):
            # Finer groupings (per db) keep clusters apart too, as long as they start with the cluster's labels.
            assert clause == "cluster" or clause.startswith("cluster, namespace, redisfailover"), (
                rule["alert"],
                clause,
            )


def test_metric_names_are_the_pinned_exporter_ones(example):
    """Names verified in redis_exporter's source (exporter.go, info.go, sentinels.go); a typo fails here."""
    known = {
        "up",
        "probe_success",
        "redis_up",
        "redis_instance_info",
        "redis_connected_slaves",
        "redis_master_link_up",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_memory_used_rss_bytes",
        "redis_connected_clients",
        "redis_config_maxclients",
        "redis_rejected_connections_total",
        "redis_evicted_keys_total",
        "redis_db_keys",
        "redis_uptime_in_seconds",
        "redis_rdb_last_bgsave_status",
        "redis_aof_last_write_status",
        "redis_aof_last_bgrewrite_status",
        "redis_sentinel_tilt",
        "redis_sentinel_master_ok_sentinels",
        "redis_sentinel_master_ok_slaves",
        "redis_sentinel_master_status",
        "redis_sentinel_master_ckquorum_status",
        "redis_operator_controller_cluster_ok",
    }
    used = {metric for rule in rules(load_example(example)) for metric, _ in SELECTOR.findall(rule["expr"])}
    assert used <= known, used - known
    spec = load_example(example)
    assert spec["spec"].get("images", {}).get("exporter") is None, "examples use the pinned default exporter"


def test_purpose_aware_defaults():
    cache_alerts = {rule["alert"]: rule for rule in rules(load_example(next(p for p in EXAMPLES if p.stem == "cache")))}
    session_alerts = {rule["alert"]: rule for rule in rules(load_example(SESSION))}
    # An allkeys-lru cache evicts by design and keeps nothing on disk.
    assert not {"RedisMemoryHigh", "RedisKeysEvicted", "RedisPersistenceFailing"} & set(cache_alerts)
    assert session_alerts["RedisKeysEvicted"]["labels"]["severity"] == "high"
    assert session_alerts["RedisPersistenceFailing"]["labels"]["severity"] == "critical"
    assert session_alerts["RedisMemoryHigh"]["expr"].endswith("> 0.85")  # noeviction: writes fail at maxmemory
    assert session_alerts["RedisReplicasMissing"]["labels"]["severity"] == "high"
    assert cache_alerts["RedisReplicasMissing"]["labels"]["severity"] == "warning"
    volatile = load_example(next(p for p in EXAMPLES if p.stem == "cache"))
    volatile["spec"]["redis"].setdefault("config", {})["maxmemoryPolicy"] = "volatile-lru"
    assert {rule["alert"]: rule for rule in rules(volatile)}["RedisMemoryHigh"]["expr"].endswith("> 0.9")


def test_no_master_waits_longer_than_a_failover():
    spec = load_example(SESSION)
    spec["spec"]["sentinel"]["config"]["failoverTimeout"] = 180000
    assert {r["alert"]: r for r in rules(spec)}["RedisNoMaster"]["for"] == "5m"  # 5 s + 180 s -> 4m, plus one


def test_settings_reach_rules_and_tests(tmp_path):
    spec = with_monitoring(
        load_example(SESSION),
        labels={"evaluate_thanos": "1"},
        alerts={
            "labels": {"team": "payments"},
            "runbookBaseUrl": "https://runbooks.example.com/redis/",
            "rules": {
                "RedisMemoryHigh": {"threshold": 70, "for": "15m", "severity": "medium"},
                "RedisRejectedConnections": {"threshold": 25},
                "RedisSentinelTilt": {"enabled": False},
            },
        },
        scrape={"interval": "2m", "timeout": "30s"},
    )
    found = {rule["alert"]: rule for rule in rules(spec)}
    assert "RedisSentinelTilt" not in found
    memory = found["RedisMemoryHigh"]
    assert memory["expr"].endswith("> 0.7") and memory["for"] == "15m"
    assert memory["labels"] == {"team": "payments", "severity": "medium"}
    assert memory["annotations"]["runbook_url"] == "https://runbooks.example.com/redis/RedisMemoryHigh.md"
    assert "[8m]) > 25" in found["RedisRejectedConnections"]["expr"]  # four 2m scrapes
    for kind, doc in objects(spec).items():
        assert doc["metadata"]["labels"]["evaluate_thanos"] == "1", kind
    # The rendered tests follow the settings and still pass.
    result = promtool("test", "rules", "alerts.test.yaml", cwd=write_alert_tests(spec, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_labels_must_be_prometheus_label_names():
    spec = with_monitoring(load_example(SESSION), alerts={"labels": {"team.io/owner": "x"}})
    with pytest.raises(SpecError) as error:
        validate_data(spec)
    assert "team.io/owner" in str(error.value.issues[0].path) + error.value.issues[0].message


@pytest.mark.parametrize("label", ["severity", "namespace", "redisfailover", "pod"])
def test_alert_labels_cannot_override_what_alerts_carry(label):
    spec = with_monitoring(load_example(SESSION), alerts={"labels": {label: "x"}})
    with pytest.raises(SpecError) as error:
        validate_data(spec)
    assert label in error.value.issues[0].message


def test_unknown_alert_names_are_refused_with_a_suggestion():
    spec = with_monitoring(load_example(SESSION), alerts={"rules": {"RedisDwn": {"enabled": False}}})
    with pytest.raises(SpecError) as error:
        validate_data(spec)
    (issue,) = error.value.issues
    assert "RedisDwn" in issue.message and "RedisDown" in issue.hint


def test_the_schema_lists_exactly_the_catalogue():
    from ckredis.validate import schema

    listed = schema()["properties"]["spec"]["properties"]["monitoring"]["properties"]["alerts"]["properties"]["rules"]
    assert list(listed["properties"]) == list(catalogue.CATALOG)
    cluster = cluster_of(load_example(SESSION))
    refs = {None: "#/$defs/alertRule", "percent": "#/$defs/alertRulePercent", "count": "#/$defs/alertRuleCount"}
    for name, node in listed["properties"].items():
        assert node["$ref"] == refs[catalogue.CATALOG[name].threshold_unit], name
        assert (catalogue.alert_settings(cluster.monitoring)[name].threshold is not None) == (
            catalogue.CATALOG[name].threshold_unit is not None
        )
        assert node["description"].startswith(catalogue.CATALOG[name].when), name


def test_the_chart_readme_lists_the_alerts_and_how_to_rerun_the_tests(example):
    readme = (chart(example) / "README.md").read_text()
    for rule in rules(load_example(example)):
        assert f"[{rule['alert']}]({rule['annotations']['runbook_url']})" in readme
    assert "ckredis test SPEC" in readme and "promtool test rules alerts.test.yaml" in readme


# -- the tests can fail ------------------------------------------------------------------------------------------


def run_alert(
    tmp_path: Path, name: str, rule_groups: list[dict], tests: dict, alert: str
) -> subprocess.CompletedProcess:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}, sort_keys=False))
    mine = {**tests, "tests": [group for group in tests["tests"] if group["name"].startswith(f"{alert} |")]}
    (folder / "alerts.test.yaml").write_text(yaml.safe_dump(mine, sort_keys=False))
    return promtool("test", "rules", "alerts.test.yaml", cwd=folder)


def test_a_broken_threshold_makes_promtool_fail(tmp_path):
    write_alert_tests(load_example(SESSION), tmp_path)
    assert promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path).returncode == 0
    text = (tmp_path / "rules.yaml").read_text()
    broken = re.sub(r"(redis_memory_used_rss_bytes\{[^}]*\} / [0-9]+ > )0\.9", r"\g<1>0.99", text)
    assert broken != text
    (tmp_path / "rules.yaml").write_text(broken)
    result = promtool("test", "rules", "alerts.test.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "RedisMemoryNearPodLimit | fires" in result.stdout + result.stderr


def test_master_lost_keys_ignores_keys_leaving_a_long_running_master(tmp_path):
    """Sessions expire or are deleted en masse (a quiet night): only a master that started within the hour is judged.
    The control restarts the master in the same world, and the alert fires."""
    files = alert_tests(load_example(SESSION))
    tests = yaml.safe_load(files["alerts.test.yaml"])
    (quiet,) = [group for group in tests["tests"] if group["name"].startswith("RedisMasterLostKeys | healthy")]
    for series in quiet["input_series"]:
        if series["series"].startswith("redis_db_keys{"):
            samples = int(series["values"].split("x")[1])
            series["values"] = f"1000x1 10x{samples - 1}"
    restarted = copy.deepcopy(quiet)
    for series in restarted["input_series"]:
        if series["series"].startswith("redis_uptime_in_seconds{") and 'pod="rfr-sessions-0"' in series["series"]:
            series["values"] = f"60+60x{samples}"

    def run(group: dict, folder: Path) -> subprocess.CompletedProcess:
        folder.mkdir()
        (folder / "rules.yaml").write_text(files["rules.yaml"])
        (folder / "alerts.test.yaml").write_text(yaml.safe_dump({**tests, "tests": [group]}, sort_keys=False))
        return promtool("test", "rules", "alerts.test.yaml", cwd=folder)

    assert run(quiet, tmp_path / "quiet").returncode == 0
    control = run(restarted, tmp_path / "restarted")
    assert control.returncode != 0 and "RedisMasterLostKeys" in control.stdout + control.stderr


def mutants(rule: dict, name: str) -> dict[str, tuple[str, str]]:
    """Broken variants of an alert expression, and the case kind that must catch each."""
    expr = rule["expr"]
    other = re.sub(rf'\b(redisfailover|(?<!_)name)="{name}"', rf'\1="{name}-other"', expr)
    return {
        "scoped to the neighbour": (other, "other cluster"),
        "never fires": (f"({expr}) and on () (vector(0) > 1)", "fires"),
        "always fires": ("vector(1)", "healthy"),
    }


def test_each_case_catches_a_broken_alert(tmp_path):
    """Mutation test: for every alert, each kind of case fails on the mutant it exists to catch."""
    spec = load_example(SESSION)
    name = spec["metadata"]["name"]
    files = alert_tests(spec)
    groups = yaml.safe_load(files["rules.yaml"])["groups"]
    tests = yaml.safe_load(files["alerts.test.yaml"])
    jobs = []
    for group_index, group in enumerate(groups):
        for rule_index, rule in enumerate(group["rules"]):
            for mutation, (expr, kind) in mutants(rule, name).items():
                broken = copy.deepcopy(groups)
                broken[group_index]["rules"][rule_index]["expr"] = expr
                jobs.append((rule["alert"], mutation, kind, broken))
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(
            pool.map(
                lambda job: run_alert(tmp_path, f"{job[0]}-{job[1].replace(' ', '-')}", job[3], tests, job[0]), jobs
            )
        )
    survivors = []
    for (alert, mutation, kind, _), result in zip(jobs, results, strict=True):
        if result.returncode == 0 or f"{alert} | {kind} |" not in result.stdout + result.stderr:
            survivors.append(f"{alert}: {mutation}")
    assert survivors == []
    assert len(jobs) == 3 * len(catalogue.CATALOG)


def test_expected_annotations_match_prometheus_templating():
    assert (
        promtool_tests.expand("{{ $value | humanizePercentage }} {{ $labels.pod }} {{ $value }}", {"pod": "p"}, 0.9375)
        == "93.75% p 0.9375"
    )
    assert promtool_tests.expand("{{ $value }}", {}, 2.0) == "2"
    with pytest.raises(ValueError):
        promtool_tests.expand("{{ $value | humanize }}", {}, 1.0)


# -- Helm passes Prometheus templates through ----------------------------------------------------------------------


def test_prometheus_templates_reach_the_cluster_literally():
    stream = ckredis("render", "--stdout", str(SESSION)).stdout
    (rule,) = [doc for doc in documents(stream) if doc["kind"] == "PrometheusRule"]
    text = json.dumps(rule)
    assert "{{ $labels.pod }}" in text and '{{ "{{" }}' not in text
    on_disk = (chart(SESSION) / "templates" / "prometheusrule.yaml").read_text()
    assert '{{ "{{" }} $labels.pod }}' in on_disk


# -- container probes ------------------------------------------------------------------------------------------


def failover(spec: dict) -> dict:
    return yaml.safe_load(render.manifests(cluster_of(spec))["templates/redisfailover.yaml"])["spec"]


def probe_fields(part: dict) -> dict:
    return {key: value for key, value in part.items() if key.startswith("custom") and key.endswith("Probe")}


def test_container_probes_only_where_the_operator_takes_them(example):
    spec = load_example(example)
    version = validate_data(spec)["spec"]["operator"]["version"]
    for kind in ("redis", "sentinel"):
        fields = probe_fields(failover(spec)[kind])
        if version == "v1.2.4":
            assert fields == {}
        else:
            assert set(fields) == {"customLivenessProbe", "customReadinessProbe", "customStartupProbe"}


def test_container_probes_for_v1_2_4_are_a_located_error(tmp_path):
    source = next(p for p in EXAMPLES if p.stem == "shared-cache").read_text()
    assert "\n  monitoring:\n" in source
    text = source.replace("\n  monitoring:\n", "\n  monitoring:\n    containerProbes:\n      redis: {}\n", 1)
    spec = tmp_path / "old.yaml"
    spec.write_text(text)
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    line = text.splitlines().index("    containerProbes:") + 1
    assert result.stderr.startswith(f"{spec}:{line}:5: spec.monitoring.containerProbes: "), result.stderr
    assert "v1.2.4" in result.stderr and "v1.3.0-rc1 or freshworks-v3.3.5" in result.stderr


def test_probes_never_carry_a_password_and_keep_the_operator_semantics():
    spec = load_example(SESSION)  # auth is on
    cluster = cluster_of(spec)
    redis, sentinel = (probe_fields(failover(spec)[kind]) for kind in ("redis", "sentinel"))
    text = json.dumps([redis, sentinel])
    for secret in ("-a ", "--pass", "pingpass", "REDIS_PASSWORD", "AUTH "):
        assert secret not in text
    assert redis["customReadinessProbe"]["exec"]["command"] == ["/bin/sh", "/redis-readiness/ready.sh"]
    liveness = redis["customLivenessProbe"]["exec"]["command"][-1]
    assert "LOADING" in liveness and "PONG" in liveness and f"-p {cluster.redis.port}" in liveness
    ready = sentinel["customReadinessProbe"]["exec"]["command"][-1]
    assert f"get-master-addr-by-name {cluster.master_name}" in ready and "127.0.0.1|" in ready
    assert redis["customStartupProbe"]["failureThreshold"] * redis["customStartupProbe"]["periodSeconds"] == 300


def test_probe_timings_are_purpose_aware_and_configurable():
    cache_spec = load_example(next(p for p in EXAMPLES if p.stem == "cache"))
    assert probe_fields(failover(cache_spec)["redis"])["customLivenessProbe"]["failureThreshold"] == 3
    assert probe_fields(failover(load_example(SESSION))["redis"])["customLivenessProbe"]["failureThreshold"] == 6
    tuned = with_monitoring(cache_spec, containerProbes={"sentinel": {"readiness": {"periodSeconds": 3}}})
    assert probe_fields(failover(tuned)["sentinel"])["customReadinessProbe"]["periodSeconds"] == 3
    off = with_monitoring(cache_spec, containerProbes={"enabled": False})
    assert probe_fields(failover(off)["redis"]) == {}


SHELL_CASES = {
    # reply of redis-cli -> liveness verdict
    "PONG": 0,
    "LOADING Redis is loading the dataset in memory": 0,
    "NOAUTH Authentication required.": 0,
    "Could not connect to Redis at 127.0.0.1:6379: Connection refused": 1,
    "": 1,
    "MISCONF Redis is configured to save RDB snapshots": 1,
}


@pytest.mark.parametrize("reply", SHELL_CASES)
def test_the_redis_liveness_script_reads_the_reply(reply, tmp_path):
    """The probe script under sh, with a fake redis-cli that prints a reply and exits 0 (as redis-cli does)."""
    fake = tmp_path / "redis-cli"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{reply}'\nexit 0\n")
    fake.chmod(0o755)
    command = probe_fields(failover(load_example(SESSION))["redis"])["customLivenessProbe"]["exec"]["command"]
    result = subprocess.run(command, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, timeout=10)
    assert result.returncode == SHELL_CASES[reply]


@pytest.mark.parametrize(
    "reply,ready", [("10.0.0.7", 0), ("127.0.0.1", 1), ("", 1), ("ERR No such master with that name", 1)]
)
def test_the_sentinel_readiness_script_wants_a_real_master(reply, ready, tmp_path):
    fake = tmp_path / "redis-cli"
    fake.write_text(f"#!/bin/sh\nprintf '%s\\n' '{reply}' 6379\nexit 0\n")
    fake.chmod(0o755)
    command = probe_fields(failover(load_example(SESSION))["sentinel"])["customReadinessProbe"]["exec"]["command"]
    result = subprocess.run(command, env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, timeout=10)
    assert result.returncode == ready


# -- dashboard and runbooks ------------------------------------------------------------------------------------


def test_dashboard_configmap_is_optional_and_labelled():
    spec = load_example(SESSION)
    assert "ConfigMap" not in objects(spec)
    config_map = objects(with_monitoring(spec, dashboard={"enabled": True}))["ConfigMap"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    (text,) = config_map["data"].values()
    assert len(text) < 100_000
    kubernetes_validate.validate(config_map, "1.30.0", strict=True)
    files = render.render_chart(cluster_of(spec))
    assert json.loads(text) == json.loads(files["dashboards/redis-sessions.json"])


def test_dashboard_queries_are_valid_promql_scoped_to_the_cluster(example, tmp_path):
    cluster = cluster_of(load_example(example))
    board = dashboard.dashboard(cluster, catalogue.alert_settings(cluster.monitoring))
    assert len(board["uid"]) <= 40
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    assert len(exprs) >= 20
    record = [
        {"record": f"ckredis:panel_{number}", "expr": expr.replace("$__rate_interval", "5m").replace("$__range", "1h")}
        for number, expr in enumerate(exprs)
    ]
    path = tmp_path / "panels.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": record}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    for expr in exprs:
        for _metric, matchers in SELECTOR.findall(expr):
            assert f'name="{cluster.name}"' in matchers or f'redisfailover="{cluster.name}"' in matchers, expr


def test_each_alert_panel_draws_pieces_of_that_alerts_expression(example):
    """One record per alert: its panel's queries are parts of its rule's expr, and the dashboard shows them in catalogue
    order (disabled alerts too, so a cache still sees its memory), ahead of the context panels."""
    cluster = cluster_of(load_example(example))
    settings = catalogue.alert_settings(cluster.monitoring)
    scope = Scope.of(cluster)
    built = [
        definition.build(scope, settings[name])
        for name, definition in catalogue.CATALOG.items()
        if definition.applies(cluster.monitoring.facts)
    ]
    for alert in built:
        for expr, _ in alert.panel.targets:
            assert expr in alert.expr, (alert.name, expr)
    board = dashboard.dashboard(cluster, settings)
    shown = [tuple(target["expr"] for target in panel["targets"]) for panel in board["panels"]]
    assert shown[: len(built)] == [tuple(expr for expr, _ in alert.panel.targets) for alert in built]
    context = shown[len(built) :]
    assert context and not any(expr in alert.expr for exprs in context for expr in exprs for alert in built)


def test_every_alert_has_a_runbook():
    folder = REPO / "docs" / "runbooks"
    assert sorted(path.stem for path in folder.glob("*.md")) == sorted(catalogue.CATALOG)
    for name in catalogue.CATALOG:
        text = (folder / f"{name}.md").read_text()
        assert text.startswith(f"# {name}\n"), name
        for section in ("## Meaning", "## Impact", "## Confirm", "## Act"):
            assert section in text, (name, section)


# -- the probe scripts against real servers (both engines) ---------------------------------------------------------


def _serve(argv: Callable[[Path], list[str]], config: str, port: int, folder: Path) -> subprocess.Popen:
    """A server or Sentinel started as `argv(config file)`."""
    import redis as redis_py

    conf = folder / f"{port}.conf"
    conf.write_text(config)
    process = subprocess.Popen(argv(conf), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis_py.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    for _ in range(100):
        try:
            client.ping()
            return process
        except redis_py.exceptions.AuthenticationError:
            return process  # up, and wants a password
        except redis_py.exceptions.ConnectionError:
            time.sleep(0.05)
    process.kill()
    pytest.fail(f"{argv(conf)} did not start on {port}")


def _cli_path(folder: Path) -> str:
    """PATH for a probe: Debian's redis-cli, also under the name valkey-cli (the fork's Valkey mode calls that)."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "valkey-cli").symlink_to(tool("redis-cli"))
    return f"{bin_dir}:{Path(tool('redis-cli')).parent}:/usr/bin:/bin"


def _run(command: list[str], path: str) -> int:
    return subprocess.run(command, capture_output=True, timeout=10, env={"PATH": path}).returncode


def _engine_spec(engine) -> dict:
    return with_engine(load_example(SESSION), engine)


@pytest.mark.parametrize("password", [None, "s3cret"])
def test_redis_liveness_against_a_real_server(engine, password, tmp_path):
    port = free_port()
    spec = _engine_spec(engine)
    spec["spec"]["redis"]["port"] = port
    command = probe_fields(failover(spec)["redis"])["customLivenessProbe"]["exec"]["command"]
    path = _cli_path(tmp_path)
    assert _run(command, path) == 1, "nothing listens yet"
    config = f'bind 127.0.0.1\nport {port}\nsave ""\nappendonly no\ndir {tmp_path}\n'
    if password:
        config += f"requirepass {password}\n"
    server = _serve(lambda conf: [engine.server, str(conf)], config, port, tmp_path)
    try:
        assert _run(command, path) == 0  # PONG, or NOAUTH with a password: alive either way, and no password sent
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert _run(command, path) == 1


def test_sentinel_readiness_against_a_real_sentinel(engine, tmp_path):
    """Ready only when the sentinel knows a master that is not the operator's 127.0.0.1 placeholder."""
    port = free_port()
    spec = _engine_spec(engine)
    master = cluster_of(spec).master_name
    (command,) = [probe_fields(failover(spec)["sentinel"])["customReadinessProbe"]["exec"]["command"]]
    command = [part.replace("-p 26379", f"-p {port}") for part in command]  # the pod's port, here a free one
    path = _cli_path(tmp_path)
    base = f"bind 127.0.0.1\nport {port}\ndir {tmp_path}\n"
    sentinel = _serve(engine.sentinel, base, port, tmp_path)
    try:
        assert _run(command, path) == 1  # monitors nothing
        admin = [tool("redis-cli"), "-h", "127.0.0.1", "-p", str(port), "sentinel"]
        subprocess.run([*admin, "monitor", master, "127.0.0.1", "6399", "2"], check=True, capture_output=True)
        assert _run(command, path) == 1  # the placeholder master
        subprocess.run([*admin, "remove", master], check=True, capture_output=True)
        subprocess.run([*admin, "monitor", master, "127.0.0.2", "6399", "2"], check=True, capture_output=True)
        assert _run(command, path) == 0
    finally:
        sentinel.terminate()
        sentinel.wait(timeout=10)
