"""Every string ckredis emits reads back as the same string in PyYAML and in Go's YAML (Helm, kubectl, Argo CD).

Go's reader is the real one: helm's `fromYaml`, run offline on a throwaway chart (tests/go_yaml.py).
"""

from __future__ import annotations

import copy

import pytest
import yaml

from ckredis import yamltext
from ckredis.pipeline import render_specs
from conftest import EXAMPLES, load_example, tool
from go_yaml import chart_documents, disagreements, go_read

HELMS = ["helm3", "helm4"]

# Plain, each of these is not this text for at least one reader (Go's yaml.v2, PyYAML's YAML 1.1, YAML 1.2).
LOOK_ALIKES = [
    "y",
    "Y",
    "n",
    "N",
    "yes",
    "No",
    "ON",
    "off",
    "True",
    "FALSE",
    "~",
    "null",
    "Null",
    "NULL",
    "",
    "1e3",
    "1E3",
    "1e+3",
    "-1.5e-3",
    "0o17",
    "-0o7",
    "0O17",
    "0x1F",
    "0X1F",
    "0b11",
    "0B11",
    "-0b1",
    "+12",
    "-0",
    "0755",
    "08",
    "1_000",
    "1_",
    "0_x1",
    "1__2",
    "1:20",
    "1:20.5",
    "1.",
    ".5",
    "+.5",
    "1.0e+3",
    ".inf",
    "-.Inf",
    "+.INF",
    ".nan",
    ".NaN",
    "2001-02-03",
    "2001-2-3",
    "2001-02-03T04:05:06Z",
    "2001-02-03 04:05",
    "<<",
    "=",
    "a\nb",
    "x\n",
    "a\rb",
    "a\x85b",
    "a\u2028b",
    "\u2029",
]
# Ordinary text that must stay plain, so the goldens stay readable and their diffs small.
PLAIN = [
    "cache",
    "redis-system",
    "100m",
    "256Mi",
    "0.5m",
    "7.2.5-alpine",
    "v1.3.0-rc1",
    "1.2.3",
    "app.kubernetes.io/name",
    "docker.io/library/redis:7.2.5-alpine",
    "30s",
    "1h",
    "yess",
    "nil",
    "0x",
    "e3",
    "2001-02",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_quoted_and_read_back_by_pyyaml(text):
    assert not yamltext.plain_is_text(text)
    written = yamltext.to_yaml(text)
    assert "\n" not in written, "a scalar stays on its line"
    assert written != text
    assert yaml.safe_load(f"v: {written}\n{written}: 1\n") == {"v": text, text: 1}


@pytest.mark.parametrize("text", PLAIN)
def test_ordinary_text_stays_plain(text):
    assert yamltext.plain_is_text(text)
    assert yamltext.to_yaml(text) == text


@pytest.mark.parametrize("helm_name", HELMS)
def test_go_reads_every_quoted_look_alike_back(helm_name):
    documents = [
        f"value: {yamltext.to_yaml(text)}\nlist: [{yamltext.to_yaml(text)}]\n{yamltext.to_yaml(text)}: key\n"
        for text in LOOK_ALIKES + PLAIN
    ]
    read = go_read(tool(helm_name), documents)
    assert [item["value"] for item in read] == LOOK_ALIKES + PLAIN
    assert [item["list"] for item in read] == [[text] for text in LOOK_ALIKES + PLAIN]
    assert [sorted(item) for item in read] == [sorted(["value", "list", text]) for text in LOOK_ALIKES + PLAIN]


@pytest.mark.parametrize("helm_name", HELMS)
def test_the_go_reader_is_not_vacuous(helm_name):
    """Unquoted, Go misreads what the issue reported: a label value "Y" becomes true, "1e3" a number."""
    assert go_read(tool(helm_name), ["tier: Y\n", "n: 1e3\n"]) == [{"tier": True}, {"false": 1000}]


@pytest.mark.parametrize("helm_name", HELMS)
def test_every_example_chart_reads_the_same_in_go_and_python(helm_name):
    documents = [doc for item in render_specs([str(path) for path in EXAMPLES]) for doc in chart_documents(item)]
    assert len(documents) > 40
    assert disagreements([tool(helm_name)], documents) == []


def look_alike_spec(tmp_path) -> str:
    """The issue's reproduction: names, namespaces and label values that Go reads as booleans or numbers."""
    spec = copy.deepcopy(load_example(EXAMPLES[0]))
    spec["metadata"].update(name="y", namespace="1e3")
    spec["spec"]["clients"] = [
        {"namespace": "n", "podSelector": {"tier": "Y", "y": "0o17"}, "connectionName": "0x1f"},
        {"namespace": "on", "accessLabel": True, "connectionName": "1.5"},
    ]
    spec["spec"]["operator"] = {"namespace": "null", "podSelector": {"app": "N"}}
    spec["spec"]["monitoring"] = {
        "labels": {"evaluate_thanos": "Y", "n": "1_0"},
        "alerts": {"labels": {"team": "2001-02-03"}},
    }
    path = tmp_path / "look-alike.yaml"
    path.write_text(yaml.safe_dump(spec))
    return str(path)


@pytest.mark.parametrize("helm_name", HELMS)
def test_look_alike_names_and_labels_read_the_same_in_go_and_python(helm_name, tmp_path):
    (item,) = render_specs([look_alike_spec(tmp_path)])
    documents = chart_documents(item)
    assert any("tier: 'Y'" in doc for doc in documents)
    assert disagreements([tool(helm_name)], documents) == []


@pytest.mark.parametrize("helm_name", HELMS)
def test_helm_reads_a_look_alike_chart_name_as_written(helm_name, tmp_path):
    """Chart.yaml's name is what `helm template` prints in every `# Source:` line; Go read `name: y` as true."""
    import subprocess

    (item,) = render_specs([look_alike_spec(tmp_path)])
    chart = tmp_path / "chart"
    for path, text in item.files.items():
        (chart / path).parent.mkdir(parents=True, exist_ok=True)
        (chart / path).write_text(text)
    result = subprocess.run(
        [tool(helm_name), "template", "y", str(chart), "--namespace", "1e3"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == item.stream()
