"""Fault injection: `ckredis render` of several specs SIGKILLed at random points, over and over.

Each trial forks a child that runs the real CLI (`render SPEC... -o OUT`) and kills it after a random delay
drawn over most of the span of a whole render, so kills land before, during and (a few) after the writes. The specs are
rendered once up front (the CLI's pipeline.render_spec is patched from outside to return them), so the
child's time is the write itself. After every kill:
- every chart is byte for byte the old or the new version (or absent, before its first write),
- `render --check` (the real CLI) exits 0 exactly when every chart is the wanted version and nothing is left
  over, and lists exactly the staging folders present and the files that differ;
and after the next render that runs to the end, no staging folder survives.
"""

from __future__ import annotations

import os
import random
import signal
import statistics
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ckredis import cli, pipeline
from conftest import EXAMPLES

pytestmark = pytest.mark.slow  # hundreds of trials: left out of the fast run (README, Test it)

KILLS = 120  # trials run until this many renders were killed...
MAX_TRIALS = 400  # ...or this many ran
SEED = 20261128


def _variant(tmp_path: Path, example: Path) -> Path:
    data = yaml.safe_load(example.read_text())
    data["spec"]["redis"].setdefault("config", {})["timeout"] = 299
    path = tmp_path / f"{example.stem}-new.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _tree(root: Path) -> dict[str, bytes]:
    return {path.relative_to(root).as_posix(): path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file()}


def _run_cli(args: list[str]) -> int:
    try:
        cli.app(args=args, prog_name="ckredis")
    except SystemExit as exit_:
        return exit_.code or 0
    return 0


def _spawn(args: list[str]) -> int:
    """Fork a child that runs the CLI with its output discarded; its PID."""
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        code = 70
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            code = _run_cli(args)
        finally:
            os._exit(code)
    return pid


def _reap(pid: int) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail("a render did not finish within 30 s")


def test_renders_killed_at_random_points_leave_whole_charts_and_check_agrees(tmp_path, monkeypatch):
    versions = {"old": EXAMPLES, "new": [_variant(tmp_path, example) for example in EXAMPLES]}
    rendered = {
        version: {item.source: item for item in pipeline.render_specs([str(p) for p in specs])}
        for version, specs in versions.items()
    }
    out = tmp_path / "out"
    trees = {
        version: {
            item.name: {path: text.encode() for path, text in item.chart_files(out / item.name).items()}
            for item in items.values()
        }
        for version, items in rendered.items()
    }
    names = sorted(trees["old"])
    assert all(trees["old"][name] != trees["new"][name] for name in names)
    prerendered = {source: item for items in rendered.values() for source, item in items.items()}
    monkeypatch.setattr(pipeline, "render_spec", lambda source, raw=None: prerendered[source])
    runner = CliRunner()

    def specs_for(wanted: dict[str, str]) -> list[str]:
        return [
            str(path)
            for version, paths in versions.items()
            for path in paths
            if wanted[rendered[version][str(path)].name] == version
        ]

    def check(wanted: dict[str, str]) -> None:
        present = {name: _tree(out / name) for name in names if (out / name).is_dir()}
        for name, tree in present.items():
            assert tree in (trees["old"][name], trees["new"][name]), f"{name} is neither the old nor the new chart"
        leftovers = sorted(entry for entry in os.listdir(out) if entry.startswith(".")) if out.exists() else []
        result = runner.invoke(cli.app, ["render", "--check", *specs_for(wanted), "-o", str(out)])
        behind = [name for name in names if present.get(name) != trees[wanted[name]][name]]
        assert result.exit_code == (1 if behind or leftovers else 0), result.output
        lines = result.stdout.splitlines()
        assert sorted(line.split("/")[-2] for line in lines if line.startswith("leftover:")) == leftovers
        assert (
            sorted(
                {
                    Path(line.removeprefix("stale: ")).relative_to(out).parts[0]
                    for line in lines
                    if line.startswith("stale:")
                }
            )
            == behind
        )

    chooser = random.Random(SEED)
    # Renders that run to the end, to time the span the kills are spread over.
    durations = []
    for version in ("old", "new", *[chooser.choice(["old", "new"]) for _ in range(5)]):
        started = time.monotonic()
        assert _reap(_spawn(["render", *specs_for(dict.fromkeys(names, version)), "-o", str(out)])) == 0
        durations.append(time.monotonic() - started)
    span = 0.8 * statistics.median(durations)  # most kills land before the render ends

    outcomes = {
        "finished": 0,
        "killed, no chart changed": 0,
        "killed, some charts changed": 0,
        "killed, all charts changed": 0,
    }
    left_behind = 0
    trial = 0
    while trial - outcomes["finished"] < KILLS and trial < MAX_TRIALS:
        wanted = {name: chooser.choice(["old", "new"]) for name in names}
        before = {name: _tree(out / name) for name in names}
        pid = _spawn(["render", *specs_for(wanted), "-o", str(out)])
        time.sleep(chooser.uniform(0, span))
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        code = _reap(pid)
        assert code in (0, -signal.SIGKILL), f"trial {trial}: the render failed with exit code {code}"
        after = {name: _tree(out / name) for name in names}
        changed = sum(after[name] != before[name] for name in names)
        to_change = sum(trees[wanted[name]][name] != before[name] for name in names)
        if code == 0:
            outcomes["finished"] += 1
            assert not [entry for entry in os.listdir(out) if entry.startswith(".")], "a finished render leaves nothing"
        else:
            outcomes[
                "killed, "
                + ("no chart" if not changed else "all charts" if changed == to_change else "some charts")
                + " changed"
            ] += 1
        left_behind += any(entry.startswith(".") for entry in os.listdir(out))
        check(wanted)
        current = {name: next(v for v in ("old", "new") if after[name] == trees[v][name]) for name in names}
        if trial % 5 == 4:  # the next render that runs to the end removes whatever kills left
            assert _reap(_spawn(["render", *specs_for(current), "-o", str(out)])) == 0
            assert os.listdir(out) and not [entry for entry in os.listdir(out) if entry.startswith(".")]
            check(current)
        trial += 1

    print(
        f"\n{trial} trials over a {span * 1000:.0f} ms span: {outcomes}; "
        f"{left_behind} left a staging folder for the next render"
    )
    assert sum(outcomes.values()) == trial
    assert trial - outcomes["finished"] >= 100, "fewer than 100 renders were killed"
    assert outcomes["killed, some charts changed"] + outcomes["killed, all charts changed"] > 0, (
        "no kill landed mid-write"
    )
    assert left_behind > 0, "no kill left a staging folder: the sweep was never exercised"
