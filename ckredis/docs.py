"""docs/spec.md, generated from the JSON Schema so the reference can never drift from what is validated."""

from __future__ import annotations

import json

from ckredis.validate import schema

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
    rows = []
    _walk(root, "", rows, root["$defs"])
    return _INTRO.format(description=root["description"]) + "".join(rows)


def _resolve(node: dict, defs: dict) -> dict:
    if "$ref" in node:
        return {**defs[node["$ref"].rsplit("/", 1)[1]], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _walk(node: dict, path: str, rows: list[str], defs: dict) -> None:
    node = _resolve(node, defs)
    for name, sub in node.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        resolved = _resolve(sub, defs)
        required = name in node.get("required", [])
        rows.append(_row(field, resolved, required))
        if resolved.get("type") == "array":
            _walk(_resolve(resolved["items"], defs), f"{field}[]", rows, defs)
        elif "properties" in resolved:
            _walk(resolved, field, rows, defs)


def _row(field: str, node: dict, required: bool) -> str:
    kind = node.get("type", "")
    if "enum" in node:
        kind = " \\| ".join(f"`{value}`" for value in node["enum"])
    elif "const" in node:
        kind = f"`{node['const']}`"
    limits = [f"{word} {node[key]}" for key, word in (("minimum", "≥"), ("maximum", "≤"), ("maxLength", "length ≤"))
              if key in node]
    if limits:
        kind += " (" + ", ".join(limits) + ")"
    default = "required" if required else (f"`{_inline(node['default'])}`" if "default" in node else "")
    example = f"`{_inline(node['examples'][0])}`" if node.get("examples") else ""
    description = _markdown_text(node["description"])
    return f"| `{field}` | {kind} | {default} | {description} | {example} |\n"


def _markdown_text(text: str) -> str:
    """Text safe in a table cell: pipes escaped, and `<` escaped outside code spans, where it would start HTML."""
    parts = text.replace("|", "\\|").split("`")
    return "`".join(part if index % 2 else part.replace("<", "&lt;") for index, part in enumerate(parts))


def _inline(value: object) -> str:
    return json.dumps(value, separators=(", ", ": ")).replace("|", "\\|")
