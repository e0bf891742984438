"""The package's shape: facts tied to the schema, no import cycles, validation independent of model and render,
and the linter clean."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from conftest import REPO

from ckredis import facts

PACKAGE = REPO / "generator" / "ckredis"
SCHEMA = json.loads((REPO / "schemas" / "ckredis-spec.schema.json").read_text())
SPEC = SCHEMA["properties"]["spec"]["properties"]


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(path) -> set[str]:
    """Our modules that `path` imports at run time (imports under `if TYPE_CHECKING:` are annotations only)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                continue
            if isinstance(child, ast.Import):
                found.update(alias.name for alias in child.names if alias.name.startswith("ckredis."))
            elif isinstance(child, ast.ImportFrom) and child.module and child.module.split(".")[0] == "ckredis":
                if child.module == "ckredis":
                    found.update(f"ckredis.{alias.name}" for alias in child.names if f"ckredis.{alias.name}" in MODULES)
                else:
                    found.add(child.module)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found - {"ckredis"}


def _module_name(path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items() if name != "ckredis"}


def _reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for module in GRAPH.get(todo.pop(), ()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def test_the_import_graph_sees_the_known_edges():
    # Guards the walker itself: a parser that found nothing would pass every test below.
    assert "ckredis.facts" in GRAPH["ckredis.model"]
    assert "ckredis.rules" in GRAPH["ckredis.validate"]
    assert "ckredis.monitoring.scope" in GRAPH["ckredis.monitoring.catalogue"]


def test_no_import_cycle_between_our_modules():
    cycles = sorted(module for module in GRAPH if module in _reachable(module))
    assert cycles == [], f"modules that import themselves through others: {cycles}"


def test_validation_imports_no_model_or_render_code():
    later_stages = ("ckredis.model", "ckredis.access", "ckredis.monitoring", "ckredis.plan", "ckredis.render",
                    "ckredis.pipeline", "ckredis.write")
    for module in ("ckredis.validate", "ckredis.rules"):
        reached = {name for name in _reachable(module) if name.startswith(later_stages)}
        assert reached == set(), module


def test_facts_import_nothing_of_ours():
    assert GRAPH["ckredis.facts"] == set()


def test_schema_operator_versions_are_the_known_operator_releases():
    assert SPEC["operator"]["properties"]["version"]["enum"] == list(facts.OPERATOR_FIELDS)


def test_schema_purposes_are_the_sized_purposes():
    assert SPEC["purpose"]["enum"] == list(facts.PURPOSES)
    policies = SPEC["redis"]["properties"]["config"]["properties"]["maxmemoryPolicy"]["enum"]
    assert {purpose.maxmemory_policy for purpose in facts.PURPOSES.values()} <= set(policies)


def test_schema_severities_are_the_routed_severities():
    rules = [name for name in SCHEMA["$defs"] if name.startswith("alertRule")]
    assert rules
    for name in rules:
        assert SCHEMA["$defs"][name]["properties"]["severity"]["enum"] == list(facts.SEVERITIES), name


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "generator", "tests"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
