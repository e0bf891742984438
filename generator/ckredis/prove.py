"""Proving a cluster's alerts on demand: its rules as a Prometheus rule file, promtool unit tests of every alert
(it fires on each failure it exists for, stays silent on a healthy cluster and when only another RedisFailover in
the namespace fails), and promtool run on both. The chart does not carry these files: they prove the generator,
and a reviewer reads the rules in templates/prometheusrule.yaml.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ckredis.errors import CkredisError

RULES_FILE = "rules.yaml"
TESTS_FILE = "alerts.test.yaml"
PROMTOOL_TIMEOUT = 300  # seconds; the largest chart's tests take a few seconds


class PromtoolMissing(CkredisError):
    """promtool is needed and cannot be found."""


@dataclass(frozen=True)
class PromtoolResult:
    passed: bool
    output: str  # promtool's own report, both steps


def find_promtool(explicit: str | None) -> str:
    """The promtool to run: --promtool, else $PROMTOOL, else the one on PATH."""
    wanted = explicit or os.environ.get("PROMTOOL") or "promtool"
    found = shutil.which(wanted)
    if found is None:
        raise PromtoolMissing(
            f"promtool not found ({wanted!r}) (hint: install Debian's `prometheus` package or a Prometheus release "
            "archive, or name it with --promtool PATH; `ckredis test --write DIR` writes the files without running it)"
        )
    return found


def run(files: dict[str, str], folder: Path, promtool: str) -> PromtoolResult:
    """Write `files` into `folder` and run promtool's rule check, then its unit tests, there."""
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        (folder / path).write_text(text, encoding="utf-8")
    reports = []
    for step in (["check", "rules", RULES_FILE], ["test", "rules", TESTS_FILE]):
        result = subprocess.run([promtool, *step], cwd=folder, capture_output=True, text=True, timeout=PROMTOOL_TIMEOUT)
        reports.append(result.stdout + result.stderr)
        if result.returncode != 0:
            return PromtoolResult(False, "".join(reports))
    return PromtoolResult(True, "".join(reports))
