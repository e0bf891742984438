"""Warnings: located like errors, printed on stderr as `FILE:LINE:COL: PATH: warning: ...`, exit code 0, never blocking.

Through the real CLI: vulnerable pinned images (the dated advisory table), images from public registries
(Compliant Kubernetes' trusted-registry safeguard), and clients of several applications on one cluster.
"""

from __future__ import annotations

import pytest

from ckredis import advisories
from ckredis.validate import validate_data
from conftest import EXAMPLES, REPO, ckredis, load_example

# Line numbers of QUIET, for reading the expected locations below. It draws no warning.
QUIET = """\
apiVersion: ckredis.elastisys.io/v1alpha1
kind: RedisCluster
metadata:
  name: cache
  namespace: redis-system
spec:
  purpose: cache
  images:
    registry: harbor.example.com/proxy
  redis:
    resources:
      requests: {cpu: 100m, memory: 256Mi}
      limits: {memory: 256Mi}
  clients:
    - namespace: shop
      podSelector:
        app.kubernetes.io/name: shop-web
"""
#  6 spec   8 images   9 registry   14 clients


def spec_file(tmp_path, text: str, name: str = "spec.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def edit(old: str, new: str, text: str = QUIET) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def second_client(namespace: str, selector: str = "app.kubernetes.io/name: other") -> str:
    return QUIET + (
        f"    - namespace: {namespace}\n      connectionName: redis-other\n      podSelector:\n        {selector}\n"
    )


def warnings_of(path) -> list[str]:
    result = ckredis("validate", str(path))
    assert result.returncode == 0, result.stderr
    return result.stderr.splitlines()


def test_a_quiet_spec_draws_no_warning(tmp_path):
    result = ckredis("validate", str(spec_file(tmp_path, QUIET)))
    assert (result.returncode, result.stderr) == (0, "")


# ---------------------------------------------------------------- vulnerable images


def test_a_pinned_vulnerable_redis_is_a_located_warning_and_the_chart_is_still_written(tmp_path):
    path = spec_file(
        tmp_path,
        edit(
            "    registry: harbor.example.com/proxy\n",
            "    registry: harbor.example.com/proxy\n    redis: docker.io/library/redis:7.2.10-alpine\n",
        ),
    )
    out = tmp_path / "out"
    result = ckredis("render", str(path), "-o", str(out))
    assert result.returncode == 0, result.stderr
    (line,) = result.stderr.splitlines()
    expected_ids = [
        "CVE-2025-49844",
        "CVE-2025-46817",
        "CVE-2025-46818",
        "CVE-2025-46819",
        "CVE-2026-23479",
        "CVE-2026-25243",
        "CVE-2026-23631",
        "CVE-2026-81934",
    ]
    assert line.startswith(
        f"{path}:10:12: spec.images.redis: warning: Redis 7.2.10 has {len(expected_ids)} known vulnerabilities"
    )
    assert "CVE-2025-49844 (CVSS 3.1 10.0 critical)" in line
    assert [part.split(" (")[0] for part in line.split(": ", 4)[4].split(" (hint")[0].split(", ")] == expected_ids
    assert line.endswith(
        "(hint: pin Redis 7.2.16 or a later 7.2 release (same image flavour), "
        "or leave the image unset for the patched default)"
    )
    assert "7.2.10-alpine" in (out / "cache" / "templates" / "redisfailover.yaml").read_text()


def test_sentinel_is_judged_too_and_an_unsupported_line_says_so(tmp_path):
    path = spec_file(
        tmp_path,
        edit(
            "    registry: harbor.example.com/proxy\n",
            "    registry: harbor.example.com/proxy\n    sentinel: docker.io/library/redis:7.0.15\n",
        ),
    )
    (line,) = warnings_of(path)
    assert line.startswith(f"{path}:10:15: spec.images.sentinel: warning: Redis 7.0.15 has ")
    assert line.endswith(
        "(hint: Redis 7.0 gets no more fixes; pin a supported release line (see generator/ckredis/advisories.py))"
    )


@pytest.mark.parametrize(
    "image",
    [
        "docker.io/library/redis:7.2-alpine",  # no patch version: cannot be told
        "docker.io/library/redis@sha256:" + "a" * 64,  # digest only
        "docker.io/valkey/valkey:9.1-alpine",  # no patch version
        "docker.io/valkey/valkey:9.1.2-alpine",  # patched
        "docker.io/library/redis:7.2.16-alpine",  # patched
    ],
)
def test_images_that_cannot_be_judged_or_are_patched_draw_no_warning(tmp_path, image):
    text = edit(
        "    registry: harbor.example.com/proxy\n", f"    registry: harbor.example.com/proxy\n    redis: {image}\n"
    )
    if "/valkey/" in image:  # a Valkey image under engine: redis would draw the engine warning
        text = edit("  purpose: cache\n", "  purpose: cache\n  engine: valkey\n", text)
    path = spec_file(tmp_path, text)
    assert warnings_of(path) == []


def test_the_default_images_are_not_affected_by_any_known_advisory():
    for engine in ("redis", "valkey"):
        images = validate_data(
            {**load_example(EXAMPLES[0]), "spec": {**load_example(EXAMPLES[0])["spec"], "engine": engine}}
        )["spec"]["images"]
        for kind in ("redis", "sentinel"):
            default = images[kind]
            assert advisories.product(default) == engine, default
            assert advisories.server_version(default) is not None, f"the table cannot judge {default}"
            assert advisories.affecting(default) == [], f"{default} is affected: bump the default"


def _valkey_pinned(tmp_path, version: str):
    """A Valkey cache spec that pins docker.io/valkey/valkey:<version>-alpine."""
    return spec_file(
        tmp_path,
        edit(
            "  purpose: cache\n  images:\n    registry: harbor.example.com/proxy\n",
            "  purpose: cache\n  engine: valkey\n  images:\n"
            "    registry: harbor.example.com/proxy\n"
            f"    redis: docker.io/valkey/valkey:{version}-alpine\n",
        ),
    )


def test_a_pinned_vulnerable_valkey_is_judged_by_valkey_releases_not_redis_ones(tmp_path):
    path = _valkey_pinned(tmp_path, "9.0.4")
    (line,) = warnings_of(path)
    # 9.0.4 has the May 2026 fixes (Redis would need 7.2.14 for the same CVE ids) but not July's 9.0.5 ones.
    assert line.startswith(f"{path}:11:12: spec.images.redis: warning: Valkey 9.0.4 has 2 known vulnerabilities")
    assert "CVE-2026-56684" in line and "CVE-2026-63639" in line and "CVE-2026-23479" not in line
    assert line.endswith(
        "(hint: pin Valkey 9.0.5 or a later 9.0 release (same image flavour), "
        "or leave the image unset for the patched default)"
    )


@pytest.mark.parametrize("line, first_fixed", [("8.0", "8.0.10"), ("8.1", "8.1.9"), ("9.0", "9.0.5"), ("9.1", "9.1.1")])
def test_the_table_names_the_first_fixed_valkey_release_of_every_supported_line(line, first_fixed):
    valkey = [advisory for advisory in advisories.ADVISORIES if advisory.product == "valkey"]
    assert valkey
    newest = max(
        (fix for advisory in valkey for fix in advisory.fixed if fix.startswith(line + ".")), key=advisories.parse
    )
    assert newest == first_fixed
    before = f"docker.io/valkey/valkey:{line}.{advisories.parse(first_fixed)[2] - 1}"
    assert advisories.affecting(before) and not advisories.affecting(f"docker.io/valkey/valkey:{first_fixed}")


@pytest.mark.parametrize(
    "version, affected",
    [
        ("7.2.5", True),
        ("7.2.10", True),
        ("7.2.11", False),  # the fix of its own line
        ("7.0.15", True),  # a line older than the newest fix that never got one
        ("8.4.0", False),  # released after the fix, in a newer line
        ("6.2.19", True),
        ("6.2.20", False),
    ],
)
def test_the_lua_rce_advisory_reads_its_ranges(version, affected):
    (advisory,) = [a for a in advisories.ADVISORIES if a.id == "CVE-2025-49844"]
    assert advisory.affects(advisories.parse(version)) is affected


def test_an_advisory_does_not_reach_before_it_was_introduced():
    (advisory,) = [a for a in advisories.ADVISORIES if a.id == "CVE-2026-23479" and a.product == "redis"]
    assert not advisory.affects((6, 2, 21)) and advisory.affects((7, 2, 13)) and not advisory.affects((7, 2, 14))


def test_the_table_is_dated_and_every_entry_names_its_source():
    assert advisories.CHECKED_ON >= "2026-12-05"
    assert len({(a.product, a.id) for a in advisories.ADVISORIES}) == len(advisories.ADVISORIES)
    assert {a.product for a in advisories.ADVISORIES} == set(advisories.PRODUCTS)
    for advisory in advisories.ADVISORIES:
        assert advisory.source.startswith("https://") and advisory.fixed and advisory.summary


# ---------------------------------------------------------------- trusted registry


def test_images_from_docker_hub_and_quay_draw_the_trusted_registry_warning(tmp_path):
    path = spec_file(tmp_path, edit("  images:\n    registry: harbor.example.com/proxy\n", ""))
    (line,) = warnings_of(path)
    assert line.startswith(
        f"{path}:6:1: spec.images.registry: warning: images are pulled from docker.io and quay.io: "
        "Compliant Kubernetes warns"
    )
    assert "set images.registry (e.g. harbor.example.com/redis)" in line


def test_images_pinned_to_a_private_registry_need_no_prefix(tmp_path):
    private = "".join(
        f"    {kind}: harbor.example.com/mirror/{name}\n"
        for kind, name in [
            ("redis", "redis:7.2.16-alpine"),
            ("sentinel", "redis:7.2.16-alpine"),
            ("exporter", "redis_exporter:v1.87.0"),
        ]
    )
    path = spec_file(tmp_path, edit("    registry: harbor.example.com/proxy\n", private))
    assert warnings_of(path) == []


# ---------------------------------------------------------------- one purpose, one tenant


def test_clients_of_two_applications_draw_the_tenancy_warning_at_spec_clients(tmp_path):
    path = spec_file(tmp_path, second_client("billing"))
    (line,) = warnings_of(path)
    assert line == (
        f"{path}:14:3: spec.clients: warning: clients of 2 applications (namespace billing, namespace shop) "
        "share this cluster: they share eviction (one fills memory, the others lose keys), every failover and "
        "restart, the password, and CPU and connections (noisy neighbours) (hint: give each application its "
        "own cluster, or record why sharing is acceptable in multiTenant.reason)"
    )


def test_one_namespace_or_one_part_of_label_is_one_application(tmp_path):
    assert warnings_of(spec_file(tmp_path, second_client("shop"), "same-namespace.yaml")) == []
    shared_part_of = edit(
        "        app.kubernetes.io/name: shop-web\n",
        "        app.kubernetes.io/name: shop-web\n        app.kubernetes.io/part-of: shop\n",
        second_client("shop-jobs", "app.kubernetes.io/part-of: shop"),
    )
    assert warnings_of(spec_file(tmp_path, shared_part_of, "same-part-of.yaml")) == []


def test_an_acknowledgment_silences_the_tenancy_warning_and_is_itself_checked(tmp_path):
    reason = "  multiTenant:\n    reason: One team owns shop and billing; both rebuild their keys in seconds.\n"
    assert warnings_of(spec_file(tmp_path, second_client("billing") + reason, "shared.yaml")) == []
    (line,) = warnings_of(spec_file(tmp_path, QUIET + reason, "alone.yaml"))
    assert line == (
        f"{tmp_path / 'alone.yaml'}:18:3: spec.multiTenant: warning: the clients belong to one application; "
        "multiTenant has no effect (hint: remove multiTenant)"
    )


def test_an_empty_reason_is_an_error(tmp_path):
    result = ckredis(
        "validate", str(spec_file(tmp_path, second_client("billing") + "  multiTenant:\n    reason: '  '\n"))
    )
    assert result.returncode == 2
    assert "spec.multiTenant.reason" in result.stderr


# ---------------------------------------------------------------- warnings in every mode


def test_warnings_reach_stderr_in_every_mode_and_never_change_the_exit_code(tmp_path):
    path = spec_file(tmp_path, second_client("billing"))
    out = tmp_path / "out"
    written = ckredis("render", str(path), "-o", str(out))
    checked = ckredis("render", "--check", str(path), "-o", str(out))
    streamed = ckredis("render", "--stdout", str(path))
    for result in (written, checked, streamed):
        assert result.returncode == 0, result.stderr
        assert [line.split(": ", 3)[2] for line in result.stderr.splitlines() if ": warning: " in line] == ["warning"]
    assert streamed.stdout.startswith("---\n# Source: ") and ": warning: " not in streamed.stdout


def test_an_error_elsewhere_still_fails_and_shows_only_errors(tmp_path):
    warned = spec_file(tmp_path, second_client("billing"), "warned.yaml")
    broken = spec_file(
        tmp_path, edit("name: cache", "name: other").replace("purpose: cache", "purpose: cahce"), "broken.yaml"
    )
    result = ckredis("validate", str(warned), str(broken))
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{broken}:7:12: spec.purpose: \"cahce\" is not one of cache, session (hint: did you mean 'cache'?)"
    ]


