"""Real Helm (v3 and v4): every example chart lints strictly, and `helm template` equals `ckredis render --stdout`."""

from __future__ import annotations

import subprocess

import pytest

from conftest import REPO, ckredis, documents, load_example, tool

HELMS = ["helm3", "helm4"]


def helm(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool(name), *args], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("helm_name", HELMS)
def test_helm_versions_are_the_pinned_ones(helm_name):
    version = helm(helm_name, "version", "--short").stdout
    assert version.startswith({"helm3": "v3.19.", "helm4": "v4."}[helm_name]), version


@pytest.mark.parametrize("helm_name", HELMS)
def test_lint_strict(helm_name, example):
    chart = REPO / "output" / load_example(example)["metadata"]["name"]
    result = helm(helm_name, "lint", "--strict", str(chart))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("helm_name", HELMS)
def test_helm_template_equals_stdout(helm_name, example):
    spec = load_example(example)
    name, namespace = spec["metadata"]["name"], spec["metadata"]["namespace"]
    rendered = helm(helm_name, "template", name, str(REPO / "output" / name), "--namespace", namespace)
    assert rendered.returncode == 0, rendered.stderr
    ours = ckredis("render", "--stdout", str(example))
    assert ours.returncode == 0, ours.stderr
    assert rendered.stdout == ours.stdout
    assert all(doc["metadata"].get("namespace") for doc in documents(ours.stdout))


@pytest.mark.parametrize("helm_name", HELMS)
def test_values_are_refused(helm_name, example):
    chart = REPO / "output" / load_example(example)["metadata"]["name"]
    result = helm(helm_name, "template", "x", str(chart), "--set", "redis.replicas=1")
    assert result.returncode != 0
    assert "redis" in result.stderr


@pytest.mark.parametrize("helm_name", HELMS)
def test_go_template_delimiters_in_manifests_come_out_of_helm_literally(helm_name, tmp_path):
    """Spec content is data: any `{{ ... }}` the renderer emits is printed by Helm, never evaluated."""
    from ckredis import render, yamltext

    text = '{{ .Release.Name }} {{- fail "boom" }} {{`x`}} }}{{ $labels.instance }}'
    manifest = f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: literal\ndata:\n  text: {yamltext.to_yaml(text)}\n"
    chart = tmp_path / "literal"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: literal\nversion: 0.1.0\n")
    (chart / "templates" / "literal.yaml").write_text(render.helm_literal(manifest))
    result = helm(helm_name, "template", "literal", str(chart))
    assert result.returncode == 0, result.stderr
    assert documents(result.stdout)[0]["data"]["text"] == text
