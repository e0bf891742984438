"""Safe writes (ckredis/write.py) through the real CLI: atomic replacement, refusal to delete what ckredis
did not generate, untouched unchanged charts, `--check`.

Failures and kills are injected from the outside: a small driver process patches ckredis.write (never the
production code) and then runs the real CLI, so a SIGKILL lands at an exact, known point of the write.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ckredis import write
from ckredis.errors import OutputError
from ckredis.facts import MARKER
from ckredis.pipeline import render_specs
from conftest import REPO, ckredis

EXAMPLES_DIR = REPO / "examples"
STAGING = re.compile(r"\.(?P<chart>[a-z0-9-]+)\..+\.ckredis-tmp")

# Runs the real CLI after patching ckredis.write: `DRIVER ACTION N ckredis-args...`.
#   fail-files N   _write_file raises ENOSPC once N files are written
#   pause-files N  once N files are written, print PAUSED and wait (to be killed, or resumed by a line on stdin)
#   pause-fsync N  once N syncs are done (0: every file written, before the swap; 1: after the swap)
DRIVER = r"""
import errno, select, sys
from ckredis import write
from ckredis.cli import main

action, limit = sys.argv[1], int(sys.argv[2])
del sys.argv[1:3]
sys.argv[0] = "ckredis"
calls = {"files": 0, "fsync": 0}

def pause():
    print("PAUSED", flush=True)
    select.select([sys.stdin], [], [], 120)

def patched(name, original):
    def run(*args):
        if calls[name] == limit:
            if action.startswith("fail-"):
                raise OSError(errno.ENOSPC, "No space left on device")
            pause()
        calls[name] += 1
        return original(*args)
    return run

kind = action.split("-", 1)[1]
if kind == "files":
    write._write_file = patched("files", write._write_file)
else:  # the sync of the staged files, then that of the output directory, counted together
    write._sync_files = patched("fsync", write._sync_files)
    write._fsync = patched("fsync", write._fsync)
main()
"""


# ---------------------------------------------------------------- helpers


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path (read independently of ckredis.write); symlinks as '-> target'."""
    found = {}
    for directory, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(directory, d))]:
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            if path.is_symlink():
                found[relative] = f"-> {os.readlink(path)}".encode()
            else:  # never open a fifo: it would block
                found[relative] = (
                    path.read_bytes() if path.is_file() else f"({stat.filemode(path.lstat().st_mode)})".encode()
                )
    return found


def stats(root: Path) -> dict[str, tuple[int, int, int]]:
    """(inode, mtime_ns, mode) of root and everything under it: a rewrite changes inodes even within one mtime tick."""
    found = {".": _stat(root)}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(directory, name)
            found[path.relative_to(root).as_posix()] = _stat(path)
    return found


def _stat(path: Path) -> tuple[int, int, int]:
    info = path.lstat()
    return info.st_ino, info.st_mtime_ns, info.st_mode


def rendered_bytes(spec: Path, output: Path) -> dict[str, bytes]:
    """The chart as `ckredis render SPEC -o output` writes it (its README names where it lives)."""
    (item,) = render_specs([str(spec)])
    return {path: text.encode() for path, text in item.chart_files(output / item.name).items()}


def spec_variant(tmp_path: Path, example: str, name: str, change) -> Path:
    """A copy of an example spec with `change(spec)` applied."""
    data = yaml.safe_load((EXAMPLES_DIR / f"{example}.yaml").read_text())
    change(data["spec"])
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def longer_timeout(spec: dict) -> None:
    spec["redis"].setdefault("config", {})["timeout"] = 300


def visible_entries(out: Path) -> set[str]:
    return {entry.name for entry in out.iterdir() if not entry.name.startswith(".")}


def driver(action: str, limit: int, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, action, str(limit), *args],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_when_paused(process: subprocess.Popen) -> None:
    """Wait for the driver to reach its pause point, then SIGKILL it there (as the OOM killer or a node loss would)."""
    try:
        line = process.stdout.readline()
        if line == "PAUSED\n":
            os.kill(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=10)
        assert line == "PAUSED\n", f"the driver never reached its pause point: {line!r} {process.stderr.read()}"
        assert process.returncode == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            stream.close()


