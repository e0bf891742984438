"""GitOps integrations run as their hosts run them: the pre-commit hook, the CI examples in docs/ci.md,
and the Argo CD Config Management Plugin (sh -c in the application directory with Argo CD's environment)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO, documents

ARGOCD = REPO / "deploy" / "argocd"
VENV_BIN = str(Path(sys.executable).parent)  # where the ckredis console script is installed


def host_env(**extra: str) -> dict[str, str]:
    """A minimal environment, as a CI runner or sidecar gives: ckredis on PATH, nothing of ours inherited."""
    return {"PATH": f"{VENV_BIN}:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8", **extra}


def repository_with(tmp_path: Path, charts: str) -> Path:
    """A Git work tree holding a copy of output/ at `charts`, as a checkout of the target branch would
    (the chart README names its path relative to the repository root)."""
    root = tmp_path / "base"
    shutil.copytree(REPO / "output", root / charts)
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    return root


def sh(command: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", "-c", command], cwd=cwd, env=host_env(**env), capture_output=True, text=True, timeout=120
    )


# ---------------------------------------------------------------- pre-commit


def hook() -> dict:
    [only] = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    return only


def run_hook(filenames: list[str], args: list[str]) -> subprocess.CompletedProcess:
    """What pre-commit runs: the entry split like a shell would, then args, then the staged file names."""
    return subprocess.run(
        [*shlex.split(hook()["entry"]), *args, *filenames],
        cwd=REPO,
        env=host_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_hook_declares_a_python_hook_on_the_whole_fleet():
    declared = hook()
    assert declared["id"] == "ckredis-render-check" and declared["language"] == "python"
    assert declared["pass_filenames"] is False  # a commit touching one spec must not make the others orphans
    assert declared["always_run"] is True  # a hand edit to a chart's README.md or JSON is a stale chart too


def test_hook_passes_on_fresh_charts_and_fails_on_a_stale_or_orphan_one(tmp_path):
    assert run_hook([], hook()["args"]).returncode == 0  # its default arguments: this repository, output/
    fresh = run_hook([], ["examples", "-o", "output"])
    assert (fresh.returncode, fresh.stderr) == (0, "")

    output = repository_with(tmp_path, "output") / "output"
    (output / "cache" / "templates" / "redisfailover.yaml").write_text("# edited by hand\n")
    stale = run_hook([], ["examples", "-o", str(output)])
    assert stale.returncode == 1
    assert stale.stdout == f"stale: {output}/cache/templates/redisfailover.yaml\n"

    specs = tmp_path / "specs"
    shutil.copytree(REPO / "examples", specs)
    (specs / "session.yaml").unlink()
    orphan = run_hook([], [str(specs), "-o", "output"])
    assert orphan.returncode == 1 and orphan.stdout.startswith("orphan: output/sessions/")


# ---------------------------------------------------------------- CI examples in docs/ci.md


def ci_documents() -> list[dict]:
    text = (REPO / "docs" / "ci.md").read_text()
    return [yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", text, re.S)]


def command_lines(document: dict) -> list[str]:
    """Every `run:` of a GitHub job and every `script:` line of a GitLab job, in order."""
    lines = []
    for job in document.get("jobs", {}).values():
        lines += [step["run"] for step in job.get("steps", []) if "run" in step]
    for job in document.values():
        if isinstance(job, dict) and "script" in job:
            lines += job["script"]
    return lines


def test_ci_examples_parse_and_name_the_commands():
    github, gitlab, precommit = ci_documents()
    assert github[True] == "pull_request"  # PyYAML reads the key `on` as YAML 1.1's boolean; GitHub as "on"
    assert gitlab["redis"]["rules"]
    assert precommit["repos"][0]["hooks"][0]["id"] == hook()["id"]
    for document in (github, gitlab):
        ckredis_lines = [line for line in command_lines(document) if line.startswith("ckredis ")]
        assert [line.split()[1] for line in ckredis_lines] == ["render", "diff"]


def test_ci_commands_run_against_the_examples(tmp_path):
    """The ckredis command lines, run by a shell with the job's variables pointed at examples/ and output/.

    The target branch's charts are a copy of output/ here, so the diff is empty; a changed copy must be reported."""
    for document, base_variable in ((ci_documents()[0], "RUNNER_TEMP"), (ci_documents()[1], None)):
        ckredis_lines = [line for line in command_lines(document) if line.startswith("ckredis ")]
        shutil.rmtree(tmp_path / "base", ignore_errors=True)
        base = repository_with(tmp_path, "output")
        for line in ckredis_lines:
            # GitLab's job writes to /tmp; keep the test inside its own folder
            line = line.replace("/tmp/base", str(base)).replace("/tmp/diff.md", str(tmp_path / "diff.md"))
            env = {"SPECS": "examples", "CHARTS": "output"}
            if base_variable:
                env[base_variable] = str(tmp_path)
            result = sh(line, REPO, **env)
            assert (result.returncode, result.stderr) == (0, ""), line
        assert (tmp_path / "diff.md").read_text() == "### ckredis diff\n\nNo chart changes.\n"

    (base / "output" / "cache" / "templates" / "redisfailover.yaml").write_text("# old\n")
    diff_line = next(line for line in command_lines(ci_documents()[0]) if line.startswith("ckredis diff"))
    result = sh(diff_line, REPO, SPECS="examples", CHARTS="output", RUNNER_TEMP=str(tmp_path))
    assert (result.returncode, result.stderr) == (0, "")  # exit 1 (changes) is accepted by the job
    comment = (tmp_path / "diff.md").read_text()
    assert "#### `cache` (changed)" in comment and "| object | RedisFailover redis-system/cache | added |" in comment


