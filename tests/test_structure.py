"""The package's shape: facts tied to the schema, no import cycles, validation independent of model and render,
and the linter clean."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from ckredis import facts
from conftest import REPO

PACKAGE = REPO / "generator" / "ckredis"
SCHEMA = json.loads((REPO / "schemas" / "ckredis-spec.schema.json").read_text())
SPEC = SCHEMA["properties"]["spec"]["properties"]
README = (REPO / "README.md").read_text()


def _imports(path) -> set[str]:
    """Our modules that `path` imports anywhere: at the top, inside functions, and under `if TYPE_CHECKING:` (an
    annotation-only import still ties the two modules together for a reader and a type checker). Importing
    `ckredis.a.b` also runs `ckredis/a/__init__.py`, so it counts as importing `ckredis.a` too."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("ckredis."))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "ckredis":
            if node.module == "ckredis" or f"{node.module}.{node.names[0].name}" in MODULES:
                found.update(
                    f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES
                )
            found.add(node.module)
    found |= {name.rsplit(".", 1)[0] for name in found if name.count(".") > 1}
    return found - {"ckredis", _module_name(path)}


def _module_name(path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
GRAPH = {name: _imports(path) for name, path in MODULES.items() if name != "ckredis"}

# The README's design table, in its order: a module may import its own stage and earlier ones, never a later one.
STAGES = {
    "facts": ["ckredis.facts"],
    "shared": [
        "ckredis.errors",
        "ckredis.paths",
        "ckredis.quantity",
        "ckredis.jsontext",
        "ckredis.yamltext",
        "ckredis.cache",
    ],
    "load": ["ckredis.load"],
    "validate": [
        "ckredis.validate",
        "ckredis.rules",
        "ckredis.derive",
        "ckredis.memory",
        "ckredis.advisories",
        "ckredis.docs",
        "ckredis.starter",
    ],
    "model": ["ckredis.model", "ckredis.monitoring", "ckredis.monitoring.settings"],
    "plan": [
        "ckredis.plan",
        "ckredis.access",
        "ckredis.guidance",
        "ckredis.prove",
        "ckredis.monitoring.scope",
        "ckredis.monitoring.catalogue",
        "ckredis.monitoring.promtool_tests",
        "ckredis.monitoring.dashboard",
        "ckredis.monitoring.probes",
        "ckredis.monitoring.chart",
    ],
    "render": ["ckredis.render", "ckredis.stream"],
    "write": ["ckredis.write"],
    "review": ["ckredis.review", "ckredis.review.impact", "ckredis.review.comparison", "ckredis.review.reporter"],
    "fleet": ["ckredis.discover", "ckredis.pipeline", "ckredis.parallel", "ckredis.clashes", "ckredis.progress"],
    "runs": ["ckredis.runs"],
    "cli": ["ckredis.cli", "ckredis.__main__"],
}
STAGE_OF = {module: number for number, modules in enumerate(STAGES.values()) for module in modules}


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
    assert "ckredis.model" in GRAPH["ckredis.monitoring.probes"]  # under TYPE_CHECKING
    assert "ckredis.render" in GRAPH["ckredis.pipeline"]  # inside a function
    assert "ckredis.monitoring" in GRAPH["ckredis.model"]  # the package's __init__, run by importing settings


def test_no_import_cycle_between_our_modules():
    cycles = sorted(module for module in GRAPH if module in _reachable(module))
    assert cycles == [], f"modules that import themselves through others: {cycles}"


def test_every_module_has_a_stage_and_the_readme_lists_it():
    assert sorted(STAGE_OF) == sorted(GRAPH)
    design = README.split("## Design", 1)[1].split("\n### ", 1)[0]
    for module in STAGE_OF:
        file = MODULES[module].relative_to(PACKAGE).as_posix()
        assert f"`{file}`" in design or f"`{file.rsplit('/', 1)[-1]}`" in design, file
    assert [
        line.split("|")[1].strip() for line in design.splitlines() if line.startswith("| ") and "`" in line
    ] == list(STAGES)


def test_each_stage_imports_only_itself_and_earlier_stages():
    later = sorted(
        (module, imported)
        for module, imports in GRAPH.items()
        for imported in imports
        if STAGE_OF[imported] > STAGE_OF[module]
    )
    assert later == [], "a stage imports a later one (README, Design)"


def test_building_a_model_loads_no_alert_catalogue_or_promtool_tests():
    heavy = {"ckredis.monitoring.catalogue", "ckredis.monitoring.promtool_tests", "ckredis.plan", "ckredis.render"}
    assert _reachable("ckredis.model") & heavy == set()
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, ckredis.model; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert [name for name in heavy if f"'{name}'" in loaded] == []
    assert "'ckredis.monitoring.settings'" in loaded  # the probe above can see a monitoring module


def test_validation_imports_no_model_or_render_code():
    later_stages = (
        "ckredis.model",
        "ckredis.access",
        "ckredis.monitoring",
        "ckredis.plan",
        "ckredis.render",
        "ckredis.pipeline",
        "ckredis.write",
    )
    for module in ("ckredis.validate", "ckredis.rules"):
        reached = {name for name in _reachable(module) if name.startswith(later_stages)}
        assert reached == set(), module


def test_monitoring_modules_import_no_private_name_of_another():
    private = []
    for module, path in MODULES.items():
        if module.startswith("ckredis.monitoring"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ckredis."):
                    private += [
                        f"{module}: {node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")
                    ]
    assert private == []


def test_facts_import_nothing_of_ours():
    assert GRAPH["ckredis.facts"] == set()


def test_schema_operator_versions_are_the_known_operator_releases():
    assert SPEC["operator"]["properties"]["version"]["enum"] == list(facts.OPERATOR_FIELDS)


def test_schema_purposes_are_the_sized_purposes():
    assert SPEC["purpose"]["enum"] == list(facts.PURPOSES)
    policies = SPEC["redis"]["properties"]["config"]["properties"]["maxmemoryPolicy"]["enum"]
    assert {purpose.maxmemory_policy for purpose in facts.PURPOSES.values()} <= set(policies)


def test_schema_engines_are_the_known_engines():
    assert SPEC["engine"]["enum"] == list(facts.ENGINES)


def test_schema_severities_are_the_routed_severities():
    rules = [name for name in SCHEMA["$defs"] if name.startswith("alertRule")]
    assert rules
    for name in rules:
        assert SCHEMA["$defs"][name]["properties"]["severity"]["enum"] == list(facts.SEVERITIES), name


def test_ruff_finds_nothing():
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "generator", "tests"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_finds_nothing():
    # pyproject.toml's [tool.mypy] names the package and the checks; the stubs come with the [test] extra.
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", "/dev/null"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_template_is_wired_once_or_is_a_partial_another_includes():
    from ckredis import render

    folder = REPO / "templates"
    templates = {path.relative_to(folder).as_posix() for path in folder.rglob("*.jinja")}
    wired = (
        [template for template, _ in render.MANIFESTS]
        + list(render.CHART_FILES)
        + [render.NOTES_TEMPLATE, render.CHART_YAML_TEMPLATE]
    )
    partials = {name for name in templates if name.rsplit("/", 1)[-1].startswith("_")}
    assert sorted(wired) == sorted(templates - partials)
    sources = "".join((folder / name).read_text() for name in templates)
    assert partials and all(f'[% include "{name}" %]' in sources for name in partials)
