"""spec.engine: Redis or Valkey, and what each engine changes in the chart."""

from __future__ import annotations

import copy
import itertools

import pytest
import yaml

from ckredis import memory, model, render
from ckredis.facts import ENGINES, RESERVED_POD_MEMORY_PERCENT
from ckredis.validate import validate_data
from conftest import EXAMPLES, REPO, ckredis, load_example

VALKEY_IMAGE = "docker.io/valkey/valkey:9.1.2-alpine"


def _cache(**spec_fields) -> dict:
    data = copy.deepcopy(load_example(next(path for path in EXAMPLES if path.stem == "cache")))
    data["spec"].update(spec_fields)
    return data


def test_the_default_engine_is_redis_with_the_redis_images():
    cluster = model.build(validate_data(_cache()))
    assert cluster.engine == "redis"
    assert cluster.redis.image.endswith("/library/redis:7.2.16-alpine")
    assert cluster.sentinel.image == cluster.redis.image


def test_valkey_runs_the_valkey_image_after_the_same_registry_rewrite():
    data = _cache(engine="valkey")
    cluster = model.build(validate_data(data))
    registry = data["spec"]["images"]["registry"]
    assert cluster.redis.image == cluster.sentinel.image == f"{registry}/valkey/valkey:9.1.2-alpine"
    assert cluster.exporter_image == f"{registry}/oliver006/redis_exporter:v1.91.1"


def test_valkey_exporter_has_the_valkey_fixes_of_v1_90():
    exporter = validate_data(_cache(engine="valkey"))["spec"]["images"]["exporter"]
    version = tuple(int(part) for part in exporter.rsplit(":v", 1)[1].split("."))
    assert version >= (1, 90)


def test_an_image_the_spec_pins_wins_over_the_engine_default():
    data = _cache(engine="valkey")
    data["spec"]["images"] = {"redis": "docker.io/valkey/valkey:9.0.6-alpine"}
    images = validate_data(data)["spec"]["images"]
    assert images["redis"] == "docker.io/valkey/valkey:9.0.6-alpine"
    assert images["sentinel"] == VALKEY_IMAGE


def _render(data: dict) -> dict[str, dict]:
    cluster = model.build(validate_data(data))
    return {path: yaml.safe_load(text) for path, text in render.manifests(cluster).items()}


def _on(version: str, engine: str, **spec_fields) -> dict:
    data = _cache(engine=engine, **spec_fields)
    data["spec"]["operator"] = {"version": version, **({"group": "platform"} if version == "freshworks-v3.3.5" else {})}
    return data


@pytest.mark.parametrize(
    "version, engine, server, cli",
    [
        ("v1.2.4", "valkey", "redis-server", None),  # no custom probes: the operator's own, which call redis-cli
        ("v1.3.0-rc1", "valkey", "redis-server", "redis-cli"),  # the Valkey image's symlinks
        ("freshworks-v3.3.5", "valkey", "valkey-server", "valkey-cli"),  # the fork's Valkey mode
        ("freshworks-v3.3.5", "redis", "redis-server", "redis-cli"),
    ],
)
def test_commands_and_probes_call_what_the_operator_runs(version, engine, server, cli):
    failover = _render(_on(version, engine))["templates/redisfailover.yaml"]["spec"]
    assert failover["redis"]["command"][0] == server
    probes = [
        failover[kind][field]["exec"]["command"][-1]
        for kind in ("redis", "sentinel")
        for field in ("customLivenessProbe", "customStartupProbe")
        if field in failover[kind]
    ]
    if cli is None:
        assert probes == []
    else:
        assert len(probes) == 4 and all(f"$({cli} -h 127.0.0.1" in probe for probe in probes), probes
        other = {"redis-cli", "valkey-cli"} - {cli}
        assert not any(name in probe for probe in probes for name in other)


def test_a_valkey_chart_on_an_operator_without_engines_explains_the_symlinks():
    readme = render.render_chart(model.build(validate_data(_on("v1.2.4", "valkey"))))["README.md"]
    assert "The v1.2.4 operator knows only Redis: it starts `redis-server`" in readme
    assert "USE_REDIS_SYMLINKS=yes" in readme
    fork = render.render_chart(model.build(validate_data(_on("freshworks-v3.3.5", "valkey"))))["README.md"]
    assert "USE_REDIS_SYMLINKS" not in fork and "Valkey mode (`engine: Valkey`)" in fork


@pytest.mark.parametrize("engine, title, other", [("redis", "Redis", "Valkey"), ("valkey", "Valkey", "Redis")])
def test_the_charts_headlines_name_the_server_the_pods_run(engine, title, other):
    files = render.render_chart(model.build(validate_data(_cache(engine=engine))))
    description = yaml.safe_load(files["Chart.yaml"])["description"]
    assert description.startswith(f"{title} Sentinel cluster ") and other not in description
    readme = files["README.md"].splitlines()
    assert readme[1] == f"# cache: {title} cache in redis-system"
    assert any(line.startswith(f"| {title} | 3 pods ") for line in readme)
    headline = files["templates/NOTES.txt"].splitlines()[1]
    assert headline.startswith(f"{title} cache ") and f": 3 {title} pods watched by 3 Sentinels" in headline


@pytest.mark.parametrize("engine, title, other", [("redis", "Redis", "Valkey"), ("valkey", "Valkey", "Redis")])
def test_alerts_and_the_dashboard_name_the_server_the_pods_run(engine, title, other):
    files = render.render_chart(
        model.build(validate_data(_cache(engine=engine, monitoring={"dashboard": {"enabled": True}})))
    )
    rules = yaml.safe_load(files["templates/prometheusrule.yaml"])["spec"]["groups"]
    annotations = [rule["annotations"] for group in rules for rule in group["rules"]]
    assert annotations and all(a["summary"].startswith(f"{title} redis-system/cache") for a in annotations)
    assert not any(f"{other} redis-system/cache" in a["description"] for a in annotations)
    assert any(f"of {title} redis-system/cache" in a["description"] for a in annotations)
    (board,) = [text for path, text in files.items() if path.startswith("dashboards/")]
    assert f'"title": "{title} redis-system/cache (cache)"' in board