# ---------------------------------------------------------------- Argo CD


def plugin() -> dict:
    return yaml.safe_load((ARGOCD / "plugin.yaml").read_text())


def generate(app_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """Run the plugin's generate command as argocd-cmp-server does: its command with its args, in the app path."""
    spec = plugin()["spec"]["generate"]
    assert spec["command"] == ["sh", "-c"]
    return subprocess.run(
        [*spec["command"], *spec["args"]],
        cwd=app_dir,
        capture_output=True,
        text=True,
        timeout=120,
        env=host_env(
            ARGOCD_APP_NAME="redis-cache", ARGOCD_APP_NAMESPACE="argocd", ARGOCD_APP_REVISION="0123456789abcdef", **env
        ),
    )


def test_plugin_prints_only_manifests(tmp_path):
    app = tmp_path / "specs" / "cache"
    app.mkdir(parents=True)
    shutil.copy(REPO / "examples" / "cache.yaml", app / "cache.yaml")
    (app / "NOTES.md").write_text("not a spec\n")
    (app / "kustomization.yaml").write_text("resources: []\n")  # other YAML beside the spec is ignored
    (app / "prod").mkdir()
    shutil.copy(REPO / "examples" / "session.yaml", app / "prod" / "session.yaml")  # found in a sub-folder too
    result = generate(app)
    assert (result.returncode, result.stderr) == (0, "")
    objects = documents(result.stdout)
    assert all({"apiVersion", "kind", "metadata"} <= obj.keys() and obj["metadata"]["name"] for obj in objects)
    assert [obj["metadata"]["name"] for obj in objects if obj["kind"] == "RedisFailover"] == ["cache", "sessions"]
    assert len(objects) == sum(
        len(list((REPO / "output" / name / "templates").glob("*.yaml"))) for name in ("cache", "sessions")
    )


def test_plugin_selects_specs_from_the_application_env(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    for example in ("cache", "session"):
        shutil.copy(REPO / "examples" / f"{example}.yaml", app / f"{example}.yaml")
    (app / "kustomization.yaml").write_text("resources: []\n")  # not a spec: must not be read
    result = generate(app, ARGOCD_ENV_CKREDIS_SPECS="session.yaml")
    assert (result.returncode, result.stderr) == (0, "")
    failovers = [obj["metadata"]["name"] for obj in documents(result.stdout) if obj["kind"] == "RedisFailover"]
    assert failovers == ["sessions"]


def test_plugin_fails_with_a_located_error_and_no_output(tmp_path):
    app = tmp_path / "app"
    app.mkdir()
    (app / "cache.yaml").write_text(
        (REPO / "examples" / "cache.yaml").read_text().replace("purpose: cache", "purpose: archive")
    )
    result = generate(app)
    assert (result.returncode, result.stdout) == (2, "")
    assert re.match(r"cache\.yaml:\d+:\d+: spec\.purpose: ", result.stderr)


def test_argocd_examples_have_the_required_fields():
    declared = plugin()
    assert (declared["apiVersion"], declared["kind"], declared["metadata"]["name"]) == (
        "argoproj.io/v1alpha1",
        "ConfigManagementPlugin",
        "ckredis",
    )
    assert "ckredis render --stdout" in declared["spec"]["generate"]["args"][0]

    app = yaml.safe_load((ARGOCD / "application.yaml").read_text())
    assert (app["apiVersion"], app["kind"]) == ("argoproj.io/v1alpha1", "Application")
    source = app["spec"]["source"]
    assert {"repoURL", "path", "targetRevision"} <= source.keys() and app["spec"]["project"]
    assert source["plugin"]["name"] == declared["metadata"]["name"]  # no spec.version: the name alone
    assert app["spec"]["destination"]["server"]

    appset = yaml.safe_load((ARGOCD / "applicationset.yaml").read_text())
    assert (appset["apiVersion"], appset["kind"]) == ("argoproj.io/v1alpha1", "ApplicationSet")
    [generator] = appset["spec"]["generators"]
    assert generator["git"]["directories"] and generator["git"]["repoURL"]
    template = appset["spec"]["template"]
    assert template["spec"]["source"]["helm"]["releaseName"] == "{{.path.basename}}"  # the chart needs name = release
    assert template["spec"]["source"]["path"] == "{{.path.path}}" and template["metadata"]["name"]