@pytest.fixture
def cache_specs(tmp_path) -> tuple[Path, Path]:
    """The cache example (old) and the same cluster with a changed Redis timeout (new)."""
    return EXAMPLES_DIR / "cache.yaml", spec_variant(tmp_path, "cache", "cache-new.yaml", longer_timeout)


# ---------------------------------------------------------------- atomic replacement


@pytest.mark.parametrize(
    "target, after", [("_write_file", 0), ("_write_file", 1), ("_write_file", -1), ("_sync_files", 0), ("_exchange", 0)]
)
def test_a_failure_mid_write_leaves_the_previous_chart_byte_for_byte(tmp_path, monkeypatch, cache_specs, target, after):
    old, new = cache_specs
    out = tmp_path / "out"
    write.write_chart(render_specs([str(old)])[0].files, out / "cache")
    before, before_stats = snapshot(out / "cache"), stats(out / "cache")
    files = render_specs([str(new)])[0].files
    limit = after % len(files) if target == "_write_file" else after
    original, calls = getattr(write, target), []

    def failing(*args):
        if len(calls) == limit:
            raise OSError(errno.ENOSPC, "No space left on device")
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(write, target, failing)
    with pytest.raises(OutputError, match="cannot write the charts?: No space left on device"):
        write.write_chart(files, out / "cache")
    assert snapshot(out / "cache") == before
    assert stats(out / "cache") == before_stats
    assert sorted(entry.name for entry in out.iterdir()) == ["cache"], "the staging directory must be removed"