# ---------------------------------------------------------------- Welkin's contract


@pytest.mark.parametrize(
    "engine, keys, prefixes",
    [
        ("redis", "engine", ["REDIS_"]),
        ("valkey", "engine", ["VALKEY_"]),
        ("redis", "both", ["REDIS_", "VALKEY_"]),
        ("valkey", "both", ["REDIS_", "VALKEY_"]),
    ],
)
def test_the_connection_object_carries_the_engines_keys_or_both(engine, keys, prefixes):
    data = _cache(engine=engine, connection={"kind": "ConfigMap", "keys": keys})
    (connection,) = [doc for path, doc in _render(data).items() if path.startswith("templates/connection-")]
    host = "rfs-cache.redis-system.svc.cluster.local"
    expected = {}
    for prefix in prefixes:
        expected.update(
            {
                f"{prefix}CLUSTER_NAME": "cache",
                f"{prefix}SENTINEL_HOST": host,
                f"{prefix}SENTINEL_PORT": "26379",
                f"{prefix}MASTER_NAME": "mymaster",
            }
        )
    assert connection["kind"] == "ConfigMap" and connection["data"] == expected


def test_the_readme_snippets_read_the_engines_own_keys():
    readme = render.render_chart(model.build(validate_data(_cache(engine="valkey"))))["README.md"]
    snippets = readme.split("### redis-py", 1)[1].split("## If the data is lost", 1)[0]
    assert 'os.environ["VALKEY_SENTINEL_HOST"]' in snippets and "${VALKEY_MASTER_NAME}" in snippets
    assert "REDIS_SENTINEL" not in snippets and "REDIS_MASTER" not in snippets


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_access_label_clients_are_admitted_by_the_engines_label_and_told_which(engine):
    data = _cache(engine=engine)
    data["spec"]["clients"] = [{"namespace": "shop", "accessLabel": True}]
    label = f"elastisys.io/{engine}-cache-access"
    rendered = _render(data)
    selectors = [
        rule["from"][0]["podSelector"]
        for doc in rendered.values()
        if doc["kind"] == "NetworkPolicy"
        for rule in doc["spec"].get("ingress", [])
        if rule["from"][0].get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
        == "shop"
    ]
    assert selectors and all(selector == {"matchLabels": {label: "allow"}} for selector in selectors)
    chart = render.render_chart(model.build(validate_data(data)))
    assert f"{label}: allow" in chart["README.md"]
    assert f"{label}: allow" in chart["templates/NOTES.txt"]


def test_port_forward_grants_exactly_what_kubectl_port_forward_needs_on_the_redis_pods():
    rendered = _render(_cache(engine="valkey", portForward={"groups": ["team-shop", "oncall"]}))
    role = rendered["templates/role-port-forward.yaml"]
    binding = rendered["templates/rolebinding-port-forward.yaml"]
    pods = ["rfr-cache-0", "rfr-cache-1", "rfr-cache-2"]
    assert (role["kind"], role["metadata"]["namespace"]) == ("Role", "redis-system")
    assert role["rules"] == [
        {"apiGroups": [""], "resourceNames": pods, "resources": ["pods"], "verbs": ["get"]},
        {"apiGroups": [""], "resourceNames": pods, "resources": ["pods/portforward"], "verbs": ["create"]},
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": name} for name in ("team-shop", "oncall")
    ]
    assert not any("port-forward" in path for path in _render(_cache()))


# ---------------------------------------------------------------- the fork's maxmemory cut-off


def test_maxmemory_stays_below_the_forks_reserved_pod_memory_cut_off():
    """The fork skips a maxmemory line above (100 - reservedPodMemoryPercent) % of the limit: every budget that
    validation accepts, derived or given in percent, must stay below it."""
    checked = 0
    for limit, rate, engine, persists in itertools.product(
        ("64Mi", "100Mi", "256Mi", "1Gi", "3Gi", "16Gi", "64Gi"),
        ("1Ki/s", "1Mi/s", "4Mi/s", "8Mi/s", "64Mi/s"),
        ENGINES,
        (True, False),
    ):
        budgets = [memory.budget(limit, rate, engine, persists)]
        budgets += [memory.budget(limit, rate, engine, persists, percent) for percent in range(10, 91)]
        for budget in budgets:
            if budget.fits:
                checked += 1
                assert budget.maxmemory * 100 <= budget.limit * (100 - RESERVED_POD_MEMORY_PERCENT), (
                    limit,
                    rate,
                    engine,
                    budget.maxmemory,
                )
    assert checked > 500
    failover = _render(_on("freshworks-v3.3.5", "redis"))["templates/redisfailover.yaml"]
    assert failover["spec"]["redis"]["reservedPodMemoryPercent"] == RESERVED_POD_MEMORY_PERCENT


def test_connectivity_names_welkins_access_label_of_the_engine():
    result = ckredis("connectivity", str(REPO / "examples" / "welkin-valkey.yaml"))
    assert result.returncode == 0, result.stderr
    clients = [line for line in result.stdout.splitlines() if line.startswith("clients in shop")]
    assert clients and all("elastisys.io/valkey-valkey-cluster-access=allow" in line for line in clients)
    assert "elastisys.io/redis-" not in result.stdout
