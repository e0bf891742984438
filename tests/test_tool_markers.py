"""Tests are marked by the external tools they run (tests/tool_markers.py), so `-m "not tools"` starts none."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def _collected(*args: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode in (0, 5), result.stdout + result.stderr  # 5: nothing selected
    return {line for line in result.stdout.splitlines() if "::" in line}


def test_a_test_parametrized_by_helm_is_marked_helm_and_no_other_is():
    every = _collected("tests/test_yaml_readers.py")
    helm = {node for node in every if node.endswith(("[helm3]", "[helm4]"))}
    assert helm and helm != every
    assert _collected("-m", "helm", "tests/test_yaml_readers.py") == helm
    assert _collected("-m", "not tools", "tests/test_yaml_readers.py") == every - helm


def test_every_helm_test_and_every_real_server_test_leaves_the_run_without_tools():
    assert _collected("-m", "not tools", "tests/test_helm.py") == set()
    every = _collected("tests/test_monitoring.py")
    servers = {node for node in every if "against_a_real" in node}  # redis-server and redis-sentinel, started
    assert servers and servers <= _collected("-m", "redis", "tests/test_monitoring.py")
    assert servers.isdisjoint(_collected("-m", "not tools", "tests/test_monitoring.py"))


def test_a_tool_call_the_reading_misses_fails_the_test(tmp_path: Path):
    # A test outside tests/ is not read, so it gets no marker: tool() must refuse it rather than run the tool.
    (tmp_path / "test_unmarked.py").write_text("from conftest import tool\n\n\ndef test_it():\n    tool('helm3')\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "conftest",
            "--rootdir",
            str(tmp_path),
            str(tmp_path / "test_unmarked.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "runs helm3 but is not marked 'helm'" in result.stdout
