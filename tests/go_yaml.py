"""Read YAML the way Helm, kubectl and Argo CD do (Go's sigs.k8s.io/yaml), offline, through helm's `fromYaml`.

A throwaway chart holds each document as a file; its one template prints every file as `fromYaml | toJson`,
base64-encoded so that no text of the document can disturb the output. One helm run reads any number of documents.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
from pathlib import Path

import yaml

from ckredis.pipeline import Rendered

_READER = (
    '{{- range $path, $_ := .Files.Glob "docs/*" }}\n'
    "{{ base $path }}: {{ $.Files.Get $path | fromYaml | toJson | b64enc }}\n"
    "{{- end }}\n"
)
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # alert unit tests are long: read them with libyaml
_SEPARATOR = re.compile(r"^---[ \t]*$", re.MULTILINE)


def split_documents(text: str) -> list[str]:
    """The documents of a YAML stream that hold data (fromYaml reads only the first document of a text)."""
    return [part for part in _SEPARATOR.split(text) if yaml.load(part, Loader=_Loader) is not None]


def chart_documents(item: Rendered, alert_tests: bool = True) -> list[str]:
    """Every YAML document of a chart as Helm reads it: the manifests `helm template` prints and the data files,
    and what `ckredis test` gives promtool (the long unit tests only when asked)."""
    documents = split_documents(item.stream())
    for path, text in item.files.items():
        if path.endswith(".yaml") and not path.startswith("templates/"):
            documents += split_documents(text)
    for path, text in item.alert_tests.items():
        if alert_tests or path == "rules.yaml":
            documents += split_documents(text)
    return documents


def go_read(helm: str, documents: list[str]) -> list[object]:
    """Each document as Go's YAML reads it, as JSON data ({"Error": ...} when Go cannot read it)."""
    with tempfile.TemporaryDirectory() as directory:
        chart = Path(directory) / "reader"
        (chart / "templates").mkdir(parents=True)
        (chart / "docs").mkdir()
        (chart / "Chart.yaml").write_text("apiVersion: v2\nname: reader\nversion: 0.1.0\n")
        (chart / "templates" / "read.yaml").write_text(_READER)
        for index, document in enumerate(documents):
            (chart / "docs" / f"d{index:06d}").write_text(document, encoding="utf-8")
        result = subprocess.run([helm, "template", "reader", str(chart)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    encoded: dict[str, str] = {}
    for part in yaml.load_all(result.stdout, Loader=_Loader):
        encoded.update(part or {})
    return [json.loads(base64.b64decode(encoded[f"d{index:06d}"])) for index in range(len(documents))]


def python_read(document: str) -> object:
    """The document as PyYAML reads it, as JSON data; anything JSON cannot hold (a date, NaN) is an error."""
    try:
        return json.loads(json.dumps(yaml.load(document, Loader=_Loader), allow_nan=False))
    except (TypeError, ValueError, yaml.YAMLError) as error:
        return {"PythonError": str(error)}


def disagreements(helms: list[str], documents: list[str]) -> list[str]:
    """Every document that Go (in each helm given) and PyYAML read differently, with both readings."""
    python = [python_read(document) for document in documents]
    found = []
    for helm in helms:
        for document, go, ours in zip(documents, go_read(helm, documents), python, strict=True):
            if go != ours or "PythonError" in ours:
                found.append(
                    f"{document[:2000]!r}\n  Go ({helm}) reads: {json.dumps(go)[:2000]}\n"
                    f"  PyYAML reads: {json.dumps(ours)[:2000]}"
                )
    return found
