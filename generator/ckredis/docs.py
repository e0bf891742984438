"""docs/spec.md, generated from the JSON Schema so the reference can never drift from what is validated."""

from __future__ import annotations

import json

from ckredis.validate import resolve_ref, schema

_INTRO = """\
# The ckredis service spec

<!-- Generated from schemas/ckredis-spec.schema.json by `ckredis schema --markdown`; do not edit. -->

{description}

Every mapping rejects keys it does not list. Values that YAML 1.1 tools read differently from YAML 1.2
(`yes`, `no`, `on`, `off`, dates, numbers with a leading zero) are rejected where text is expected: quote them.

| Field | Type | Default | Description | Example |
| --- | --- | --- | --- | --- |
"""


def spec_markdown() -> str:
    root = schema()
    rows: list[str] = []
    _walk(root, "", rows, _conditional_defaults(root, ""))
    return _INTRO.format(description=root["description"]) + "".join(rows)


def _walk(node: dict, path: str, rows: list[str], conditional: dict[str, str], shared: bool = False) -> None:
    shared = shared or "$ref" in node  # inside a shared definition, described anew where it is used
    node = resolve_ref(node)
    conditional = {**conditional, **_conditional_defaults(node, path)}
    for name, sub in node.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        resolved = _within_parent(resolve_ref(sub), name, node, shared)
        required = name in node.get("required", [])
        rows.append(_row(field, resolved, required, conditional.get(field, "")))
        if resolved.get("type") == "array":
            _walk(resolved["items"], f"{field}[]", rows, conditional, shared)
        elif "properties" in resolved:
            _walk({**sub, **resolved} if "$ref" in sub else resolved, field, rows, conditional, shared)


def _conditional_defaults(node: dict, path: str) -> dict[str, str]:
    """The defaults an `allOf` condition of `node` sets, by field, as Default cell text ("; `engine: valkey`: ...")."""
    found = {}
    for condition in node.get("allOf", []):
        when = ", ".join(f"`{name}: {sub['const']}`" for name, sub in condition["if"]["properties"].items())
        for field, default in _defaults_under(condition["then"], path):
            found[field] = f"; {when}: `{_inline(default)}`"
    return found


def _defaults_under(node: dict, path: str) -> list[tuple[str, object]]:
    found = []
    for name, sub in node.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        if "default" in sub:
            found.append((field, sub["default"]))
        found += _defaults_under(sub, field)
    return found


def _within_parent(node: dict, name: str, parent: dict, shared: bool) -> dict:
    """A field as its parent describes it: the fields of a shared definition take their example from the
    example where it is used (the exporters' resources are not the redis container's), and every field takes
    its default from its parent's, so rows agree with each other."""
    adjusted = dict(node)
    examples = [
        example[name] for example in parent.get("examples", []) if isinstance(example, dict) and name in example
    ]
    if isinstance(parent.get("default"), dict) and name in parent["default"]:
        adjusted["default"] = parent["default"][name]
        if shared:
            adjusted["examples"] = [parent["default"][name]]
    if shared and examples:
        adjusted["examples"] = examples
    return adjusted


def _row(field: str, node: dict, required: bool, conditional_default: str) -> str:
    kind = node.get("type", "")
    if isinstance(kind, list):
        kind = " or ".join(kind)
    if "enum" in node:
        kind = " \\| ".join(f"`{value}`" for value in node["enum"])
    elif "const" in node:
        kind = f"`{node['const']}`"
    limits = [
        f"{word} {node[key]}"
        for key, word in (("minimum", "≥"), ("maximum", "≤"), ("maxLength", "length ≤"))
        if key in node
    ]
    if limits:
        kind += " (" + ", ".join(limits) + ")"
    default = f"`{_inline(node['default'])}`" if "default" in node else "required" if required else ""
    default += conditional_default
    example = f"`{_inline(node['examples'][0])}`" if node.get("examples") else ""
    description = _markdown_text(node["description"])
    return f"| `{field}` | {kind} | {default} | {description} | {example} |\n"


def _markdown_text(text: str) -> str:
    """Text safe in a table cell: pipes escaped, and `<` escaped outside code spans, where it would start HTML."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(part if index % 2 else part.replace("<", "&lt;") for index, part in enumerate(parts))


def _inline(value: object) -> str:
    return json.dumps(value, separators=(", ", ": ")).replace("|", "\\|")
