"""Fleets: directories of specs, clashes between specs, parallel runs, the cache of unchanged specs, progress and
JSON reports. Every command runs as users run it, in a fresh process."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from ckredis import clashes, progress
from ckredis.pipeline import render_spec
from conftest import EXAMPLES, REPO, ckredis

sys.path.insert(0, str(REPO / "bench"))
from fleet import write_fleet  # noqa: E402  the benchmark's own generator: plausible, varied specs

HARBOR = "  images:\n    registry: harbor.example.com/proxy\n"


def _spec(name: str, namespace: str = "redis-system", clients: list[dict] | None = None) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "ckredis.elastisys.io/v1alpha1",
            "kind": "RedisCluster",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {
                "purpose": "cache",
                "images": {"registry": "harbor.example.com/proxy"},
                "redis": {"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}}},
                "clients": clients or [{"namespace": "shop", "podSelector": {"app": name}}],
            },
        },
        sort_keys=False,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


# ---------------------------------------------------------------- directories


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A GitOps repository: specs in nested folders beside YAML that is not ckredis's."""
    (tmp_path / "specs" / "team-a").mkdir(parents=True)
    (tmp_path / "specs" / "team-b" / "deep").mkdir(parents=True)
    (tmp_path / "specs" / "team-a" / "cache.yaml").write_text(_spec("a-cache"))
    (tmp_path / "specs" / "team-b" / "deep" / "sessions.yml").write_text(_spec("b-sessions", "redis-b"))
    (tmp_path / "specs" / "team-a" / "deployment.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (tmp_path / "specs" / "kustomization.yaml").write_text("resources: [team-a]\n# ckredis.elastisys.io is mentioned\n")
    (tmp_path / "specs" / "notes.txt").write_text(_spec("not-yaml-suffix"))
    (tmp_path / "specs" / ".hidden").mkdir()
    (tmp_path / "specs" / ".hidden" / "old.yaml").write_text(_spec("hidden"))
    return tmp_path


def test_a_directory_renders_every_spec_in_it_and_ignores_other_yaml(repo):
    result = ckredis("render", "specs", "-o", "charts", "-v", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert sorted(os.listdir(repo / "charts")) == ["a-cache", "b-sessions"]
    ignored = [line for line in result.stderr.splitlines() if line.startswith("ignored ")]
    assert ignored == [
        "ignored specs/kustomization.yaml: no top-level apiVersion: ckredis.elastisys.io/...",
        "ignored specs/team-a/deployment.yaml: no top-level apiVersion: ckredis.elastisys.io/...",
    ]
    quiet = ckredis("render", "specs", "-o", "charts", cwd=repo)
    assert quiet.returncode == 0 and "ignored" not in quiet.stderr


def test_directories_and_files_mix_and_a_spec_named_twice_is_read_once(repo):
    result = ckredis("validate", "specs", "specs/team-a/cache.yaml", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "specs/team-a/cache.yaml: ok (redis-system/a-cache, cache)",
        "specs/team-b/deep/sessions.yml: ok (redis-b/b-sessions, cache)",
    ]


def test_a_spec_is_found_however_it_starts_and_read_once_however_it_is_named(repo):
    cache = repo / "specs" / "team-a" / "cache.yaml"
    cache.write_bytes(b"\xef\xbb\xbf" + cache.read_bytes())  # a byte order mark, as some editors save
    (repo / "specs" / "alias.yaml").symlink_to(cache)
    result = ckredis("validate", "./specs/team-a/cache.yaml", "specs", str(cache), cwd=repo)
    assert result.returncode == 0, result.stderr
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        "./specs/team-a/cache.yaml",
        "specs/team-b/deep/sessions.yml",
    ]


def test_an_unreadable_folder_in_a_search_is_an_error_not_a_silent_skip(repo):
    locked = repo / "specs" / "team-b"
    locked.chmod(0)
    try:
        result = ckredis("validate", "specs", cwd=repo, obey_file_modes=True)  # root reads any folder
    finally:
        locked.chmod(0o755)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr == "specs/team-b:1:1: (document): cannot read this directory: Permission denied\n"


def test_a_directory_without_specs_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "other.yaml").write_text("kind: ConfigMap\n")
    result = ckredis("render", str(tmp_path / "empty"), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'empty'}:1:1: (document): no ckredis spec in this directory")
    assert not (tmp_path / "out").exists()


def test_a_spec_for_another_version_in_a_directory_is_a_located_error(repo):
    (repo / "specs" / "team-a" / "future.yaml").write_text(_spec("future").replace("v1alpha1", "v2"))
    result = ckredis("validate", "specs", cwd=repo)
    assert result.returncode == 2
    assert result.stderr.startswith("specs/team-a/future.yaml:1:13: apiVersion:"), result.stderr


