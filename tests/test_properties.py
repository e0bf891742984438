"""Property-based tests: random valid specs render charts every real reader accepts; random mutations of valid specs
end in exit 0 with a chart or exit 2 with located messages, never a traceback, and never write anything on failure.

Hypothesis generates and renders in-process; the slow external tools (helm lint, Go's YAML reader) run afterwards on
the whole batch. The `ckredis` profile (the default) is derandomized so CI runs the same examples every time; set
HYPOTHESIS_PROFILE=shrink to shrink a failing example, or explore for fresh random examples while hunting bugs.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from typer.testing import CliRunner

from ckredis.cli import app
from ckredis.errors import SpecError
from ckredis.pipeline import render_specs
from conftest import tool
from crds import failover_errors, monitoring_validator
from go_yaml import chart_documents, disagreements
from spec_strategies import mutated_specs, valid_specs

pytestmark = pytest.mark.slow  # hundreds of trials: left out of the fast run (README, Test it)

# At least 1,000 examples in CI; fewer (or more) while working, e.g. CKREDIS_VALID_EXAMPLES=30.
VALID_EXAMPLES = int(os.environ.get("CKREDIS_VALID_EXAMPLES", "200"))
MUTATED_EXAMPLES = int(os.environ.get("CKREDIS_MUTATED_EXAMPLES", "1000"))
_COMMON = dict(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
# CI: the same examples every run; a failing example is reported as generated (shrinking can take many minutes).
settings.register_profile("ckredis", derandomize=True, phases=[Phase.explicit, Phase.generate], **_COMMON)
settings.register_profile("shrink", derandomize=True, **_COMMON)  # the same examples, a failing one made minimal
settings.register_profile("explore", derandomize=False, **_COMMON)  # fresh random examples
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ckredis"))

CORE_VERSION = "1.34.0"
LOCATED = re.compile(r"^(?P<source>.+?):(?P<line>[0-9]+):(?P<column>[0-9]+): \S+: .+$")


def write_spec(directory: Path, index: int, text: str) -> Path:
    path = directory / f"spec-{index}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def check_objects(stream: str, version: str) -> list[str]:
    """Problems the API server would find: core objects (kubernetes-validate), RedisFailover and monitoring CRDs."""
    problems = []
    for doc in (doc for doc in yaml.load_all(stream, Loader=yaml.CSafeLoader) if doc):
        group = doc["apiVersion"].split("/")[0]
        if group == "databases.spotahome.com":
            problems += failover_errors(version, doc)
        elif group == "monitoring.coreos.com":
            problems += [f"{doc['kind']}: {e.message}" for e in monitoring_validator(doc["kind"]).iter_errors(doc)]
        else:
            try:
                kubernetes_validate.validate(doc, CORE_VERSION, strict=True)
            except kubernetes_validate.ValidationError as error:
                problems.append(f"{doc['kind']}/{doc['metadata']['name']}: {list(error.path)}: {error.message}")
    return problems


def test_random_valid_specs_render_charts_that_helm_kubernetes_and_go_accept(tmp_path):
    tool("helm3"), tool("helm4")
    specs, charts, documents = tmp_path / "specs", tmp_path / "charts", []
    specs.mkdir()
    chart_dirs: list[Path] = []

    @settings(max_examples=VALID_EXAMPLES)
    @given(valid_specs())
    def render_one(spec):
        index = len(chart_dirs)
        path = write_spec(specs, index, yaml.safe_dump(spec, allow_unicode=True, sort_keys=False))
        try:
            (item,) = render_specs([str(path)])
        except SpecError as error:
            raise AssertionError(f"a valid spec was refused: {error.lines()}\n{path.read_text()}") from None
        version = spec["spec"].get("operator", {}).get("version", "v1.3.0-rc1")
        assert check_objects(item.stream(), version) == [], path.read_text()
        chart = charts / str(index) / item.name
        for relative, text in item.files.items():
            (chart / relative).parent.mkdir(parents=True, exist_ok=True)
            (chart / relative).write_text(text, encoding="utf-8")
        chart_dirs.append(chart)
        # The promtool unit tests repeat the alert labels of rules.yaml at length: read a sample of them.
        documents.extend(chart_documents(item, alert_tests=index % 10 == 0))

    render_one()
    assert len(chart_dirs) >= VALID_EXAMPLES
    for helm_name in ("helm3", "helm4"):
        for start in range(0, len(chart_dirs), 100):
            batch = [str(chart) for chart in chart_dirs[start : start + 100]]
            result = subprocess.run(
                [tool(helm_name), "lint", "--strict", *batch], capture_output=True, text=True, timeout=600
            )
            failing = [line for line in result.stdout.splitlines() if "[WARNING]" in line or "[ERROR]" in line]
            assert result.returncode == 0 and failing == [], result.stdout[-5000:] + result.stderr[-2000:]
    assert disagreements([tool("helm3"), tool("helm4")], documents) == []


def snapshot(directory: Path) -> dict[str, tuple[int, int, int]]:
    """Every entry under directory with its inode, size and modification time: a write would change one of them."""
    return {
        str(path.relative_to(directory)): (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        for path in sorted(directory.rglob("*"))
        for stat in [path.lstat()]
    }


def test_random_mutations_end_in_a_chart_or_located_messages_and_never_write_on_failure(tmp_path):
    runner, outcomes = CliRunner(), {0: 0, 2: 0}
    output = tmp_path / "output"
    output.mkdir()
    (output / "keep.txt").write_text("not ckredis's\n")

    @settings(max_examples=MUTATED_EXAMPLES)
    @given(mutated_specs())
    def run_one(mutation):
        kind, _, text = mutation
        index = sum(outcomes.values())
        spec = write_spec(tmp_path, index, text)
        before = snapshot(output)
        result = runner.invoke(app, ["render", str(spec), "-o", str(output)])
        context = f"{kind}:\n{text}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        assert result.exception is None or isinstance(result.exception, SystemExit), context + f"\n{result.exception!r}"
        assert "Traceback" not in result.stderr, context
        assert result.exit_code in (0, 2), context
        outcomes[result.exit_code] += 1
        if result.exit_code == 2:
            assert result.stderr and result.stdout == "", context
            for line in result.stderr.splitlines():
                match = LOCATED.match(line)
                assert match and match["source"] == str(spec) and int(match["line"]) >= 1, context
            assert snapshot(output) == before, "a failed render changed the output directory\n" + context
        else:
            (item,) = render_specs([str(spec)])
            chart = output / item.name
            files = item.chart_files(chart)
            assert {path: (chart / path).read_text(encoding="utf-8") for path in files} == files, context

    run_one()
    assert sum(outcomes.values()) >= MUTATED_EXAMPLES
    assert outcomes[2] > MUTATED_EXAMPLES // 2, outcomes  # most mutations break the spec
