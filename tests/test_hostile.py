"""Issue 18: nothing deleted, nothing forged, under hostile or careless input.

Each test names the item of the issue it covers; each failed on the code before its fix (see the commit messages).
Commands run as users run them, in a fresh process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from ckredis import write
from ckredis.errors import OutputError
from ckredis.pipeline import render_spec
from conftest import REPO, ckredis
from specs import full, get, put, string_paths

CACHE_SPEC = (REPO / "examples" / "cache.yaml").read_text()
SHARED_CACHE_SPEC = REPO / "examples" / "shared-cache.yaml"


def _rendered_output(tmp_path: Path) -> Path:
    """A work folder with specs/cache.yaml and its chart in out/cache, rendered by ckredis."""
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "cache.yaml").write_text(CACHE_SPEC)
    result = ckredis("render", "specs", "-o", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    return tmp_path


# ---------------------------------------------------------------- 1. discovery decides by parsing


def _as_json(text: str) -> str:
    return json.dumps(yaml.safe_load(text))


# A valid spec in the forms a byte regex for `^apiVersion: ckredis...` missed (name, bytes).
SPEC_FORMS = {
    "quoted key": ("cache.yaml", CACHE_SPEC.replace("\napiVersion:", "\n'apiVersion':")),
    "space before the colon": ("cache.yaml", CACHE_SPEC.replace("\napiVersion:", "\napiVersion :")),
    "JSON in a .json file": ("cache.json", _as_json(CACHE_SPEC)),
    "flow style, upper-case suffix": ("CACHE.YAML", _as_json(CACHE_SPEC)),
    "folded apiVersion": ("cache.yml", CACHE_SPEC.replace("\napiVersion: ", "\napiVersion: >-\n  ")),
    "after 64 KiB of comments": ("cache.yaml", "#" * 70_000 + "\n" + CACHE_SPEC),
    "kind before apiVersion": ("cache.yaml", "kind: RedisCluster\n" + CACHE_SPEC.replace("\nkind: RedisCluster", "")),
}


@pytest.mark.parametrize("form", SPEC_FORMS)
def test_item1_a_valid_spec_in_any_form_is_found_and_its_chart_is_never_pruned(tmp_path, form):
    work = _rendered_output(tmp_path)
    name, text = SPEC_FORMS[form]
    (work / "specs" / "cache.yaml").unlink()
    (work / "specs" / name).write_text(text)
    before = sorted(os.listdir(work / "out" / "cache"))
    pruned = ckredis("render", "--prune", "specs", "-o", "out", cwd=work)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout == "unchanged out/cache/\n"
    assert sorted(os.listdir(work / "out" / "cache")) == before
    assert ckredis("render", "--check", "specs", "-o", "out", cwd=work).returncode == 0


# Files meant as specs that ckredis cannot read: each is a located error, and nothing is pruned (name, bytes, where).
UNREADABLE_SPECS = {
    "UTF-16": ("cache.yaml", CACHE_SPEC.encode("utf-16"), "cache.yaml:1:1: (document): UTF-16 text"),
    "a typo in the group": (
        "cache.yaml",
        CACHE_SPEC.replace("elastisys.io", "elastisys.oi").encode(),
        "cache.yaml:3:13: apiVersion:",
    ),
    "broken YAML naming ckredis": (
        "cache.yaml",
        CACHE_SPEC.replace("  purpose: cache", "  purpose: [cache").encode(),
        "cache.yaml:",
    ),
    "a second document": ("cache.yaml", ("kind: ConfigMap\n---\n" + CACHE_SPEC).encode(), "cache.yaml:"),
    "a RedisCluster without apiVersion": (
        "cache.yaml",
        CACHE_SPEC.replace("apiVersion: ckredis.elastisys.io/v1alpha1\n", "").encode(),
        "cache.yaml:3:1: (document): missing required key 'apiVersion'",
    ),
    "larger than a spec may be": (
        "cache.yaml",
        (CACHE_SPEC + "#" * (1 << 20)).encode(),
        "cache.yaml:1:1: (document): larger",
    ),
}


@pytest.mark.parametrize("case", UNREADABLE_SPECS)
def test_item1_a_spec_ckredis_cannot_read_is_a_located_error_and_its_chart_stays(tmp_path, case):
    work = _rendered_output(tmp_path)
    name, raw, where = UNREADABLE_SPECS[case]
    (work / "specs" / "cache.yaml").unlink()
    (work / "specs" / "other.yaml").write_text(CACHE_SPEC.replace("name: cache", "name: other"))
    (work / "specs" / name).write_bytes(raw)
    before = write.existing_files(work / "out" / "cache")
    for command in (["render", "--prune"], ["render", "--check"], ["diff", "--orphans"]):
        result = ckredis(*command, "specs", "-o", "out", cwd=work)
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert result.stderr.startswith(f"specs/{where}"), result.stderr
    assert write.existing_files(work / "out" / "cache") == before


def test_item1_other_yaml_is_still_ignored_with_why(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "cache.yaml").write_text(CACHE_SPEC)
    (tmp_path / "specs" / "deployment.YML").write_text("apiVersion: apps/v1\nkind: Deployment\n")
    (tmp_path / "specs" / "other-operator.yaml").write_text(
        "apiVersion: redis.redis.opstreelabs.in/v1beta2\nkind: RedisCluster\nmetadata: {name: x}\n"
    )
    (tmp_path / "specs" / "package.json").write_text('{"name": "x", "description": "mentions ckredis"}')
    (tmp_path / "specs" / "chart-template.yaml").write_text("{{- if .Values.x }}\nkind: ConfigMap\n{{- end }}\n")
    result = ckredis("validate", "-v", "specs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "specs/cache.yaml: ok (redis-system/cache, cache)\n"
    assert sorted(line.split(":")[0] for line in result.stderr.splitlines()) == [
        "ignored specs/chart-template.yaml",
        "ignored specs/deployment.YML",
        "ignored specs/other-operator.yaml",
        "ignored specs/package.json",
    ]


# ---------------------------------------------------------------- 2. a file added during a write is kept


def _chart_files(spec_text: str, tmp_path: Path, chart_dir: Path) -> dict[str, str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text)
    return render_spec(str(spec)).chart_files(chart_dir)


def test_item2_a_file_added_between_staging_and_the_swap_is_kept_and_stops_the_write(tmp_path):
    work = _rendered_output(tmp_path)
    chart_dir = work / "out" / "cache"
    before = write.existing_files(chart_dir)
    files = _chart_files(
        CACHE_SPEC.replace("purpose: cache", "purpose: cache\n  sentinel: {replicas: 5}"), tmp_path, chart_dir
    )
    staged = write.stage_chart(files, chart_dir)  # a render checks the chart and stages the new one...
    (chart_dir / "templates" / "mine.yaml").write_text("kind: ConfigMap\n")  # ...someone adds a file meanwhile...
    with pytest.raises(
        OutputError,
        match=r"out/cache: holds files ckredis did not generate \(templates/mine.yaml\) "
        "that appeared while ckredis was writing it",
    ):
        write.commit(chart_dir.parent, [staged])  # ...and the swap, seconds later, must not take it away
    assert (chart_dir / "templates" / "mine.yaml").read_text() == "kind: ConfigMap\n"
    assert {
        path: content for path, content in write.existing_files(chart_dir).items() if path != "templates/mine.yaml"
    } == before
    assert not [entry for entry in os.listdir(chart_dir.parent) if entry.startswith(".")]


def test_item2_a_file_added_to_an_orphan_before_it_is_pruned_is_kept(tmp_path):
    work = _rendered_output(tmp_path)
    orphan = work / "out" / "cache"
    write.check_writable(orphan)  # --prune checks the orphan...
    (orphan / "notes.md").write_text("my notes\n")  # ...someone adds a file meanwhile...
    with pytest.raises(OutputError, match="notes.md"):
        write.remove_chart(orphan)  # ...and the removal must keep it
    assert (orphan / "notes.md").read_text() == "my notes\n"
    assert not [entry for entry in os.listdir(orphan.parent) if entry.startswith(".")]


def test_item2_a_leftover_staging_folder_with_a_foreign_file_is_not_swept(tmp_path):
    work = _rendered_output(tmp_path)
    leftover = work / "out" / ".cache.abcd1234.ckredis-tmp"
    shutil.copytree(work / "out" / "cache", leftover)
    (leftover / "mine.txt").write_text("mine\n")
    result = ckredis("render", "specs", "-o", "out", cwd=work)
    assert result.returncode == 2 and "mine.txt" in result.stderr, result.stderr
    assert (leftover / "mine.txt").read_text() == "mine\n"


# ---------------------------------------------------------------- 3. no control characters in, none printed raw

# YAML escapes of what a terminal or a renderer acts on: ESC (screen clearing), CR, NEL, LINE SEPARATOR,
# a bidi override.
UNSAFE = {"ESC": "\\e[2J", "CR": "\\r", "NEL": "\\N", "LS": "\\L", "RLO": "\\u202E", "DEL": "\\x7f", "C1 CSI": "\\x9b"}


def _with_text(field: str, text: str) -> str:
    spec = SHARED_CACHE_SPEC.read_text()
    if field == "alert label value":
        return spec.replace("        team: platform", f'        team: "plat{text}form"')
    if field == "multiTenant.reason":
        return spec.replace("reason: One team owns", f'reason: "One{text} team owns').replace(
            "within a minute.", 'within a minute."'
        )
    return spec.replace(
        "  monitoring:\n    alerts:\n",
        f'  monitoring:\n    alerts:\n      runbookBaseUrl: "https://runbooks.example.com/{text}x/"\n',
    )


@pytest.mark.parametrize("character", UNSAFE)
@pytest.mark.parametrize("field", ["alert label value", "multiTenant.reason", "runbookBaseUrl"])
def test_item3_control_and_line_separator_characters_are_a_located_error(tmp_path, field, character):
    spec = tmp_path / "spec.yaml"
    spec.write_text(_with_text(field, UNSAFE[character]))
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    line = next(number for number, text in enumerate(spec.read_text().splitlines(), 1) if UNSAFE[character] in text)
    assert re.match(rf"{re.escape(str(spec))}:{line}:\d+: \S+: .* holds the character U\+", result.stderr), (
        result.stderr
    )
    assert "\x1b" not in result.stderr and "\r" not in result.stderr


def test_item3_every_string_field_refuses_every_unsafe_character():
    from ckredis.validate import SpecError, validate_data

    refused, accepted = 0, []
    for path in string_paths(full()):
        for character in ("\x1b", "\r", "\x85", "\u2028", "\u202e", "\x9b", "\u2066"):
            data = full()
            value = get(data, path)
            put(data, path, value[:1] + character + value[1:])
            try:
                validate_data(data)
                accepted.append((path, character))
            except SpecError:
                refused += 1
    assert not accepted
    assert refused >= 7 * 40  # the full spec has that many string fields: the loop really ran


def test_item3_the_schema_patterns_refuse_unsafe_characters_as_editors_read_them():
    # Editors validate with the schema alone: every free-text pattern must refuse them too, not only ckredis' rules.
    schema = json.loads((REPO / "schemas" / "ckredis-spec.schema.json").read_text())
    labels = schema["$defs"]["alertLabels"]["additionalProperties"]
    validator = jsonschema.Draft202012Validator(labels)
    assert validator.is_valid("payments")
    assert not [c for c in ("\x1b", "\r", "\x85", "\u2028", "\u202e") if validator.is_valid(f"pay{c}ments")]


def test_item3_a_committed_chart_with_terminal_escapes_is_shown_escaped_by_diff(tmp_path):
    work = _rendered_output(tmp_path)
    notes = work / "out" / "cache" / "templates" / "NOTES.txt"
    notes.write_text(notes.read_text() + "\x1b[2J\x1b[Hall clear\r\u2028\u202e\n")
    for output_format in ("text", "markdown", "json"):
        result = ckredis("diff", "specs", "-o", "out", "--format", output_format, cwd=work)
        assert result.returncode == 1, result.stderr
        assert not re.search("[\x1b\r\u2028\u202e]", result.stdout), output_format
        assert "\\u001b[2J" in result.stdout, output_format
    assert json.loads(ckredis("diff", "specs", "-o", "out", "--format", "json", cwd=work).stdout)["changed"]


def test_item7_a_file_name_with_a_newline_is_printed_escaped_and_cannot_forge_a_line(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "a: ok\nforged.yaml").write_text(CACHE_SPEC)
    result = ckredis("validate", "specs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "specs/a: ok\\nforged.yaml: ok (redis-system/cache, cache)\n"
    rendered = ckredis("render", "specs", "-o", "out\x1b[2J", cwd=tmp_path)
    assert rendered.stdout == "wrote out\\u001b[2J/cache/ (18 files)\n", rendered.stdout


# ---------------------------------------------------------------- 5. the cache holds data, trusted only when it is ours


def _cache_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


@pytest.fixture
def cached(tmp_path, monkeypatch) -> Path:
    """specs/{cache,session}.yaml rendered into out/, with a cache of its own in cache/."""
    monkeypatch.setenv("CKREDIS_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "specs").mkdir()
    for example in ("cache", "session"):
        shutil.copy(REPO / "examples" / f"{example}.yaml", tmp_path / "specs" / f"{example}.yaml")
    assert ckredis("render", "specs", "-o", "out", cwd=tmp_path).returncode == 0
    return tmp_path


def _entry_of(work: Path, spec: str) -> Path:
    from ckredis import cache

    return cache.folder() / (key := cache.key(spec, (work / spec).read_bytes()))[:2] / key


def test_item5_the_cache_holds_no_code_only_entries_of_this_user(cached):
    files = _cache_files(cached / "cache")
    assert len(files) == 2  # one entry per spec, and no compiled templates (code) beside them
    for path in files:
        assert re.fullmatch("[0-9a-f]{64}", path.name) and path.parent.name == path.name[:2]
        assert json.loads(path.read_text())["name"] in ("cache", "sessions")
        assert path.stat().st_mode & 0o077 == 0


def test_item5_no_cache_means_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CKREDIS_CACHE_DIR", str(tmp_path / "cache"))
    for command in (
        ["render", "-o", "out"],
        ["render", "--check", "-o", "out"],
        ["diff", "-o", "out"],
        ["validate"],
        ["render", "--stdout"],
    ):
        result = ckredis(*command, "--no-cache", str(REPO / "examples" / "cache.yaml"), cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        assert not (tmp_path / "cache").exists(), command


MALFORMED_ENTRIES = {
    "not JSON": "{",
    "a list": "[]",
    "a name that is a number": {"name": 5},
    "a one-number position": {"name_position": [1]},
    "a line that is text": {
        "warnings": [
            {"line": "x", "column": 1, "path": "", "message": "m", "hint": "", "source": "s", "severity": "warning"}
        ]
    },
    "charts as a list": {"charts": []},
    "objects of two parts": {"objects": [["Secret", "x"]]},
    "an unknown field": {"extra": 1},
    "deeply nested": "[" * 100_000 + "]" * 100_000,
}


@pytest.mark.parametrize("damage", MALFORMED_ENTRIES)
def test_item5_a_malformed_entry_never_crashes_and_is_rendered_as_usual(cached, damage):
    entry = _entry_of(cached, "specs/cache.yaml")
    change = MALFORMED_ENTRIES[damage]
    entry.write_text(change if isinstance(change, str) else json.dumps({**json.loads(entry.read_text()), **change}))
    for command in (["render", "--check"], ["diff"], ["render", "--prune"]):
        result = ckredis(*command, "specs", "-o", "out", cwd=cached)
        assert result.returncode == 0, (command, result.stdout, result.stderr)


def test_item5_an_entry_cannot_name_a_chart_its_spec_does_not_render(cached):
    # A hand-made entry for cache.yaml claiming the chart `sessions` (whose digest matches the disk) must not make
    # --prune keep `sessions` and remove `cache`, the chart cache.yaml really renders.
    session = json.loads(_entry_of(cached, "specs/session.yaml").read_text())
    _entry_of(cached, "specs/cache.yaml").write_text(json.dumps(session))
    shutil.move(cached / "specs" / "session.yaml", cached / "session.yaml")
    result = ckredis("render", "--prune", "specs", "-o", "out", cwd=cached)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "unchanged out/cache/\npruned out/sessions/ (no spec renders it)\n"
    assert sorted(os.listdir(cached / "out")) == ["cache"]


@pytest.mark.parametrize("writer", ["group-writable", "another user's"])
def test_item5_an_entry_others_could_write_cannot_make_a_stale_chart_pass(cached, writer):
    from ckredis import cache

    chart = cached / "out" / "cache"
    (chart / "templates" / "redisfailover.yaml").write_text("# Generated by ckredis\nstale\n")
    entry_path = _entry_of(cached, "specs/cache.yaml")
    entry = json.loads(entry_path.read_text())
    entry["charts"] = {location: cache.chart_digest(write.existing_files(chart)) for location in entry["charts"]}
    entry_path.write_text(json.dumps(entry))  # as the stale chart's own digest: an entry that lies
    if writer == "group-writable":
        entry_path.chmod(0o664)
    else:
        if os.geteuid() != 0:
            pytest.skip("only root can give a file to another user")  # CI runs as root
        os.chown(entry_path, 65534, 65534)
    result = ckredis("render", "--check", "specs", "-o", "out", cwd=cached)
    assert result.returncode == 1 and result.stdout == "stale: out/cache/templates/redisfailover.yaml\n", result.stdout


def test_cache_prune_removes_entries_unused_for_days_and_a_hit_counts_as_use(cached):
    old = time.time() - 40 * 86400
    cache_entry, session_entry = _entry_of(cached, "specs/cache.yaml"), _entry_of(cached, "specs/session.yaml")
    for entry in (cache_entry, session_entry):
        os.utime(entry, (old, old))
    (cached / "cache" / "notes.txt").write_text("not ckredis's\n")
    assert ckredis("validate", "specs/cache.yaml", cwd=cached).returncode == 0  # answered from the cache: a use
    result = ckredis("cache", "prune", "--older-than", "30", cwd=cached)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("removed 1 cache file(s) (1 KiB) unused for 30 days; kept 1 in ")
    assert cache_entry.exists() and not session_entry.exists() and not session_entry.parent.exists()
    assert (cached / "cache" / "notes.txt").exists()
    assert ckredis("cache", "prune", "--older-than", "0", cwd=cached).stdout.startswith("removed 1 cache file(s)")


# ---------------------------------------------------------------- 6. the Argo CD plugin reads only the app's specs


@pytest.mark.parametrize(
    "specs",
    [
        "../other/cache.yaml",
        "/etc",
        "./../other",
        "*.yaml",
        "--help",
        "prod/../../other",
        "linked",
        "linked/cache.yaml",
        "notes.txt",
        "cache.yaml -v",
    ],
)
def test_item6_the_argocd_plugin_refuses_specs_outside_the_application_path(tmp_path, specs):
    from test_gitops import generate

    app, other = tmp_path / "app", tmp_path / "other"
    (app / "prod").mkdir(parents=True)
    other.mkdir()
    shutil.copy(REPO / "examples" / "cache.yaml", app / "cache.yaml")
    shutil.copy(REPO / "examples" / "session.yaml", app / "prod" / "session.yaml")
    shutil.copy(REPO / "examples" / "session.yaml", other / "cache.yaml")
    (app / "linked").symlink_to(other, target_is_directory=True)
    (app / "notes.txt").write_text(CACHE_SPEC)
    result = generate(app, ARGOCD_ENV_CKREDIS_SPECS=specs)
    assert (result.returncode, result.stdout) == (2, ""), result.stdout
    assert result.stderr.startswith("CKREDIS_SPECS: "), result.stderr
    allowed = generate(app, ARGOCD_ENV_CKREDIS_SPECS="cache.yaml prod")  # what it may read, it reads
    assert [
        item["metadata"]["name"]
        for item in yaml.safe_load_all(allowed.stdout)
        if item and item["kind"] == "RedisFailover"
    ] == ["cache", "sessions"], allowed.stderr


# ---------------------------------------------------------------- 7. the smaller ones


def test_item7_a_fifo_named_like_a_spec_does_not_hang_discovery(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "cache.yaml").write_text(CACHE_SPEC)
    os.mkfifo(tmp_path / "specs" / "pipe.yaml")  # nothing ever writes to it: opening it for reading would wait
    result = ckredis("validate", "-v", "specs", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "ignored specs/pipe.yaml: not a regular file\n"


@pytest.mark.parametrize("command", [["render", "--check"], ["render", "--prune"], ["diff", "--orphans"]])
def test_item7_an_unreadable_chart_folder_is_a_located_error_not_a_crash_nor_skipped(tmp_path, command):
    work = _rendered_output(tmp_path)
    (work / "other.yaml").write_text(CACHE_SPEC.replace("name: cache", "name: other"))
    (work / "out" / "cache").chmod(0)
    try:
        result = ckredis(*command, "other.yaml", "-o", "out", cwd=work, obey_file_modes=True)  # root reads any folder
    finally:
        (work / "out" / "cache").chmod(0o755)
    assert (result.returncode, result.stdout) == (2, ""), (result.stdout, result.stderr)
    assert result.stderr == "out/cache: cannot read: Permission denied\n"
    assert sorted(os.listdir(work / "out")) == ["cache"]


def test_item7_an_internal_error_exits_70_never_1_or_2(tmp_path):
    shutil.copy(REPO / "examples" / "cache.yaml", tmp_path / "cache.yaml")
    inject = (
        "import sys\nfrom ckredis import runs, cli\n"
        "def broken(*args, **kwargs):\n    raise RuntimeError('a bug')\n"
        "runs.check = broken\nsys.argv = ['ckredis', 'render', '--check', 'cache.yaml']\ncli.main()\n"
    )
    result = subprocess.run([sys.executable, "-c", inject], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 70
    assert result.stderr.splitlines()[-1] == (
        "ckredis 0.1.0: internal error (RuntimeError: a bug); this is a bug in "
        "ckredis, please report it with the command line and the traceback above"
    )


def test_item7_diff_answers_unchanged_specs_from_the_cache(cached, monkeypatch):
    from ckredis import discover, pipeline, runs

    def no_render(*args, **kwargs):
        raise AssertionError("rendered although the cache knows the chart is unchanged")

    monkeypatch.chdir(cached)
    monkeypatch.setattr(pipeline, "render_spec", no_render)
    comparison = runs.diff(discover.discover(["specs"]), Path("out"), orphans=True, options=runs.Options(jobs=1))
    assert [(review.chart, review.status) for review in comparison.reviews] == [
        ("cache", "unchanged"),
        ("sessions", "unchanged"),
    ]


def test_item7_a_pipe_in_runbook_base_url_is_refused_and_its_encoding_keeps_the_readme_table(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(_with_text("runbookBaseUrl", "a|b"))
    refused = ckredis("validate", str(spec))
    assert refused.returncode == 2 and "percent-encoding" in refused.stderr and "'|'" in refused.stderr
    spec.write_text(_with_text("runbookBaseUrl", "a%7Cb"))
    assert ckredis("render", str(spec), "-o", str(tmp_path / "out")).returncode == 0
    readme = (tmp_path / "out" / "shared-cache" / "README.md").read_text()
    rows = [line for line in readme.splitlines() if "a%7Cbx/" in line]
    header = next(line for line in readme.splitlines() if line.startswith("|") and "Alert" in line)
    assert rows and all(re.subn(r"(?<!\\)\|", "", row)[1] == header.count("|") for row in rows)


# ---------------------------------------------------------------- 4. the pull-request comment cannot be forged


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_item4_nothing_in_the_charts_can_close_the_fence_or_open_html_in_the_comment(tmp_path):
    from markdown_it import MarkdownIt

    forged = "~~~~~~~~~~ ```````` </details><details><summary>all fine</summary>"
    spec = SHARED_CACHE_SPEC.read_text().replace("        team: platform", f'        team: "{forged}"')
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "shared-cache.yaml").write_text(spec)
    assert ckredis("render", "specs", "-o", "out", cwd=tmp_path).returncode == 0
    notes = tmp_path / "out" / "shared-cache" / "templates" / "NOTES.txt"
    # A committed chart edited by hand (or by an earlier, unchecked ckredis): a CR starts a line for Markdown.
    notes.write_text(notes.read_text() + "done\r~~~~~~~~~~~~~~~~\r</details>\n")
    policy = (
        tmp_path / "out" / "shared-cache" / "templates" / "networkpolicy-redis-system-shared-cache-default-deny.yaml"
    )
    policy.write_text(
        policy.read_text().replace(
            "name: shared-cache-default-deny", 'name: "x</details><b>y|z [link](https://x.example) `a`"', 1
        )
    )
    (tmp_path / "specs" / "shared-cache.yaml").write_text(
        spec.replace(
            "  monitoring:\n    alerts:\n",
            "  monitoring:\n    alerts:\n      rules:\n        RedisMetricsMissing: {for: 11m}\n",
        )
    )
    result = ckredis("diff", "specs", "-o", "out", "--format", "markdown", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    tokens = MarkdownIt("commonmark").enable("table").parse(result.stdout)  # GitHub's Markdown: CommonMark, tables
    fences = [token for token in tokens if token.type == "fence"]
    assert len(fences) == 1 and fences[0].info == "diff"
    assert "\n             team: " + forged + "\n" in fences[0].content  # a context line: ' ~~~' closed the old fence
    assert "\n-~~~~~~~~~~~~~~~~\\r\n-</details>\n" in fences[0].content
    html = [token.content.strip() for token in tokens if token.type == "html_block"]
    assert html == [
        f"<details><summary>Unified diff ({fences[0].content.count(chr(10))} lines)</summary>",
        "</details>",
    ]
    inline_html = [
        child
        for token in tokens
        if token.type == "inline"
        for child in token.children or []
        if child.type in ("html_inline", "link_open", "code_inline") and child.content != "shared-cache"
    ]
    assert inline_html == []  # shown as text: no HTML, link or code from a name in a committed chart
    removed = [
        token.content
        for token in tokens
        if token.type == "inline"
        and "default-deny" not in token.content
        and token.content.startswith("NetworkPolicy redis-system/x")
    ]
    # One cell (the '|' did not split it; the table parser drops its backslash), every other character escaped.
    assert removed == ["NetworkPolicy redis-system/x\\</details\\>\\<b\\>y|z \\[link\\](https://x.example) \\`a\\`"]


def test_item4_the_comment_stays_below_githubs_limit_and_says_what_it_left_out(tmp_path):
    work = _rendered_output(tmp_path)
    for number in range(40):  # 40 committed charts that no spec renders any more: all removed, all in the comment
        shutil.copytree(work / "out" / "cache", work / "out" / f"old-{number:02}-\U0001f600")
    result = ckredis("diff", "--orphans", "--format", "markdown", "specs", "-o", "out", cwd=work)
    assert result.returncode == 1, result.stderr
    assert _utf16_length(result.stdout) < 65_536
    assert "**This comment is cut** to stay below GitHub's limit of 65,536 characters: " in result.stdout
    shown = re.findall(r"^#### `(.*)` \(removed\)$", result.stdout, re.MULTILINE)
    assert 5 < len(shown) < 40 and f"{len(shown)} of 40 changed charts are shown" in result.stdout
    assert result.stdout.count("<details>") == result.stdout.count("</details>") == len(shown)


def test_item3_names_from_committed_charts_cannot_start_a_line_of_diff_text(tmp_path):
    work = _rendered_output(tmp_path)
    shutil.copytree(work / "out" / "cache", work / "out" / "gone\n== cache: unchanged")  # an orphan's folder name
    policy = work / "out" / "cache" / "templates" / "networkpolicy-redis-system-cache-default-deny.yaml"
    policy.write_text(policy.read_text().replace("name: cache-default-deny", 'name: "x\\nobject forged: added"', 1))
    result = ckredis("diff", "--orphans", "specs", "-o", "out", cwd=work)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "== cache: changed" in lines and "== gone\\n== cache: unchanged: removed" in lines
    assert "object NetworkPolicy redis-system/x\\nobject forged: added: removed" in lines
    assert "== cache: unchanged" not in lines and not [line for line in lines if line.startswith("object forged")]


def test_item7_a_cpu_number_with_a_long_exponent_is_no_crash(tmp_path):
    # Found by test_properties' mutations: a CPU written as a YAML number passes the schema,
    # and the rules crashed on it.
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        CACHE_SPEC.replace("requests: {cpu: 100m,", "requests: {cpu: 5.0e-324,").replace(
            "limits: {memory: 256Mi}", "limits: {memory: 256Mi, cpu: 1.0e-300}"
        )
    )
    assert "5.0e-324" in spec.read_text() and "1.0e-300" in spec.read_text()
    result = ckredis("validate", str(spec))
    assert result.returncode == 0, result.stderr


def test_item5_a_read_only_cache_still_answers(cached, monkeypatch):
    # An entry's modification time records its use (for `cache prune`); a cache that refuses it is still used.
    from ckredis import discover, pipeline, runs

    def no_render(*args, **kwargs):
        raise AssertionError("rendered although the cache knows the chart is unchanged")

    refused = []

    def read_only(*args, **kwargs):
        refused.append(args)
        raise PermissionError(30, "Read-only file system")

    monkeypatch.chdir(cached)
    monkeypatch.setattr(pipeline, "render_spec", no_render)
    monkeypatch.setattr(os, "utime", read_only)
    checked = runs.check(discover.discover(["specs"]), Path("out"), runs.Options(jobs=1))
    assert not checked.findings and len(refused) == 2