def test_a_symlink_loop_is_not_followed(repo):
    (repo / "specs" / "team-a" / "loop").symlink_to(repo / "specs", target_is_directory=True)
    result = ckredis("validate", "specs", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


# ---------------------------------------------------------------- clashes


def test_two_specs_with_one_name_are_an_error_in_both_files_and_nothing_is_written(tmp_path):
    (tmp_path / "one.yaml").write_text(_spec("cache"))
    (tmp_path / "two.yaml").write_text(
        _spec("cache", "redis-other", [{"namespace": "shop", "podSelector": {"a": "b"}}])
    )
    result = ckredis("render", "one.yaml", "two.yaml", "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert (
        lines[0].startswith("one.yaml:4:9: metadata.name: 'cache' is the cluster name in both")
        and "(with two.yaml)" in lines[0]
    )
    assert (
        lines[1].startswith("two.yaml:4:9: metadata.name: 'cache' is the cluster name in both")
        and "(with one.yaml)" in lines[1]
    )
    assert not (tmp_path / "out").exists()


def test_two_clusters_writing_one_client_object_are_an_error_naming_it(tmp_path):
    client = [{"namespace": "shop", "podSelector": {"app": "web"}, "connectionName": "redis"}]
    (tmp_path / "one.yaml").write_text(_spec("one", clients=client))
    (tmp_path / "two.yaml").write_text(_spec("two", clients=client))
    result = ckredis("validate", "one.yaml", "two.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "both render the NetworkPolicy shop/redis-egress" in result.stderr
    assert any(
        line.startswith("one.yaml:") and "(with two.yaml)" in line and "clients[].connectionName" in line
        for line in result.stderr.splitlines()
    )


def test_the_header_scan_finds_the_objects_a_yaml_parser_finds():
    specs = [str(path) for path in EXAMPLES]
    for item in map(render_spec, specs):
        parsed = sorted(
            (doc["kind"], doc["metadata"].get("namespace", ""), doc["metadata"]["name"])
            for text in item.manifests.values()
            for doc in yaml.safe_load_all(text)
            if doc
        )
        assert list(clashes.objects_of(item.manifests.values())) == parsed, item.source


# ---------------------------------------------------------------- parallel runs


def test_any_number_of_jobs_writes_the_same_charts_and_messages(tmp_path):
    write_fleet(tmp_path / "specs", 40)
    (tmp_path / "specs" / "team-3" / "broken.yaml").write_text(_spec("broken").replace("cpu: 100m", "cpu: lots"))
    runs = {
        jobs: ckredis("render", "specs", "-o", f"out-{jobs}", "--jobs", str(jobs), "--no-cache", cwd=tmp_path)
        for jobs in (1, 2)
    }
    assert runs[1].returncode == runs[2].returncode == 2
    assert runs[1].stderr == runs[2].stderr and "broken.yaml" in runs[1].stderr
    (tmp_path / "specs" / "team-3" / "broken.yaml").unlink()
    runs = {
        jobs: ckredis("render", "specs", "-o", f"out-{jobs}", "--jobs", str(jobs), "--no-cache", cwd=tmp_path)
        for jobs in (1, 2)
    }
    assert runs[1].returncode == runs[2].returncode == 0, runs[2].stderr
    assert runs[1].stdout.replace("out-1", "out-N") == runs[2].stdout.replace("out-2", "out-N")
    assert runs[1].stderr == runs[2].stderr
    # The chart READMEs name their own directory (and so the chart versions differ); the rest is byte for byte the same.
    one, two = _tree(tmp_path / "out-1"), _tree(tmp_path / "out-2")
    assert one.keys() == two.keys() and len(one) > 40 * 12
    assert all(one[path] == two[path].replace(b"out-2", b"out-1") for path in one if not path.endswith("/Chart.yaml"))


def test_one_invalid_spec_in_a_fleet_leaves_every_chart_as_it_was(tmp_path):
    write_fleet(tmp_path / "specs", 20)
    assert ckredis("render", "specs", "-o", "out", cwd=tmp_path).returncode == 0
    before = _tree(tmp_path / "out")
    for path in (tmp_path / "specs").rglob("*.yaml"):
        path.write_text(path.read_text().replace("cpu: 100m", "cpu: 200m"))
    (tmp_path / "specs" / "team-0" / "redis-00000.yaml").write_text(
        "apiVersion: ckredis.elastisys.io/v1alpha1\nkind: [\n"
    )
    result = ckredis("render", "specs", "-o", "out", "--jobs", "2", cwd=tmp_path)
    assert result.returncode == 2 and "redis-00000.yaml:3:1:" in result.stderr
    assert _tree(tmp_path / "out") == before
    assert [entry for entry in os.listdir(tmp_path / "out") if entry.startswith(".")] == []


# ---------------------------------------------------------------- the cache of unchanged specs


@pytest.fixture
def rendered(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("CKREDIS_CACHE_DIR", str(tmp_path / "cache"))
    for example in EXAMPLES:
        shutil.copy(example, tmp_path / example.name)
    assert ckredis("render", ".", "-o", "out", cwd=tmp_path).returncode == 0
    assert any((tmp_path / "cache").rglob("*")), "the render recorded nothing in the cache"
    return tmp_path


@pytest.mark.parametrize("damage", ["edit", "delete", "add"])
def test_a_chart_changed_by_hand_is_stale_although_its_spec_is_cached(rendered, damage):
    chart = rendered / "out" / "cache"
    target = chart / "templates" / "redisfailover.yaml"
    if damage == "edit":
        target.write_text(target.read_text().replace("replicas: 3", "replicas: 2", 1))
    elif damage == "delete":
        target.unlink()
    else:
        (chart / "templates" / "extra.yaml").write_text("# Generated by ckredis\n")
    stale = ["extra.yaml"] if damage == "add" else ["redisfailover.yaml"]
    for cache_option in ([], ["--no-cache"]):
        result = ckredis("render", "--check", ".", "-o", "out", *cache_option, cwd=rendered)
        assert result.returncode == 1
        assert result.stdout.splitlines() == [f"stale: out/cache/templates/{name}" for name in stale]
    assert ckredis("render", ".", "-o", "out", cwd=rendered).stdout.startswith("wrote out/cache/")


def test_a_cache_hit_repeats_the_warnings_and_the_clash_checks(rendered):
    (rendered / "cache.yaml").write_text((rendered / "cache.yaml").read_text().replace(HARBOR, ""))
    first = ckredis("render", ".", "-o", "out", cwd=rendered)
    again = ckredis("render", "--check", ".", "-o", "out", cwd=rendered)
    assert "warning: images are pulled from docker.io" in first.stderr
    assert again.returncode == 0 and again.stderr == first.stderr
    # Each spec alone is fine; together, from the cache, they clash.
    (rendered / "twin").mkdir()
    (rendered / "twin" / "cache.yaml").write_text((rendered / "cache.yaml").read_text())
    assert ckredis("render", "twin", "-o", "out", cwd=rendered).returncode == 0
    both = ckredis("render", "--check", "cache.yaml", "twin/cache.yaml", "-o", "out", cwd=rendered)
    assert both.returncode == 2 and "'cache' is the cluster name in both" in both.stderr


@pytest.mark.parametrize("broken", ["a file", "folders that refuse files"])
def test_an_unwritable_cache_only_costs_speed(tmp_path, monkeypatch, broken):
    # The folders exist but nothing can be created in them (as in a read-only image): /proc/self takes no new files.
    if broken == "a file":
        (tmp_path / "cache").write_text("not a directory")
    else:
        (tmp_path / "cache").mkdir()
        for folder in (f"{prefix:02x}" for prefix in range(256)):
            (tmp_path / "cache" / folder).symlink_to("/proc/self", target_is_directory=True)
    monkeypatch.setenv("CKREDIS_CACHE_DIR", str(tmp_path / "cache"))
    for _ in range(2):
        result = ckredis("render", str(EXAMPLES[0]), "-o", str(tmp_path / "out"))
        assert result.returncode == 0 and result.stderr == "", result.stderr
        stream = ckredis("render", "--stdout", str(EXAMPLES[0]))
        assert stream.returncode == 0 and stream.stderr == "", stream.stderr


# ---------------------------------------------------------------- reports for scripts and people


def test_validate_json_reports_specs_warnings_problems_and_ignored_files(repo):
    (repo / "specs" / "team-a" / "cache.yaml").write_text(_spec("a-cache").replace(HARBOR, ""))
    result = ckredis("validate", "--format", "json", "specs", cwd=repo)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["ok"] is True and report["problems"] == []
    assert [spec["name"] for spec in report["specs"]] == ["a-cache", "b-sessions"]
    assert report["specs"][0]["warnings"][0]["path"] == "spec.images.registry"
    assert {item["path"] for item in report["ignored"]} == {"specs/kustomization.yaml", "specs/team-a/deployment.yaml"}
    (repo / "specs" / "team-a" / "cache.yaml").write_text("apiVersion: ckredis.elastisys.io/v1alpha1\nkind: Nope\n")
    broken = ckredis("validate", "--format", "json", "specs", cwd=repo)
    report = json.loads(broken.stdout)
    assert broken.returncode == 2 and report["ok"] is False and broken.stderr == ""
    assert {problem["source"] for problem in report["problems"]} == {"specs/team-a/cache.yaml"}
    assert [spec["name"] for spec in report["specs"]] == ["b-sessions"]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_bar_appears_only_on_a_terminal_outside_ci_after_a_second(monkeypatch):
    clock = iter([0.0, 0.5, 1.5, 1.6, 2.0, 2.0])
    monkeypatch.setattr(progress, "monotonic", lambda: next(clock))
    monkeypatch.delenv("CI", raising=False)
    terminal = _Terminal()
    bar = progress.Progress("rendering", 3, terminal)
    bar.advance()
    assert terminal.getvalue() == ""  # under a second: nothing drawn
    bar.advance()
    bar.advance()
    assert terminal.getvalue().endswith("rendering 3/3 [" + "#" * 30 + "]")
    bar.close()
    assert terminal.getvalue().endswith("\r\x1b[2K")
    monkeypatch.setenv("CI", "true")
    assert not progress.Progress("rendering", 3, _Terminal()).enabled
    monkeypatch.delenv("CI")
    assert not progress.Progress("rendering", 3, io.StringIO()).enabled