def test_the_examples_draw_no_warning():
    result = ckredis("validate", *map(str, sorted((REPO / "examples").glob("*.yaml"))))
    assert (result.returncode, result.stderr) == (0, "")


# ---------------------------------------------------------------- the fork today


def test_a_freshworks_spec_renders_as_before_and_names_the_target_and_the_label(tmp_path):
    path = spec_file(tmp_path, edit("  purpose: cache\n", "  purpose: cache\n  operator:\n    version: freshworks\n"))
    out = tmp_path / "out"
    result = ckredis("render", str(path), "-o", str(out))
    assert result.returncode == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{path}:9:14: spec.operator.version: warning: ")
    assert "redis-failover.freshworks.com/operator-group" in line and "ignores this cluster" in line
    assert "set spec.operator.version: freshworks-v3.3.5 and spec.operator.group" in line
    assert "operator-group" not in (out / "cache" / "templates" / "redisfailover.yaml").read_text()


def test_a_pinned_valkey_9_0_2_warns_of_the_february_2026_crash_and_later_fixes(tmp_path):
    path = _valkey_pinned(tmp_path, "9.0.2")
    (line,) = warnings_of(path)
    # CVE-2026-27623 came with 9.0.0 and was fixed in 9.0.3; CVE-2026-21863 was fixed in 9.0.2 on that line.
    assert "CVE-2026-27623 (CVSS 3.1 7.5 high)" in line and "CVE-2026-21863" not in line
    assert line.endswith(
        "(hint: pin Valkey 9.0.5 or a later 9.0 release (same image flavour), "
        "or leave the image unset for the patched default)"
    )
    (cluster_bus,) = [a for a in advisories.ADVISORIES if a.id == "CVE-2026-21863"]
    assert cluster_bus.affects(advisories.parse("8.1.5")) and not cluster_bus.affects(advisories.parse("8.1.6"))
    assert not cluster_bus.affects(advisories.parse("9.1.0"))  # every 9.1 release came after the fix
