"""Which external tools a test runs, read from its code before any test runs, so pytest can mark it.

A test runs a tool through conftest.tool(name). Reading the test function, the fixtures it requests and every
function or class of tests/ they use (transitively), we collect the names passed to tool(): a literal, a loop over
literals, a parameter of the test (`helm_name`), or a module constant. Each test gets the marker `tools` and one
marker per family (`helm`, `redis`, ...), so `pytest -m "not tools"` is the run without external tools.
conftest.tool checks at run time that its caller carries the marker, so a call this reading misses fails loudly
instead of slipping into the fast run.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
import types
from functools import cache
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

# Marker per tool (what scripts/install-tools.sh installs, and the Redis servers): `pytest -m "not redis"`.
FAMILIES = {
    "helm3": "helm",
    "helm4": "helm",
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-redis-exporter": "prometheus",
    "prometheus-blackbox-exporter": "prometheus",
    "redis-server": "redis",
    "redis-sentinel": "redis",
    "redis-cli": "redis",
    "valkey-server": "redis",
    "valkey-sentinel": "redis",
    "valkey-cli": "redis",
    "nca": "nca",
}
MARKERS = {
    "tools": "runs an external tool (helm, promtool, prometheus, exporters, redis, nca); deselect with -m 'not tools'",
    "helm": "runs helm v3 or v4",
    "prometheus": "runs promtool, Prometheus or an exporter",
    "redis": "runs redis-server, redis-sentinel or redis-cli (or their Valkey twins)",
    "nca": "runs nca (network-config-analyzer)",
}
ANY = "*"  # a tool() argument this reading cannot resolve: the test may run any tool


def mark(item: pytest.Item) -> None:
    """Add `tools` and the family markers for every tool the item may run."""
    names = tools_of(item)
    if not names:
        return
    families = set(FAMILIES.values()) if ANY in names else {FAMILIES[name] for name in names if name in FAMILIES}
    for marker in ["tools", *sorted(families)]:
        item.add_marker(marker)


def tools_of(item: pytest.Item) -> set[str]:
    """Tool names the item's test function and fixtures pass to tool(); ANY for an argument none of those explain."""
    params = getattr(getattr(item, "callspec", None), "params", {})
    functions = [inspect.unwrap(item.function)] if isinstance(item, pytest.Function) else []
    fixture_info = getattr(item, "_fixtureinfo", None)
    for name in getattr(item, "fixturenames", ()):
        functions += [definition.func for definition in (fixture_info.name2fixturedefs.get(name) or ())]
    names: set[str] = set()
    for argument in _reachable_calls(tuple(functions)):
        if isinstance(argument, frozenset):
            names |= argument
        elif isinstance(params.get(argument), str):
            names.add(params[argument])
        else:  # an argument passed down from a caller, e.g. helm(helm_name, ...): the item's tool parameters
            names |= {value for value in params.values() if isinstance(value, str) and value in FAMILIES} or {ANY}
    return names


def _reachable_calls(functions: tuple) -> list[frozenset[str] | str]:
    seen: set = set()
    found: list[frozenset[str] | str] = []
    todo = [function for function in functions if _ours(function)]
    while todo:
        function = todo.pop()
        if function in seen:
            continue
        seen.add(function)
        arguments, used = _read(function)
        found += arguments
        todo += [target for target in used if target not in seen]
    return found


def _ours(value: object) -> bool:
    """A function or class written in tests/ (the real tool() is a sink, not followed)."""
    if isinstance(value, type):
        return value.__module__ in _test_modules()
    code = getattr(value, "__code__", None)
    return isinstance(code, types.CodeType) and Path(code.co_filename).resolve().parent == TESTS


@cache
def _test_modules() -> frozenset[str]:
    return frozenset(path.stem for path in TESTS.glob("*.py"))


@cache
def _read(function) -> tuple[list[frozenset[str] | str], list]:
    """The tool() arguments in one function or class (resolved where the code alone says), and what it uses of ours."""
    if isinstance(function, type):
        members = [member for member in vars(function).values() if _ours(member)]
        return [], members
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):  # no source to read (or a lambda inside an expression)
        return [frozenset({ANY})], []
    namespace = {**function.__globals__, **_closure(function), **_local_imports(tree)}
    loops = _loop_values(tree)
    arguments: list[frozenset[str] | str] = []
    used = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tool" and node.args:
            arguments.append(_argument(node.args[0], loops, namespace))
        target = _referenced(node, namespace)
        if _ours(target) and target is not function:
            used.append(target)
    return arguments, used


def _referenced(node: ast.AST, namespace: dict) -> object:
    """What a name (`helper`) or a module's or class's attribute (`loopback.start`) refers to, if anything."""
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        return namespace.get(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        owner = namespace.get(node.value.id)
        return getattr(owner, node.attr, None) if isinstance(owner, (types.ModuleType, type)) else None
    return None


def _local_imports(tree: ast.AST) -> dict:
    """What a function imports from tests/ inside its body (conftest's fixtures do, to keep imports acyclic)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in _test_modules():
            module = importlib.import_module(node.module)
            names.update({alias.asname or alias.name: getattr(module, alias.name, None) for alias in node.names})
    return names


def _closure(function) -> dict:
    cells = function.__closure__ or ()
    values = {}
    for name, cell in zip(function.__code__.co_freevars, cells, strict=True):
        try:
            values[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not bound yet
            continue
    return values


def _loop_values(tree: ast.AST) -> dict[str, frozenset[str]]:
    """Names bound by `for name in ("a", "b")` (statements and comprehensions) to those literal strings."""
    loops: dict[str, frozenset[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
            values = _literal_strings(node.iter)
            if values:
                loops[node.target.id] = loops.get(node.target.id, frozenset()) | values
    return loops


def _literal_strings(node: ast.AST) -> frozenset[str]:
    if not isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return frozenset()
    values = [element.value for element in node.elts if isinstance(element, ast.Constant)]
    return (
        frozenset(values) if len(values) == len(node.elts) and all(isinstance(v, str) for v in values) else frozenset()
    )


def _argument(node: ast.AST, loops: dict[str, frozenset[str]], namespace: dict) -> frozenset[str] | str:
    """The tool names an argument of tool() can be: literal, loop over literals or module constant; else the name
    of a parameter, resolved per test from its parametrization."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return frozenset({node.value})
    if isinstance(node, ast.Name):
        if node.id in loops:
            return loops[node.id]
        if isinstance(namespace.get(node.id), str):
            return frozenset({namespace[node.id]})
        return node.id
    return frozenset({ANY})
