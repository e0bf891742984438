"""A spec that validates renders and writes: patterns match whole values, derived names fit their limits."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from ckredis import model, render
from ckredis.errors import SpecError
from ckredis.load import Document, format_path, load
from ckredis.validate import schema, validate, validate_data
from conftest import ckredis
from specs import full, get, put, string_paths

FULL_STRINGS = list(string_paths(full()))


def issues_of(tmp_path, spec: dict) -> tuple[list, Document]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True))
    document = load(str(path))
    with pytest.raises(SpecError) as caught:
        validate(document)
    return caught.value.issues, document


def test_the_full_spec_is_valid_and_renders():
    files = render.render_chart(model.build(validate_data(full())))
    assert "templates/redisfailover.yaml" in files


@pytest.mark.parametrize("path", FULL_STRINGS, ids=[format_path(p) for p in FULL_STRINGS])
def test_a_trailing_newline_is_refused_in_every_string_field(tmp_path, path):
    spec = full()
    put(spec, path, get(spec, path) + "\n")
    issues, document = issues_of(tmp_path, spec)
    assert [(issue.path, issue.line, issue.column) for issue in issues] == [(format_path(path), *document.values[path])]


@pytest.mark.parametrize(
    "labels",
    [
        ("spec", "clients", 0, "podSelector"),
        ("spec", "monitoring", "labels"),
        ("spec", "monitoring", "alerts", "labels"),
    ],
)
def test_a_trailing_newline_is_refused_in_label_keys(tmp_path, labels):
    spec = full()
    put(spec, labels, {"team\n": "x"})
    issues, _ = issues_of(tmp_path, spec)
    assert [issue.path for issue in issues] == [format_path(labels + ("team\n",))]


def schema_patterns(node: object, under_not: bool = False):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and not under_not:
                yield value
            yield from schema_patterns(value, under_not or key == "not")
    elif isinstance(node, list):
        for item in node:
            yield from schema_patterns(item, under_not)


def test_every_schema_pattern_refuses_a_trailing_newline():
    """With the jsonschema library ckredis uses (Python's re.search, where `$` also matches before a final newline)."""
    patterns = [pattern for pattern in schema_patterns(schema()) if pattern.startswith("^")]  # not free text
    assert len(patterns) >= 14
    for pattern in patterns:
        matching = next(
            text
            for text in (
                "redis-system",
                "a",
                "256Mi",
                "5m",
                "team",
                "8Mi/s",
                "x.example.com:9115",
                "https://x.example.com/",
                "docker.io/library/redis:7.2.5-alpine",
            )
            if jsonschema.Draft202012Validator({"pattern": pattern}).is_valid(text)
        )
        assert not jsonschema.Draft202012Validator({"pattern": pattern}).is_valid(matching + "\n"), pattern


def test_a_name_with_a_trailing_newline_writes_nothing(tmp_path):
    """The issue's reproduction: `name: "myredis\\n"` validated, then wrote a chart directory named with a newline."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(full()).replace("name: full\n", 'name: "myredis\\n"\n'))
    out = tmp_path / "out"
    result = ckredis("render", str(spec), "-o", str(out))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{spec}:4:9: metadata.name: "myredis\\n" holds a line break (hint: remove it; a '
        "block scalar (|) ends with one, write the value on the key's line)"
    ]
    assert not out.exists()


# --- derived names -------------------------------------------------------------------------------------------------


def messages(spec: dict) -> list[str]:
    with pytest.raises(SpecError) as caught:
        validate_data(spec)
    return [f"{issue.path}: {issue.message} (hint: {issue.hint})" for issue in caught.value.issues]


@pytest.mark.parametrize("length", [229, 240, 246, 253])
def test_a_long_connection_name_is_a_validate_error_not_a_write_failure(tmp_path, length):
    """A connectionName of 240-253 characters validated, then render failed with `File name too long`."""
    spec = full()
    spec["spec"]["clients"][0]["connectionName"] = "c" * length
    (found,) = messages(spec)
    assert found.startswith("spec.clients[0].connectionName: the egress NetworkPolicy file name would be ")
    assert "over the limit of 255" in found and "(hint: shorten connectionName by at least" in found
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = ckredis("render", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 2 and "File name too long" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_the_longest_connection_name_that_fits_renders_and_writes(tmp_path):
    spec = full()
    namespace = spec["spec"]["clients"][0]["namespace"]
    longest = 255 - len(f"networkpolicy-{namespace}--egress.yaml")
    spec["spec"]["clients"][0]["connectionName"] = "c" * longest
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = ckredis("render", str(path), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    spec["spec"]["clients"][0]["connectionName"] += "c"
    assert messages(spec)[0].endswith("(hint: shorten connectionName by at least 1 characters)")


def test_without_an_egress_policy_only_the_connection_file_name_limits_the_name():
    spec = full()
    spec["spec"]["clients"][0]["connectionName"] = "c" * 230
    assert messages(spec)[0].startswith(
        "spec.clients[0].connectionName: the egress NetworkPolicy file name would be 262"
    )
    spec["spec"]["clients"][0]["egressPolicy"] = False
    assert validate_data(spec)
    spec["spec"]["clients"][0]["namespace"] = "n" * 63
    (found,) = messages(spec)
    assert found.startswith("spec.clients[0].connectionName: the connection file name would be 310 characters long")


def test_a_sentinel_host_name_over_253_characters_is_refused():
    spec = full()
    spec["spec"]["connection"]["clusterDomain"] = ".".join(["d" * 60] * 4)
    (found,) = messages(spec)
    assert found.startswith("spec.connection.clusterDomain: the sentinel host name would be 269 characters long")


def test_the_operator_name_limit_has_a_hint():
    spec = full()
    spec["metadata"]["name"] = "n" * 49
    (found,) = messages(spec)
    assert "is longer than 48 characters" in found and "the operator refuses longer names" in found


def test_every_client_name_within_the_schema_renders_or_is_refused():
    """No combination of namespace and connectionName lengths passes validate and then fails to render or write."""
    for namespace_length in (1, 30, 63):
        for name_length in range(180, 254, 7):
            spec = full()
            spec["spec"]["clients"][0].update(namespace="n" * namespace_length, connectionName="c" * name_length)
            try:
                cluster = model.build(validate_data(spec))
            except SpecError:
                continue
            files = render.render_chart(cluster)
            assert max(len(path.rsplit("/", 1)[-1].encode()) for path in files) <= 255
            names = [
                yaml.safe_load(text)["metadata"]["name"]
                for path, text in files.items()
                if path.startswith("templates/") and path.endswith(".yaml")
            ]
            assert max(map(len, names)) <= 253, json.dumps(names)


@pytest.mark.parametrize("value", ["~", "[1]", "{a: 1}", "true"])
def test_a_cpu_quantity_of_the_wrong_type_is_a_located_error(tmp_path, value):
    """Found by the property tests: `cpu: ~` crashed validate (the schema allows a string or a number)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(yaml.safe_dump(full()).replace("cpu: 250m", f"cpu: {value}"))
    result = ckredis("validate", str(spec))
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{spec}:") and ": spec.redis.resources.requests.cpu: " in line
    assert "a string or a number" in line