def test_a_failed_first_write_creates_no_chart(tmp_path, monkeypatch, cache_specs):
    out = tmp_path / "out"
    monkeypatch.setattr(write, "_write_file", lambda path, text: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error")))
    with pytest.raises(OutputError, match="I/O error"):
        write.write_chart(render_specs([str(cache_specs[0])])[0].files, out / "cache")
    assert list(out.iterdir()) == []


def test_disk_full_through_the_cli_is_exit_2_and_keeps_the_chart(tmp_path, cache_specs):
    old, new = cache_specs
    out = tmp_path / "out"
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    before = snapshot(out / "cache")
    result = driver("fail-files", 3, "render", str(new), "-o", str(out)).communicate(timeout=60)
    stdout, stderr = result
    assert "Traceback" not in stderr
    assert stderr.strip() == f"{out / 'cache'}: cannot write the chart: No space left on device"
    assert stdout == ""
    assert snapshot(out / "cache") == before
    assert os.listdir(out) == ["cache"]


@pytest.mark.parametrize(
    "action, limit, survivor",
    [
        ("pause-files", 0, "old"),  # staging created, no file written yet
        ("pause-files", 4, "old"),  # some files written
        ("pause-fsync", 0, "old"),  # every file written, just before the swap
        ("pause-fsync", 1, "new"),  # just after the swap, before the old chart is removed
    ],
)
def test_sigkill_mid_write_leaves_one_whole_chart(tmp_path, cache_specs, action, limit, survivor):
    old, new = cache_specs
    out = tmp_path / "out"
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    before, wanted = snapshot(out / "cache"), rendered_bytes(new, out)
    assert before == rendered_bytes(old, out) != wanted

    kill_when_paused(driver(action, limit, "render", str(new), "-o", str(out)))

    assert snapshot(out / "cache") == (before if survivor == "old" else wanted), "a kill must leave one whole chart"
    assert visible_entries(out) == {"cache"}, "nothing but charts may be visible in the output directory"
    leftovers = [entry.name for entry in out.iterdir() if entry.name.startswith(".")]
    assert len(leftovers) == 1 and STAGING.fullmatch(leftovers[0])["chart"] == "cache", leftovers

    check = ckredis("render", "--check", str(new), "-o", str(out))
    assert check.returncode == 1, check.stdout + check.stderr
    assert f"leftover: {out / leftovers[0]}/" in check.stdout.splitlines()[-1], "--check reports the staging folder"
    assert any(line.startswith("stale: ") for line in check.stdout.splitlines()) == (survivor == "old")
    recovered = ckredis("render", str(new), "-o", str(out))
    assert recovered.returncode == 0, recovered.stderr
    assert f"removed {out / leftovers[0]}/" in recovered.stdout
    assert snapshot(out / "cache") == wanted
    assert os.listdir(out) == ["cache"], "the next render removes the staging folder"
    assert ckredis("render", "--check", str(new), "-o", str(out)).returncode == 0


def test_sigkill_during_a_first_write_leaves_no_chart(tmp_path, cache_specs):
    out = tmp_path / "out"
    kill_when_paused(driver("pause-fsync", 0, "render", str(cache_specs[0]), "-o", str(out)))
    assert visible_entries(out) == set()
    assert ckredis("render", str(cache_specs[0]), "-o", str(out)).returncode == 0
    assert snapshot(out / "cache") == rendered_bytes(cache_specs[0], out)


# ---------------------------------------------------------------- what ckredis did not generate


@pytest.mark.parametrize("spec", sorted(EXAMPLES_DIR.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_generated_file_is_recognised_as_generated(tmp_path, spec):
    # write.py tells its own files from a user's by the marker near their start; a generated file without
    # it would make every later render of a changed spec refuse to replace the chart.
    (item,) = render_specs([str(spec)])
    write.write_chart(item.files, tmp_path / item.name)
    assert write.foreign_files(tmp_path / item.name) == [], f"generated files without the {MARKER!r} marker"


def _refused(result: subprocess.CompletedProcess, chart: Path, *names: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"{chart}: holds files ckredis did not generate" in result.stderr
    for name in names:
        assert name in result.stderr
    assert "wrote" not in result.stdout


@pytest.mark.parametrize("plant", ["file", "symlink", "fifo", "top-level"])
def test_a_foreign_file_stops_the_write_and_nothing_changes(tmp_path, cache_specs, plant):
    old, new = cache_specs
    out = tmp_path / "out"
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    chart = out / "cache"
    name = {
        "file": "templates/extra.yaml",
        "symlink": "templates/link.yaml",
        "fifo": "templates/pipe",
        "top-level": "my-notes.txt",
    }[plant]
    if plant == "symlink":  # even one pointing at a generated file: ckredis never wrote a symlink
        (chart / name).symlink_to("redisfailover.yaml")
    elif plant == "fifo":
        os.mkfifo(chart / name)
    else:
        (chart / name).write_text("kubectl apply notes\n")
    before, before_stats = snapshot(chart), stats(chart)

    _refused(ckredis("render", str(new), "-o", str(out)), chart, name)
    assert snapshot(chart) == before
    assert stats(chart) == before_stats
    assert os.listdir(out) == ["cache"]


def test_a_foreign_file_in_one_chart_stops_every_chart_of_the_run(tmp_path):
    out = tmp_path / "out"
    session = EXAMPLES_DIR / "session.yaml"
    assert ckredis("render", str(session), "-o", str(out)).returncode == 0
    (out / "sessions" / "backup.sh").write_text("#!/bin/sh\n")
    before = snapshot(out)
    # cache comes first and is new: it must not be written either.
    _refused(
        ckredis("render", str(EXAMPLES_DIR / "cache.yaml"), str(session), "-o", str(out)), out / "sessions", "backup.sh"
    )
    assert snapshot(out) == before
    assert os.listdir(out) == ["sessions"]


def test_removing_a_client_removes_its_generated_files(tmp_path):
    out = tmp_path / "out"
    full = EXAMPLES_DIR / "shared-cache.yaml"
    fewer = spec_variant(
        tmp_path,
        "shared-cache",
        "fewer.yaml",
        lambda spec: spec.update(clients=[c for c in spec["clients"] if c["namespace"] != "search"]),
    )
    assert ckredis("render", str(full), "-o", str(out)).returncode == 0
    gone = "templates/connection-search-redis-shared-cache.yaml"
    assert gone in snapshot(out / "shared-cache")

    result = ckredis("render", str(fewer), "-o", str(out))
    assert result.returncode == 0, result.stderr
    after = snapshot(out / "shared-cache")
    assert after == rendered_bytes(fewer, out)
    assert gone not in after
    assert not any("search" in path for path in after), "every file generated for the removed client goes"
    assert "templates/connection-catalog-redis-shared-cache.yaml" in after


# ---------------------------------------------------------------- unchanged charts and --check


def test_an_unchanged_render_touches_nothing(tmp_path):
    out = tmp_path / "out"
    spec = EXAMPLES_DIR / "session.yaml"
    first = ckredis("render", str(spec), "-o", str(out))
    assert first.returncode == 0 and first.stdout.startswith(f"wrote {out / 'sessions'}/")
    before, before_stats, out_stat = snapshot(out), stats(out / "sessions"), _stat(out)

    again = ckredis("render", str(spec), "-o", str(out))
    assert again.returncode == 0
    assert again.stdout.startswith(f"unchanged {out / 'sessions'}/")
    assert snapshot(out) == before
    assert stats(out / "sessions") == before_stats, "inode, mtime or mode changed"
    assert _stat(out) == out_stat, "no staging directory may even be created"


def test_a_chart_directory_is_as_readable_as_any_new_directory(tmp_path):
    out = tmp_path / "out"
    assert ckredis("render", str(EXAMPLES_DIR / "cache.yaml"), "-o", str(out)).returncode == 0
    (tmp_path / "probe").mkdir()  # what the umask gives a new directory (0755 under the usual 022)
    assert stat.S_IMODE((out / "cache").stat().st_mode) == stat.S_IMODE((tmp_path / "probe").stat().st_mode)


def test_check_lists_exactly_the_stale_files_and_writes_nothing(tmp_path):
    out = tmp_path / "out"
    old = EXAMPLES_DIR / "shared-cache.yaml"

    def change(spec: dict) -> None:
        spec["redis"]["config"]["timeout"] = 300  # changes the RedisFailover
        spec["clients"] = [c for c in spec["clients"] if c["namespace"] != "search"]  # deletes files
        spec["clients"].append({"namespace": "billing", "podSelector": {"app": "billing"}})  # adds files

    new = spec_variant(tmp_path, "shared-cache", "changed.yaml", change)
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    before, before_stats = snapshot(out), stats(out)
    old_files, new_files = rendered_bytes(old, out), rendered_bytes(new, out)
    stale = sorted(path for path in old_files.keys() | new_files.keys() if old_files.get(path) != new_files.get(path))
    assert {
        "templates/redisfailover.yaml",
        "templates/connection-search-redis-shared-cache.yaml",
        "templates/connection-billing-redis-shared-cache.yaml",
    } <= set(stale)

    result = ckredis("render", "--check", str(new), "-o", str(out))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"stale: {out / 'shared-cache' / path}" for path in stale]
    assert f"{len(stale)} file(s) differ" in result.stderr
    assert snapshot(out) == before
    assert stats(out) == before_stats


def test_check_passes_on_a_fresh_chart_and_fails_on_a_missing_one(tmp_path):
    out = tmp_path / "out"
    spec = EXAMPLES_DIR / "cache.yaml"
    missing = ckredis("render", "--check", str(spec), "-o", str(out))
    assert missing.returncode == 1
    assert len(missing.stdout.splitlines()) == len(rendered_bytes(spec, out))
    assert not out.exists(), "--check writes nothing"

    assert ckredis("render", str(spec), "-o", str(out)).returncode == 0
    fresh = ckredis("render", "--check", str(spec), "-o", str(out))
    assert (fresh.returncode, fresh.stdout, fresh.stderr) == (0, "", "")


# ---------------------------------------------------------------- output paths that are not directories


@pytest.mark.parametrize("args", [(), ("--check",)])
def test_a_chart_directory_that_is_a_file_is_exit_2(tmp_path, args):
    out = tmp_path / "out"
    out.mkdir()
    (out / "cache").write_text("not a chart\n")
    result = ckredis("render", *args, str(EXAMPLES_DIR / "cache.yaml"), "-o", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == f"{out / 'cache'}: exists and is not a directory"
    assert (out / "cache").read_text() == "not a chart\n"
    assert os.listdir(out) == ["cache"]


@pytest.mark.parametrize("below", ["", "sub"])
def test_an_output_directory_that_is_a_file_is_exit_2(tmp_path, below):
    blocker = tmp_path / "out"
    blocker.write_text("a file\n")
    result = ckredis("render", str(EXAMPLES_DIR / "cache.yaml"), "-o", str(blocker / below if below else blocker))
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(blocker) in result.stderr and "directory" in result.stderr
    assert blocker.read_text() == "a file\n"


# ---------------------------------------------------------------- leftovers, symlinks, concurrent renders, orphans


def wait_paused(process: subprocess.Popen) -> None:
    line = process.stdout.readline()
    assert line == "PAUSED\n", f"the driver never reached its pause point: {line!r}"


def finish(process: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    """Resume a paused driver (or wait for any process) and return its exit code, stdout and stderr."""
    try:
        stdout, stderr = process.communicate("\n" if process.stdin else None, timeout=timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stdout, stderr


def test_a_render_sweeps_only_staging_folders_ckredis_made(tmp_path, cache_specs):
    old, new = cache_specs
    out = tmp_path / "out"
    kill_when_paused(driver("pause-files", 4, "render", str(old), "-o", str(out)))
    (leftover,) = [entry.name for entry in out.iterdir()]
    # Look-alikes ckredis did not make: a user's hidden folder, a file and a symlink with a staging-like name.
    (out / ".notes").mkdir()
    (out / ".other.abcdefgh.ckredis-tmp").write_text("mine\n")
    (out / ".link.abcdefgh.ckredis-tmp").symlink_to(tmp_path)

    check = ckredis("render", "--check", str(old), "-o", str(out))
    assert check.returncode == 1
    assert [line for line in check.stdout.splitlines() if line.startswith("leftover:")] == [
        f"leftover: {out / leftover}/ (an interrupted render left it; `ckredis render` removes it)"
    ]

    result = ckredis("render", str(old), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"removed {out / leftover}/ (an interrupted render left it)"
    assert sorted(os.listdir(out)) == [".link.abcdefgh.ckredis-tmp", ".notes", ".other.abcdefgh.ckredis-tmp", "cache"]
    assert snapshot(out / "cache") == rendered_bytes(old, out)
    assert ckredis("render", "--check", str(old), "-o", str(out)).returncode == 0


def test_a_render_waits_for_a_live_render_and_never_sweeps_its_staging_folder(tmp_path, cache_specs):
    old, new = cache_specs
    out = tmp_path / "out"
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    live = driver("pause-files", 4, "render", str(new), "-o", str(out))
    try:
        wait_paused(live)
        (staging,) = [entry for entry in out.iterdir() if entry.name.startswith(".")]
        staged = snapshot(staging)
        other = subprocess.Popen(
            [sys.executable, "-m", "ckredis", "render", str(EXAMPLES_DIR / "session.yaml"), "-o", str(out)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            with pytest.raises(subprocess.TimeoutExpired):
                other.wait(timeout=3)  # it waits for the lock: the live render's staging folder stays untouched
            assert len(staged) == 4 and snapshot(staging) == staged
        finally:
            code, _, stderr = finish(live)
        assert code == 0, stderr
        code, stdout, stderr = finish(other)
        assert code == 0, stderr
        assert stdout.startswith(f"wrote {out / 'sessions'}/")
    finally:
        if live.poll() is None:
            live.kill()
            live.wait()
    assert sorted(os.listdir(out)) == ["cache", "sessions"]
    assert snapshot(out / "cache") == rendered_bytes(new, out)


def test_two_renders_into_a_new_output_directory_both_succeed(tmp_path, cache_specs):
    out = tmp_path / "new" / "out"
    first = driver("pause-fsync", 0, "render", str(cache_specs[0]), "-o", str(out))  # staged, not yet renamed
    try:
        wait_paused(first)
        second = subprocess.Popen(
            [sys.executable, "-m", "ckredis", "render", str(cache_specs[0]), "-o", str(out)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        with pytest.raises(subprocess.TimeoutExpired):
            second.wait(timeout=3)
        code, stdout, stderr = finish(first)
        assert (code, stderr) == (0, ""), stderr
        assert stdout.startswith(f"wrote {out / 'cache'}/")
        code, stdout, stderr = finish(second)
        assert (code, stderr) == (0, ""), stderr
        assert stdout.startswith(f"unchanged {out / 'cache'}/")
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert os.listdir(out) == ["cache"]


def test_a_directory_another_program_creates_mid_write_is_explained(tmp_path, cache_specs):
    out = tmp_path / "out"
    process = driver("pause-fsync", 0, "render", str(cache_specs[0]), "-o", str(out))
    wait_paused(process)
    (out / "cache").mkdir()
    (out / "cache" / "theirs.txt").write_text("another program\n")
    code, stdout, stderr = finish(process)
    assert code == 2
    assert stderr.strip() == (
        f"{out / 'cache'}: another program created this directory while ckredis was writing it; "
        "check what else writes to the output directory, then render again"
    )
    assert os.listdir(out) == ["cache"] and os.listdir(out / "cache") == ["theirs.txt"]


@pytest.mark.parametrize("args", [(), ("--check",)])
def test_a_chart_directory_that_is_a_symlink_is_refused(tmp_path, cache_specs, args):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    assert ckredis("render", str(cache_specs[0]), "-o", str(elsewhere)).returncode == 0
    out.mkdir()
    (out / "cache").symlink_to(elsewhere / "cache")
    before = snapshot(tmp_path)

    result = ckredis("render", *args, str(cache_specs[1]), "-o", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        f"{out / 'cache'}: is a symbolic link; ckredis replaces a chart directory as a whole and would replace the "
        "link, not its target: remove the link (or render into the target's directory with -o), then render again"
    )
    assert snapshot(tmp_path) == before
    assert os.listdir(out) == ["cache"]


def test_an_output_directory_that_is_a_dangling_symlink_is_explained(tmp_path, cache_specs):
    out = tmp_path / "out"
    out.symlink_to(tmp_path / "gone")
    result = ckredis("render", str(cache_specs[0]), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{out}: is a symbolic link to {tmp_path / 'gone'}, which does not exist; "
        "create that directory, or remove the link and render again"
    )
    assert not (tmp_path / "gone").exists()


def test_orphan_charts_are_reported_by_check_and_removed_by_prune(tmp_path):
    out = tmp_path / "out"
    cache, session = EXAMPLES_DIR / "cache.yaml", EXAMPLES_DIR / "session.yaml"
    assert ckredis("render", str(cache), str(session), "-o", str(out)).returncode == 0
    (out / "notes").mkdir()  # not a chart: never reported, never removed
    (out / "notes" / "Chart.yaml").write_text("name: mine\n")

    check = ckredis("render", "--check", str(cache), "-o", str(out))
    assert check.returncode == 1
    assert check.stdout.splitlines() == [
        f"orphan: {out / 'sessions'}/ (generated by ckredis, but no spec given "
        "renders it; `ckredis render --prune` removes it)"
    ]
    assert "1 orphan chart(s)" in check.stderr

    kept = ckredis("render", str(cache), "-o", str(out))
    assert kept.returncode == 0 and sorted(os.listdir(out)) == ["cache", "notes", "sessions"], "only --prune removes"

    pruned = ckredis("render", "--prune", str(cache), "-o", str(out))
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.splitlines()[-1] == f"pruned {out / 'sessions'}/ (no spec renders it)"
    assert sorted(os.listdir(out)) == ["cache", "notes"]
    assert ckredis("render", "--check", str(cache), "-o", str(out)).returncode == 0


def test_prune_refuses_an_orphan_holding_files_ckredis_did_not_generate(tmp_path):
    out = tmp_path / "out"
    assert ckredis("render", str(EXAMPLES_DIR / "session.yaml"), "-o", str(out)).returncode == 0
    (out / "sessions" / "backup.sh").write_text("#!/bin/sh\n")
    before = snapshot(out)
    result = ckredis("render", "--prune", str(EXAMPLES_DIR / "cache.yaml"), "-o", str(out))
    _refused(result, out / "sessions", "backup.sh")
    assert snapshot(out) == before


def test_a_kill_inside_the_rename_fallback_keeps_the_previous_chart(tmp_path, cache_specs):
    """Where renameat2 is unsupported, the old chart is parked, the new one renamed in, the parked one removed;
    a kill after the first rename leaves no chart directory but the parked chart, which the sweep moves back."""
    old, new = cache_specs
    out = tmp_path / "out"
    assert ckredis("render", str(old), "-o", str(out)).returncode == 0
    before = snapshot(out / "cache")
    staging = out / ".cache.k1ll3d_x.ckredis-tmp"
    write.write_chart(render_specs([str(new)])[0].files, tmp_path / "new")
    os.rename(tmp_path / "new", staging)
    os.rename(out / "cache", out / (staging.name + ".old"))

    check = ckredis("render", "--check", str(old), "-o", str(out))
    assert check.returncode == 1
    assert len([line for line in check.stdout.splitlines() if line.startswith("leftover:")]) == 2

    with write.output_lock(out, exclusive=True):
        swept = write.sweep_staging(out)
    assert [path.name for path in swept] == [staging.name, staging.name + ".old"]
    assert os.listdir(out) == ["cache"]
    assert snapshot(out / "cache") == before
