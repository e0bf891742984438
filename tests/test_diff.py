"""`ckredis diff` through the real CLI: real edits of the example specs against the committed charts in output/."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from ckredis import memory
from ckredis.facts import PURPOSES
from conftest import REPO, ckredis

OUTPUT = REPO / "output"


def edited(tmp_path: Path, example: str, edit) -> Path:
    """A copy of examples/<example>.yaml with `edit(spec)` applied (the spec dict is changed in place)."""
    spec = yaml.safe_load((REPO / "examples" / f"{example}.yaml").read_text())
    edit(spec)
    path = tmp_path / f"{example}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def diff(*args: str) -> tuple[int, str, str]:
    result = ckredis("diff", *args)
    return result.returncode, result.stdout, result.stderr


def lines_starting(text: str, prefix: str) -> list[str]:
    return [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]


def test_no_change_exits_0(tmp_path):
    code, out, err = diff(*(str(path) for path in sorted((REPO / "examples").glob("*.yaml"))), "-o", str(OUTPUT))
    assert (code, err) == (0, "")
    assert out == (
        "== cache: unchanged\n== checkout-sessions: unchanged\n== sessions: unchanged\n"
        "== shared-cache: unchanged\n== valkey-cluster: unchanged\n"
    )


def test_memory_change_rolls_redis_and_sets_maxmemory_live(tmp_path):
    def more_memory(spec):
        spec["spec"]["redis"]["resources"]["limits"]["memory"] = "512Mi"
        spec["spec"]["redis"]["resources"]["requests"]["memory"] = "512Mi"

    code, out, err = diff(str(edited(tmp_path, "cache", more_memory)), "-o", str(OUTPUT))
    assert (code, err) == (1, "")
    impact = lines_starting(out, "impact: ")
    assert impact[0].startswith("rolls every Redis pod (command, resources changed)")
    assert "up to 3 failovers" in impact[0]
    before, after = (
        memory.budget(limit, PURPOSES["cache"].write_rate, "redis", persists=False) for limit in ("256Mi", "512Mi")
    )
    assert impact[1].startswith("redis config client-output-buffer-limit replica ")
    assert f"maxmemory {before.maxmemory} → {after.maxmemory}, repl-backlog-size " in impact[1]
    assert impact[1].endswith(
        ": applied live by the operator with CONFIG SET at its next reconcile (within 30 s), "
        "and at start-up by the rolled pods"
    )
    assert not any("Sentinel pods" in line for line in impact)
    assert lines_starting(out, "object ") == [
        "PrometheusRule redis-system/redis-cache: changed",
        "RedisFailover redis-system/cache: changed",
    ]
    # the alert's threshold is the pod's memory limit in bytes
    assert lines_starting(out, "alert ") == ["RedisMemoryNearPodLimit: threshold 268435456 → 536870912"]
    assert lines_starting(out, "flow ") == []
    assert f"-      - maxmemory {before.maxmemory}\n" in out and f"+      - maxmemory {after.maxmemory}\n" in out
    assert "--- a/cache/templates/redisfailover.yaml\n" in out


def test_removed_client_removes_its_flows_and_its_connection_object(tmp_path):
    def drop_reports(spec):
        spec["spec"]["clients"] = [c for c in spec["spec"]["clients"] if c["namespace"] != "reports"]

    code, out, _ = diff(str(edited(tmp_path, "shared-cache", drop_reports)), "-o", str(OUTPUT))
    assert code == 1
    flows = lines_starting(out, "flow ")
    assert "reports/app.kubernetes.io/component=renderer,app.kubernetes.io/name=reports → redis 6379: removed" in flows
    assert (
        "reports/app.kubernetes.io/component=renderer,app.kubernetes.io/name=reports "
        "→ kube-system/kube-dns 53/UDP, 53/TCP: removed" in flows
    )
    assert (
        "reports/app.kubernetes.io/component=renderer,app.kubernetes.io/name=reports → sentinel 26379: removed" in flows
    )
    assert all(line.endswith(": removed") and line.startswith("reports/") for line in flows)
    objects = lines_starting(out, "object ")
    assert "ConfigMap reports/redis-shared-cache: removed" in objects
    assert "NetworkPolicy reports/redis-shared-cache-egress: removed" in objects
    assert lines_starting(out, "impact: ") == [
        "ConfigMap reports/redis-shared-cache is removed: client pods that read it fail to start on their next restart"
    ]


def test_pvc_growth_needs_volume_expansion_and_shrinking_cannot_be_applied(tmp_path):
    grow = edited(tmp_path, "session", lambda spec: spec["spec"]["persistence"].update(size="8Gi"))
    code, out, _ = diff(str(grow), "-o", str(OUTPUT))
    assert code == 1
    impact = lines_starting(out, "impact: ")
    assert impact[0].startswith("PVC size 4Gi → 8Gi: the operator cannot resize the StatefulSet's volumeClaimTemplates")
    assert "allowVolumeExpansion: true" in impact[0]
    assert not any("rolls every Redis pod" in line for line in impact)  # storage is not in the pod template

    shrink = edited(tmp_path, "session", lambda spec: spec["spec"]["persistence"].update(size="2Gi"))
    impact = lines_starting(diff(str(shrink), "-o", str(OUTPUT))[1], "impact: ")
    assert impact[0].startswith("cannot be applied in place: PVC size 4Gi → 2Gi; volumes never shrink")

    klass = edited(tmp_path, "session", lambda spec: spec["spec"]["persistence"].update(storageClassName="fast"))
    impact = lines_starting(diff(str(klass), "-o", str(OUTPUT))[1], "impact: ")
    assert impact[0].startswith("cannot be applied in place: storage class standard-rwo → fast")


def test_purpose_change_turns_eviction_on_and_persistence_off(tmp_path):
    def to_cache(spec):
        spec["spec"]["purpose"] = "cache"
        del spec["spec"]["persistence"]
        del spec["spec"]["redis"]["config"]["appendfsync"]

    code, out, _ = diff(str(edited(tmp_path, "session", to_cache)), "-o", str(OUTPUT))
    assert code == 1
    impact = lines_starting(out, "impact: ")
    assert impact[:3] == [
        "turns eviction on for data that was persisted: maxmemory-policy noeviction → allkeys-lru; "
        "keys are deleted when memory is full",
        "turns persistence off: appendonly yes → no; a restarted pod loses what it held",
        "turns persistence off: the PVC is removed from the RedisFailover, so data no longer survives pod "
        "restarts (existing PVCs are not deleted by this change)",
    ]
    assert any(line.startswith("rolls every Redis pod") for line in impact)
    assert "RedisPersistenceFailing: removed" in lines_starting(out, "alert ")


def test_alert_for_change_is_named_with_old_and_new(tmp_path):
    def slower(spec):
        spec["spec"]["monitoring"]["alerts"]["rules"] = {"RedisDown": {"for": "5m", "severity": "critical"}}

    code, out, _ = diff(str(edited(tmp_path, "shared-cache", slower)), "-o", str(OUTPUT))
    assert code == 1
    assert lines_starting(out, "alert ") == ["RedisDown: for 2m → 5m, severity high → critical"]
    assert lines_starting(out, "impact: ") == []  # monitoring only: no pod, data or client impact
    assert lines_starting(out, "object ") == ["PrometheusRule redis-system/redis-shared-cache: changed"]


def test_markdown_puts_impact_first_then_a_table_then_the_collapsed_diff(tmp_path):
    spec = edited(tmp_path, "session", lambda s: s["spec"]["persistence"].update(size="8Gi"))
    code, out, _ = diff(str(spec), "-o", str(OUTPUT), "--format", "markdown")
    assert code == 1
    impact, table, details = out.index("**Impact**"), out.index("| | What | Change |"), out.index("<details>")
    assert impact < table < details
    assert "- PVC size 4Gi → 8Gi" in out
    assert "| object | RedisFailover redis-system/sessions | changed |" in out
    assert out.rstrip().endswith("</details>")
    assert "+              storage: 8Gi" in out


def test_json_for_scripts(tmp_path):
    spec = edited(tmp_path, "cache", lambda s: s["spec"]["clients"].clear())
    code, out, _ = diff(str(spec), "-o", str(OUTPUT), "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["changed"] is True
    [chart] = report["charts"]
    assert chart["chart"] == "cache" and chart["status"] == "changed"
    assert "shop/shop-web → redis 6379" in chart["flows"]["removed"]
    assert chart["diff"].startswith("--- a/cache/")


def test_new_chart_and_removed_chart(tmp_path):
    output = tmp_path / "output"
    shutil.copytree(OUTPUT / "cache", output / "cache")
    shutil.copytree(OUTPUT / "sessions", output / "old-sessions")
    renamed = edited(tmp_path, "cache", lambda s: s["metadata"].update(name="cache2"))
    code, out, _ = diff(str(renamed), "-o", str(output), "--orphans", "--format", "json")
    assert code == 1
    charts = {chart["chart"]: chart for chart in json.loads(out)["charts"]}
    assert {name: chart["status"] for name, chart in charts.items()} == {
        "cache2": "added",
        "cache": "removed",
        "old-sessions": "removed",
    }
    assert "RedisFailover redis-system/cache2" in charts["cache2"]["objects"]["added"]
    assert charts["cache2"]["diff"].count("--- /dev/null") == len(list((OUTPUT / "cache").rglob("*.*")))
    assert charts["old-sessions"]["impact"][0].startswith("the RedisFailover is deleted")
    assert "(the PVCs stay: keepAfterDeletion)" in charts["old-sessions"]["impact"][0]


def test_invalid_spec_exits_2_with_a_located_error(tmp_path):
    spec = edited(tmp_path, "cache", lambda s: s["spec"].update(purpose="archive"))
    code, out, err = diff(str(spec), "-o", str(OUTPUT))
    assert (code, out) == (2, "")
    assert err.startswith(f"{spec}:") and "spec.purpose" in err


def test_unknown_format_is_a_usage_error():
    code, _, err = diff(str(REPO / "examples" / "cache.yaml"), "--format", "html")
    assert code == 2 and "--format" in err


def test_sentinel_settings_apply_live_and_sentinel_resources_roll_only_sentinels(tmp_path):
    def sentinel_changes(spec):
        spec["spec"]["sentinel"]["config"]["failoverTimeout"] = 60000

    code, out, _ = diff(str(edited(tmp_path, "session", sentinel_changes)), "-o", str(OUTPUT))
    assert code == 1
    assert lines_starting(out, "impact: ") == [
        "sentinel config failover-timeout 30000 → 60000: applied live by the operator with SENTINEL SET at "
        "its next reconcile (within 30 s), no restart"
    ]

    def sentinel_memory(spec):
        spec["spec"]["sentinel"]["resources"] = {
            "requests": {"cpu": "20m", "memory": "64Mi"},
            "limits": {"memory": "64Mi"},
        }

    impact = lines_starting(diff(str(edited(tmp_path, "session", sentinel_memory)), "-o", str(OUTPUT))[1], "impact: ")
    assert [line.split(":")[0] for line in impact] == ["rolls the Sentinel pods (resources changed)"]


def test_a_session_store_s_down_after_moves_its_write_fence_and_rolls_redis(tmp_path):
    """min-replicas-max-lag is derived from down-after-milliseconds (model.WriteFence) and is in the redis command."""

    def later_failover(spec):
        spec["spec"]["sentinel"]["config"]["downAfterMilliseconds"] = 10000

    impact = lines_starting(diff(str(edited(tmp_path, "session", later_failover)), "-o", str(OUTPUT))[1], "impact: ")
    assert impact[0].startswith("rolls every Redis pod (command changed)")
    assert any(line.startswith("redis config min-replicas-max-lag 2 → 7: applied live") for line in impact)
    assert any(line.startswith("sentinel config down-after-milliseconds 5000 → 10000: applied live") for line in impact)


def test_password_secret_change_rolls_redis_and_warns_about_the_mix(tmp_path):
    spec = edited(tmp_path, "session", lambda s: s["spec"]["auth"].update(secretPath="sessions-redis-auth-2"))
    impact = lines_starting(diff(str(spec), "-o", str(OUTPUT))[1], "impact: ")
    assert impact[0].startswith("rolls every Redis pod (auth (REDIS_PASSWORD env) changed)")
    assert impact[1].startswith("password Secret sessions-redis-auth → sessions-redis-auth-2: ")


def test_markdown_stays_within_a_pull_request_comment(tmp_path):
    """A new chart is a diff of every file (hundreds of KB): the comment folds in what fits and says the rest."""
    renamed = edited(tmp_path, "shared-cache", lambda s: s["metadata"].update(name="shared-cache-2"))
    code, out, _ = diff(str(renamed), "-o", str(OUTPUT), "--format", "markdown")
    assert code == 1
    assert len(out) < 65_536
    assert "more lines: run `ckredis diff` to see them)" in out
    assert out.rstrip().endswith("</details>")


def test_a_hand_broken_committed_chart_is_a_located_error(tmp_path):
    output = tmp_path / "output"
    shutil.copytree(OUTPUT / "cache", output / "cache")
    (output / "cache" / "templates" / "probe.yaml").write_text("kind: Probe\nspec: [unclosed\n")
    code, out, err = diff(str(REPO / "examples" / "cache.yaml"), "-o", str(output))
    assert (code, out) == (2, "")
    assert err.startswith(f"{output}/cache/templates/probe.yaml:3:1: the committed chart is not valid YAML")


def test_an_engine_change_says_what_rolls_which_data_loads_and_what_clients_do(tmp_path):
    def to_valkey(spec):
        spec["spec"]["engine"] = "valkey"

    code, out, _ = diff(str(edited(tmp_path, "cache", to_valkey)), "-o", str(OUTPUT))
    assert code == 1
    impact = lines_starting(out, "impact: ")
    assert impact[0].startswith(
        "engine Redis → Valkey: every Redis and Sentinel pod rolls onto the new image. "
        "Valkey loads the RDB/AOF files of Redis 7.2.16"
    )
    assert impact[0].endswith(
        "clients must restart to read the new connection keys, as the old ones go: set "
        "connection.keys: both first and move the applications one at a time"
    )
    assert any(line.startswith("clients must restart to pick up Secret shop/redis-cache") for line in impact)

    def to_valkey_with_both_keys(spec):
        spec["spec"]["engine"] = "valkey"
        spec["spec"]["connection"] = {"keys": "both"}

    _, out, _ = diff(str(edited(tmp_path, "cache", to_valkey_with_both_keys)), "-o", str(OUTPUT))
    assert lines_starting(out, "impact: ")[0].endswith("clients keep their connection keys (both key sets are emitted)")


def test_redis_7_4_or_valkey_going_back_to_redis_is_not_a_rolling_change(tmp_path):
    def newer_redis_to_valkey(spec):
        spec["spec"]["engine"] = "valkey"

    committed = tmp_path / "committed"
    shutil.copytree(OUTPUT / "cache", committed / "cache")
    failover = committed / "cache" / "templates" / "redisfailover.yaml"
    failover.write_text(failover.read_text().replace("library/redis:7.2.16-alpine", "library/redis:7.4.11-alpine"))
    _, out, _ = diff(str(edited(tmp_path, "cache", newer_redis_to_valkey)), "-o", str(committed))
    assert (
        "Valkey loads RDB/AOF files only from Redis 7.2 or older, not from Redis 7.4.11: the rolled pods start "
        "empty" in lines_starting(out, "impact: ")[0]
    )

    def back_to_redis(spec):
        spec["spec"]["engine"] = "redis"

    _, out, _ = diff(str(edited(tmp_path, "welkin-valkey", back_to_redis)), "-o", str(OUTPUT))
    first = lines_starting(out, "impact: ")[0]
    assert first.startswith(
        "engine Valkey → Redis: every Redis and Sentinel pod rolls onto the new image. Redis "
        "cannot load Valkey's RDB/AOF files (signed VALKEY080)"
    )
    assert "do not switch back in place" in first
    # the access label changes with the engine: the flows show the pods that lose access
    assert any(
        "elastisys.io/valkey-valkey-cluster-access=allow" in line and line.endswith(": removed")
        for line in lines_starting(out, "flow ")
    )
