"""The chart's identity: its version follows its content (and stays SemVer for helm v3 and v4), object names and
labels stay put, and the README's Argo CD example names the path the chart was rendered to."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from conftest import REPO, ckredis, tool

SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)


def spec_with_memory(tmp_path, memory: str):
    text = (REPO / "examples" / "cache.yaml").read_text().replace("memory: 256Mi", f"memory: {memory}")
    path = tmp_path / f"cache-{memory}.yaml"
    path.write_text(text)
    return path


def render(spec, output) -> dict[str, str]:
    result = ckredis("render", str(spec), "-o", str(output))
    assert result.returncode == 0, result.stderr
    return {
        path.relative_to(output / "cache").as_posix(): path.read_text()
        for path in (output / "cache").rglob("*")
        if path.is_file()
    }


def chart_version(files: dict[str, str]) -> str:
    return yaml.safe_load(files["Chart.yaml"])["version"]


def test_version_changes_with_the_content_and_only_then(tmp_path):
    small = render(spec_with_memory(tmp_path, "256Mi"), tmp_path / "a")
    again = render(spec_with_memory(tmp_path, "256Mi"), tmp_path / "b")
    large = render(spec_with_memory(tmp_path, "512Mi"), tmp_path / "c")
    assert SEMVER.match(chart_version(small)), chart_version(small)
    # b and c are rendered to different paths, so their READMEs differ from a's; compare like with like
    assert chart_version(again) != chart_version(small) and again["README.md"] != small["README.md"]
    assert chart_version(render(spec_with_memory(tmp_path, "256Mi"), tmp_path / "a")) == chart_version(small)
    assert chart_version(large) != chart_version(again)
    # the object labels keep the plain version: a memory change does not touch the connection Secret
    assert large["templates/connection-shop-redis-cache.yaml"] == again["templates/connection-shop-redis-cache.yaml"]
    assert "helm.sh/chart: cache-0.1.0\n" in large["templates/redisfailover.yaml"]


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_helm_lints_and_packages_the_versioned_chart(helm_name, tmp_path):
    chart = REPO / "output" / "cache"
    version = yaml.safe_load((chart / "Chart.yaml").read_text())["version"]
    lint = subprocess.run(
        [tool(helm_name), "lint", "--strict", str(chart)], capture_output=True, text=True, timeout=120
    )
    assert lint.returncode == 0 and "[WARNING]" not in lint.stdout, lint.stdout + lint.stderr
    package = subprocess.run(
        [tool(helm_name), "package", str(chart), "-d", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert package.returncode == 0, package.stderr
    assert (tmp_path / f"cache-{version}.tgz").is_file()
    shown = subprocess.run(
        [tool(helm_name), "show", "chart", str(tmp_path / f"cache-{version}.tgz")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert yaml.safe_load(shown.stdout)["version"] == version


def argocd_path(files: dict[str, str]) -> str:
    return re.search(r"^    path: (.*)$", files["README.md"], re.M).group(1)


def test_readme_names_the_path_relative_to_the_git_root(tmp_path):
    repo = tmp_path / "platform"
    (repo / "clusters").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True, timeout=30)
    spec = spec_with_memory(tmp_path, "256Mi")
    # rendered from inside the repository, with a relative -o
    result = subprocess.run(
        [sys.executable, "-m", "ckredis", "render", str(spec), "-o", "charts/redis"],
        cwd=repo / "clusters",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    readme = (repo / "clusters" / "charts" / "redis" / "cache" / "README.md").read_text()
    assert "    path: clusters/charts/redis/cache\n" in readme
    # and from outside it, with an absolute -o: the same path
    assert argocd_path(render(spec, repo / "clusters" / "charts" / "redis")) == "clusters/charts/redis/cache"
    # outside any repository: as given
    assert argocd_path(render(spec, tmp_path / "loose")) == f"{tmp_path}/loose/cache"


def test_check_and_diff_use_the_same_path(tmp_path):
    spec = spec_with_memory(tmp_path, "256Mi")
    render(spec, tmp_path / "charts")
    assert ckredis("render", "--check", str(spec), "-o", str(tmp_path / "charts")).returncode == 0
    assert ckredis("diff", str(spec), "-o", str(tmp_path / "charts")).returncode == 0
