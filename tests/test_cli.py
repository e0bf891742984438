"""The command line as users meet it: version, help, schema, docs freshness, init, stdin, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

from ckredis import __version__
from ckredis.pipeline import render_specs
from conftest import EXAMPLES, REPO, ckredis, documents

MODELINE = "# yaml-language-server: $schema="


def printed_schema() -> dict:
    result = ckredis("schema")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# ---------------------------------------------------------------- version and help


def test_version():
    result = ckredis("--version")
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ckredis {__version__}\n", "")


def test_the_console_script_is_declared():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"ckredis": "ckredis.cli:main"}
    assert project["requires-python"] == ">=3.11"


def test_help_lists_the_commands_and_shows_examples():
    result = ckredis("--help")
    assert result.returncode == 0, result.stderr
    for command in ("render", "validate", "schema", "init"):
        assert f"  {command} " in result.stdout
    assert "Examples:" in result.stdout
    for example in (
        "ckredis init cache > cache.yaml",
        "ckredis render --check examples/*.yaml",
        "ckredis render cache.yaml --stdout | kubectl apply -f -",
    ):
        assert example in result.stdout


def test_render_help_shows_its_options_and_examples():
    result = ckredis("render", "--help")
    assert result.returncode == 0
    for option in ("--output", "--check", "--stdout", "Examples:", "ckredis render examples/*.yaml -o output"):
        assert option in result.stdout


@pytest.mark.parametrize(
    "command, usage", [("render", "SPEC..."), ("validate", "SPEC..."), ("connectivity", "SPEC"), ("init", "NAME")]
)
def test_usage_lines_name_the_arguments_plainly(command, usage):
    result = ckredis(command, "--help")
    assert result.stdout.splitlines()[0] == f"Usage: ckredis {command} [OPTIONS] {usage}"


def test_init_help_shows_the_allowed_purposes():
    result = ckredis("init", "--help")
    (line,) = [line for line in result.stdout.splitlines() if "--purpose" in line]
    assert "cache|session" in line


def test_shell_completion_is_available():
    assert "--install-completion" in ckredis("--help").stdout
    script = ckredis("--show-completion", "bash")
    assert script.returncode == 0 and "_CKREDIS_COMPLETE" in script.stdout, script.stdout + script.stderr
    env = {**os.environ, "_CKREDIS_COMPLETE": "complete_bash", "COMP_WORDS": "ckredis ren", "COMP_CWORD": "1"}
    completed = subprocess.run(
        [sys.executable, "-c", "from ckredis.cli import main; main()"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.stdout.split() == ["render"], completed.stdout + completed.stderr


def test_no_arguments_shows_help():
    result = ckredis()
    assert "Usage: ckredis" in result.stdout + result.stderr
    assert "Commands:" in result.stdout + result.stderr


# ---------------------------------------------------------------- schema and its docs


def test_schema_prints_a_valid_draft_2020_12_schema_equal_to_the_shipped_one():
    schema = printed_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema == json.loads((REPO / "schemas" / "ckredis-spec.schema.json").read_text())


def test_every_example_validates_against_the_printed_schema():
    validator = jsonschema.Draft202012Validator(printed_schema())
    for path in EXAMPLES:
        errors = [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], f"{path.name}: {errors}"


def test_conditions_only_restate_fields_that_exist_and_set_valid_defaults():
    schema = printed_schema()
    conditions = [(path, node) for path, node in _schema_nodes(schema, "spec-root") if node.get("allOf")]
    assert conditions, "the engine's default images are an allOf condition"

    def check(overlay: dict, node: dict, where: str) -> None:
        node = {**schema["$defs"].get(node.get("$ref", "#/").rsplit("/", 1)[1], {}), **node}
        for name, sub in overlay.get("properties", {}).items():
            assert name in node.get("properties", {}), f"{where}.{name} is not a field"
            if "default" in sub:
                field = {"$defs": schema["$defs"], **node["properties"][name]}
                assert jsonschema.Draft202012Validator(field).is_valid(sub["default"]), f"{where}.{name}"
            check(sub, node["properties"][name], f"{where}.{name}")

    for path, node in conditions:
        for condition in node["allOf"]:
            check(condition["if"], node, path)
            check(condition["then"], node, path)


def test_docs_spec_md_is_fresh():
    result = ckredis("schema", "--markdown")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (REPO / "docs" / "spec.md").read_text(encoding="utf-8"), (
        "run `ckredis schema --markdown > docs/spec.md` and commit it"
    )


def _schema_nodes(node: object, path: str):
    """Every subschema, by a readable path: under properties, $defs, items and the other keywords that hold one."""
    if not isinstance(node, dict):
        return
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from _schema_nodes(sub, f"{path}.{name}")
    for name, sub in node.get("$defs", {}).items():
        yield from _schema_nodes(sub, f"$defs.{name}")
    for key in ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains"):
        yield from _schema_nodes(node.get(key), f"{path}<{key}>")
    for key in ("allOf", "anyOf", "oneOf", "prefixItems"):
        for index, sub in enumerate(node.get(key, [])):
            yield from _schema_nodes(sub, f"{path}<{key}[{index}]>")
    for name, sub in node.get("patternProperties", {}).items():
        yield from _schema_nodes(sub, f"{path}<{name}>")


def test_every_field_has_a_description_and_an_example_and_every_object_is_closed():
    schema = printed_schema()
    validator = jsonschema.Draft202012Validator(schema)
    problems, fields = [], 0
    for path, node in _schema_nodes(schema, "spec-root"):
        if "<if>" in path or "<then>" in path:
            continue  # a condition restates fields described where they stand (see the next test)
        named = path.split(".")[-1] if "." in path else None
        is_field = named is not None and "<" not in named  # a property or a $defs entry
        if is_field:
            fields += 1
            if not str(node.get("description", "")).strip():
                problems.append(f"{path}: no description")
            if not node.get("examples"):
                problems.append(f"{path}: no examples")
            for example in node.get("examples", []):
                # an example must itself be valid where it stands
                sub = {"$defs": schema["$defs"], **node}
                if not jsonschema.Draft202012Validator(sub).is_valid(example):
                    problems.append(f"{path}: example {example!r} is invalid")
        if node.get("type") == "object" or "properties" in node:
            closed = node.get("additionalProperties") is False
            # A map (labels): no fixed keys, every key and value constrained instead.
            is_map = (
                "properties" not in node
                and isinstance(node.get("additionalProperties"), dict)
                and "propertyNames" in node
                and "maxProperties" in node
            )
            if not (closed or is_map):
                problems.append(f"{path}: object without additionalProperties: false")
    assert fields > 50
    assert problems == []
    assert validator.is_valid(yaml.safe_load(EXAMPLES[0].read_text()))


# ---------------------------------------------------------------- init


@pytest.mark.parametrize("purpose", ["cache", "session"])
def test_init_writes_a_starter_that_validates_and_renders_as_written(tmp_path, purpose):
    result = ckredis("init", f"my-{purpose}", "--purpose", purpose, "--namespace", "apps")
    assert result.returncode == 0, result.stderr
    starter = result.stdout
    first = starter.splitlines()[0]
    assert first == MODELINE + "ckredis-spec.schema.json"
    assert "#" in starter.split("\n", 1)[1], "the starter is commented"

    validated = ckredis("validate", "-", stdin=starter)
    assert validated.returncode == 0, validated.stderr
    assert validated.stdout == f"-: ok (apps/my-{purpose}, {purpose})\n"

    rendered = ckredis("render", "-", "-o", str(tmp_path), stdin=starter)
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.startswith(f"wrote {tmp_path / f'my-{purpose}'}/")
    failover = yaml.safe_load((tmp_path / f"my-{purpose}" / "templates" / "redisfailover.yaml").read_text())
    assert failover["metadata"] == {**failover["metadata"], "name": f"my-{purpose}", "namespace": "apps"}
    policy = "noeviction" if purpose == "session" else "allkeys-lru"
    assert f"maxmemory-policy {policy}" in failover["spec"]["redis"]["customConfig"]


def _modeline_target(spec: Path) -> Path:
    first = spec.read_text().splitlines()[0]
    assert first.startswith(MODELINE)
    return spec.parent / first.removeprefix(MODELINE)


def test_the_starter_modeline_names_the_schema_the_readme_says_to_write_beside_it(tmp_path):
    spec = tmp_path / "cache.yaml"
    spec.write_text(ckredis("init", "cache").stdout)
    readme = (REPO / "README.md").read_text()
    assert "ckredis schema > ckredis-spec.schema.json" in readme
    (tmp_path / "ckredis-spec.schema.json").write_text(ckredis("schema").stdout)  # what the README says to run
    target = _modeline_target(spec)
    assert target.is_file(), "the modeline resolves, relative to the spec as editors resolve it"
    validator = jsonschema.Draft202012Validator(json.loads(target.read_text()))
    assert validator.is_valid(yaml.safe_load(spec.read_text()))
    assert not validator.is_valid(yaml.safe_load(spec.read_text().replace("purpose: cache", "purpose: archive")))


def test_init_can_point_the_modeline_elsewhere():
    starter = ckredis("init", "cache", "--schema", "../schemas/ckredis-spec.schema.json").stdout
    assert starter.splitlines()[0] == MODELINE + "../schemas/ckredis-spec.schema.json"


def test_every_example_modeline_resolves_to_the_shipped_schema():
    for example in EXAMPLES:
        assert _modeline_target(example).resolve() == (REPO / "schemas" / "ckredis-spec.schema.json").resolve()


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["init", "Bad_Name"], "metadata.name"),
        (["init", "cache", "--purpose", "archive"], "'archive' is not one of 'cache', 'session'"),
        (["init", "cache", "--namespace", "Apps"], "metadata.namespace"),
        (["init", "x" * 49], "longer than 48"),
        (["init", "a: b"], "must be plain DNS names"),
    ],
)
def test_init_refuses_what_would_not_validate(args, complaint):
    result = ckredis(*args)
    assert result.returncode == 2, result.stdout
    assert result.stdout == ""
    assert complaint in result.stderr


# ---------------------------------------------------------------- stdin, usage errors, validate


def test_render_reads_a_spec_from_stdin(tmp_path):
    spec = EXAMPLES[0]
    from_stdin = ckredis("render", "-", "-o", str(tmp_path / "a"), stdin=spec.read_text())
    from_file = ckredis("render", str(spec), "-o", str(tmp_path / "b"))
    assert from_stdin.returncode == from_file.returncode == 0, from_stdin.stderr
    (item,) = render_specs([str(spec)])
    for path, text in item.chart_files(tmp_path / "a" / item.name).items():
        assert (tmp_path / "a" / item.name / path).read_text() == text

    stream = ckredis("render", "-", "--stdout", stdin=spec.read_text())
    assert stream.returncode == 0
    assert stream.stdout == ckredis("render", str(spec), "--stdout").stdout
    assert any(doc["kind"] == "RedisFailover" for doc in documents(stream.stdout))


def test_stdout_and_check_together_are_a_usage_error(tmp_path):
    result = ckredis("render", "--stdout", "--check", str(EXAMPLES[0]), "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "--check and --stdout exclude each other" in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "args, complaint",
    [
        (["render", "--no-such-option", "x.yaml"], "No such option"),
        (["no-such-command"], "No such command"),
        (["render"], "Missing argument"),
        (["validate"], "Missing argument"),
    ],
)
def test_usage_errors_are_exit_2(args, complaint):
    result = ckredis(*args)
    assert result.returncode == 2
    assert complaint in result.stderr


def test_validate_prints_an_ok_line_per_example():
    result = ckredis("validate", *map(str, EXAMPLES))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(EXAMPLES)
    for path, line in zip(EXAMPLES, lines, strict=True):
        data = yaml.safe_load(path.read_text())
        meta = data["metadata"]
        assert line == f"{path}: ok ({meta['namespace']}/{meta['name']}, {data['spec']['purpose']})"


def test_validate_reports_a_bad_spec_with_exit_2(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(Path(EXAMPLES[0]).read_text().replace("purpose: cache", "purpose: archive"))
    result = ckredis("validate", str(bad))
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{bad}:" in result.stderr and "spec.purpose" in result.stderr


def _spec_rows() -> dict[str, tuple[str, str, str]]:
    """docs/spec.md's rows by field: (type, default, example), default and example as JSON text or ''."""
    rows = {}
    for line in (REPO / "docs" / "spec.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            cells = [cell.strip() for cell in line.replace("\\|", "¦").split("|")[1:-1]]
            rows[cells[0].strip("`")] = (cells[1], cells[2].strip("`"), cells[4].strip("`"))
    return rows


def test_the_reference_says_true_things():
    rows = _spec_rows()
    assert len(rows) > 50
    assert not [field for field, (kind, _, _) in rows.items() if "[" in kind], "a type printed as a Python list"
    assert rows["spec.redis.resources.requests.cpu"][0].startswith("string or number")
    contradictions = []
    for field, (_, default, _) in rows.items():
        if default.startswith("{"):  # each field inside a default shows that default, and an example that agrees
            for key, value in json.loads(default.replace("¦", "|")).items():
                if f"{field}.{key}" not in rows:
                    continue  # a map such as labels: its keys are data, not fields
                _, child_default, child_example = rows[f"{field}.{key}"]
                if json.loads(child_default) != value or json.loads(child_example) != value:
                    contradictions.append(
                        f"{field}.{key}: default {child_default}, example {child_example}, not {value}"
                    )
    assert contradictions == []
    assert rows["spec.redis.exporter.resources.requests.cpu"][1:] == ('"10m"', '"10m"')
    examples_of_enabled = {rows[field][2] for field in rows if field.endswith(".enabled")}
    assert examples_of_enabled == {"true", "false"}
