"""The chart's alerts on real servers (issue 7, parts 3 and 4), on each engine (Redis 7, Valkey 9.1; the spec rendered
for it): real faults on a loopback Sentinel cluster, scraped by
the real redis exporter (Debian 1.45) and blackbox exporter (0.23), evaluated by a real Prometheus (2.42) loaded with
the rules of the rendered PrometheusRule; a second healthy cluster beside it must stay silent.

Everything comes from the chart `ckredis render --stdout` prints: the rule groups, the PodMonitor's selector and
relabelings, the Probe's module and labels, the redis command line and sentinel settings of the RedisFailover, the
master name of the connection object. Only `for` is shortened, through the spec's per-alert settings. On loopback
there is no operator and no Kubernetes: the test plays the operator (pod labels, container names, which sentinel
monitors which master) and service discovery (`__meta_kubernetes_*` labels, relabelled the way Prometheus Operator
generates a PodMonitor's scrape config). The blackbox exporter probes one sentinel directly, which is what the
uptime Probe sees on operator v1.2.4, whose sentinel readiness is a plain PING.

Select with `-m e2e`; the module takes a few minutes. With CKREDIS_RECORD_FIXTURES=1 it also rewrites the exporter
scrapes in tests/fixtures/ (see test_exporter_fixtures.py).
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

import pytest
import yaml

from conftest import ckredis, documents, tool
from loopback import HOST, Processes, SentinelCluster, free_port, get_json, sanitize, scrape, wait_until
from servers import SERVER_COMMANDS, Engine, with_engine
from test_exporter_fixtures import FIXTURES, metric_families

pytestmark = pytest.mark.e2e

FOR = "3s"  # every alert's `for`, except the two below
FOR_NO_MASTER = "10s"  # longer than a loopback failover (about 3 s), so a successful failover never pages
NO_MASTER_ALERTS = ("RedisNoMaster", "RedisSentinelNoUsableMaster")
ALERT_TIMEOUT = 45  # seconds a fault may take to raise its alert
QUIET_TIMEOUT = 90  # seconds to quiet after a fault: RedisRejectedConnections resolves one 1m window after the last
# Off here: the memory test's FLUSHALL empties a master that started minutes ago, which is what this alert reports,
# for an hour. promtool proves it; tests/test_full_restart.py proves the recovery its runbook gives.
OFF = {"RedisMasterLostKeys"}

# The cluster under test and its neighbour: a session store (every alert enabled) for the operator version whose
# uptime Probe cannot see "no master" (v1.2.4), sized so that filling memory and maxclients is quick.
SPEC = {
    "apiVersion": "ckredis.elastisys.io/v1alpha1",
    "kind": "RedisCluster",
    "metadata": {"name": "sessions", "namespace": "redis-system"},
    "spec": {
        "purpose": "session",
        "operator": {"version": "v1.2.4"},
        "redis": {
            "replicas": 3,
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "64Mi"}},
            "memoryBudget": {"writeRate": "1Mi/s"},  # a small test cluster, lightly written
            "config": {"maxclients": 100},
        },
        "sentinel": {"replicas": 3, "config": {"downAfterMilliseconds": 2000, "failoverTimeout": 20000}},
        "persistence": {"size": "1Gi"},
        "clients": [{"namespace": "login", "podSelector": {"app.kubernetes.io/name": "login-api"}}],
        "monitoring": {
            "scrape": {"interval": "1s", "timeout": "1s"},
            "uptimeProbe": {"interval": "1s"},
            "dashboard": {"enabled": True},
        },
    },
}
NEIGHBOUR = "sessions-b"  # starts with the other's name: regex and prefix traps included


def render(spec: dict) -> dict[str, dict]:
    result = ckredis("render", "-", "--stdout", stdin=yaml.safe_dump(spec))
    assert result.returncode == 0, result.stderr
    return {doc["kind"]: doc for doc in documents(result.stdout)}


def rendered_chart(name: str, engine: Engine) -> dict[str, dict]:
    """The chart of SPEC named `name` for `engine`, with every alert's `for` shortened through
    spec.monitoring.alerts.rules."""
    spec = with_engine(copy.deepcopy(SPEC), engine)
    spec["metadata"]["name"] = name
    names = [rule["alert"] for group in render(spec)["PrometheusRule"]["spec"]["groups"] for rule in group["rules"]]
    spec["spec"]["monitoring"]["alerts"] = {
        "rules": {alert: {"for": FOR_NO_MASTER if alert in NO_MASTER_ALERTS else FOR} for alert in names}
        | {alert: {"enabled": False} for alert in OFF}
    }
    return render(spec)


# -- the scrape configuration Prometheus Operator would generate -------------------------------------------------


def podmonitor_scrape_config(monitor: dict, targets: list[dict]) -> dict:
    """A PodMonitor as Prometheus Operator turns it into a scrape config (pkg/prometheus/promcfg.go): keep the
    selected pods and port, set namespace/container/pod/job/endpoint, then the PodMonitor's own relabelings."""
    meta, spec = monitor["metadata"], monitor["spec"]
    (endpoint,) = spec["podMetricsEndpoints"]
    keep = []
    for key, value in spec["selector"].get("matchLabels", {}).items():
        keep.append(_keep_label(key, value))
    for expression in spec["selector"].get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        keep.append(_keep_label(expression["key"], "|".join(expression["values"])))
    assert spec["namespaceSelector"]["matchNames"] == [meta["namespace"]]
    keep.append({"action": "keep", "source_labels": ["__meta_kubernetes_namespace"], "regex": meta["namespace"]})
    keep.append(
        {"action": "keep", "source_labels": ["__meta_kubernetes_pod_container_port_name"], "regex": endpoint["port"]}
    )
    standard = [
        {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
        {"source_labels": ["__meta_kubernetes_pod_container_name"], "target_label": "container"},
        {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
        {"target_label": "job", "replacement": f"{meta['namespace']}/{meta['name']}"},
        {"target_label": "endpoint", "replacement": endpoint["port"]},
    ]
    own = [_snake(relabeling) for relabeling in endpoint.get("relabelings", [])]
    return {
        "job_name": f"podMonitor/{meta['namespace']}/{meta['name']}/0",
        "honor_labels": False,
        "scrape_interval": endpoint["interval"],
        "scrape_timeout": endpoint["scrapeTimeout"],
        "static_configs": targets,
        "relabel_configs": keep + standard + own,
    }


def _keep_label(key: str, regex: str) -> dict:
    return {
        "action": "keep",
        "source_labels": [
            f"__meta_kubernetes_pod_label_{sanitize(key)}",
            f"__meta_kubernetes_pod_labelpresent_{sanitize(key)}",
        ],
        "regex": f"({regex});true",
    }


def _snake(relabeling: dict) -> dict:
    names = {
        "sourceLabels": "source_labels",
        "targetLabel": "target_label",
        "action": "action",
        "regex": "regex",
        "replacement": "replacement",
        "separator": "separator",
        "modulus": "modulus",
    }
    unknown = set(relabeling) - set(names)
    assert not unknown, f"translate these PodMonitor relabeling fields too: {unknown}"
    return {names[key]: value for key, value in relabeling.items()}


def probe_scrape_config(probe: dict, target: str, prober: str) -> dict:
    """A Probe with static targets as Prometheus Operator generates it; the Service address is replaced by `target`
    (a sentinel: no Service on loopback) and the prober URL by the local blackbox exporter."""
    meta, spec = probe["metadata"], probe["spec"]
    static = spec["targets"]["staticConfig"]
    assert len(static["static"]) == 1, static
    return {
        "job_name": f"probe/{meta['namespace']}/{meta['name']}",
        "honor_timestamps": True,
        "metrics_path": "/probe",
        "params": {"module": [spec["module"]]},
        "scrape_interval": spec["interval"],
        "scrape_timeout": spec["interval"],
        "static_configs": [{"targets": [target], "labels": static["labels"]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": prober},
        ],
    }


# -- the world: two clusters, exporters, blackbox exporter, Prometheus ---------------------------------------------


@dataclass
class Loopback:
    cluster: SentinelCluster
    neighbour: SentinelCluster
    processes: Processes
    prometheus_port: int
    blackbox_port: int
    binaries: dict[str, str]
    charts: dict[str, dict[str, dict]]
    neighbour_alerts: list[dict] = field(default_factory=list)
    measured: list[str] = field(default_factory=list)

    def alerts(self) -> list[dict]:
        alerts = get_json(self.prometheus_port, "/api/v1/alerts")["data"]["alerts"]
        self.neighbour_alerts += [
            a
            for a in alerts
            if a["labels"].get("redisfailover") == self.neighbour.name
            or f"/{self.neighbour.name}" in a["annotations"].get("summary", "")
        ]
        return alerts

    def firing(self, name: str) -> list[dict]:
        return [
            a
            for a in self.alerts()
            if a["state"] == "firing"
            and a["labels"]["alertname"] == name
            and a["labels"].get("redisfailover") == self.cluster.name
        ]

    def wait_firing(self, name: str, since: float, **labels: str) -> float:
        """Seconds from `since` until `name` fires for this cluster (with `labels`)."""

        def fired() -> bool:
            return any(all(a["labels"].get(k) == v for k, v in labels.items()) for a in self.firing(name))

        try:
            wait_until(fired, ALERT_TIMEOUT, f"{name} {labels} fires for {self.cluster.name}", step=0.25)
        except TimeoutError as error:
            active = [(a["labels"]["alertname"], a["labels"].get("pod"), a["state"]) for a in self.alerts()]
            raise AssertionError(f"{error}; active alerts: {active}") from None
        return time.monotonic() - since

    def query(self, expr: str) -> list[tuple[dict, str]]:
        result = get_json(self.prometheus_port, "/api/v1/query", query=expr)["data"]["result"]
        return [(item["metric"], item["value"][1]) for item in result]

    def wait_quiet(self, timeout: float = QUIET_TIMEOUT) -> None:
        """Restored: no alert of either cluster is pending or firing."""
        started = time.monotonic()
        wait_until(lambda: not self.alerts(), timeout, "no alert pending or firing", step=0.5)
        self.measured.append(f"  quiet {time.monotonic() - started:.1f} s after the restore")

    def ever_fired(self, name: str, seconds: float) -> bool:
        """Watch for `seconds`: does `name` fire for this cluster?"""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.firing(name):
                return True
            time.sleep(0.25)
        return False


def _binaries() -> dict[str, str]:
    return {name: tool(name) for name in ("prometheus", "prometheus-redis-exporter", "prometheus-blackbox-exporter")}


def _master_name(chart: dict[str, dict]) -> str:
    """The master name of the connection object (a Secret or a ConfigMap; REDIS_* or VALKEY_* keys, or both)."""
    data = next(
        chart[kind].get("stringData") or chart[kind]["data"] for kind in ("Secret", "ConfigMap") if kind in chart
    )
    (name,) = {value for key, value in data.items() if key.endswith("_MASTER_NAME")}
    return name


def _cluster(chart: dict[str, dict], processes: Processes, engine: Engine) -> SentinelCluster:
    failover = chart["RedisFailover"]
    command = failover["spec"]["redis"]["command"]
    assert command[1:2] == ["/redis/redis.conf"] and command[0] in SERVER_COMMANDS, command
    sentinels = failover["spec"]["sentinel"]["replicas"]
    return SentinelCluster(
        engine=engine,
        name=failover["metadata"]["name"],
        namespace=failover["metadata"]["namespace"],
        master_name=_master_name(chart),
        quorum=sentinels // 2 + 1,  # what the operator configures (operator fact)
        redis_args=command[2:],
        sentinel_settings=failover["spec"]["sentinel"]["customConfig"],
        redis_count=failover["spec"]["redis"]["replicas"],
        sentinel_count=sentinels,
        processes=processes,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory, engine):
    binaries = _binaries()
    folder = tmp_path_factory.mktemp(f"e2e-{engine.name}")
    processes = Processes(folder)
    started = time.monotonic()
    try:
        charts = {name: rendered_chart(name, engine) for name in (SPEC["metadata"]["name"], NEIGHBOUR)}
        clusters = [_cluster(chart, processes, engine) for chart in charts.values()]
        for cluster in clusters:
            cluster.start(binaries["prometheus-redis-exporter"])
            assert engine.is_running(cluster.redis_pods[0].client()), f"not {engine.name}"
        blackbox_port, prometheus_port = free_port(), free_port()
        modules = {
            "modules": {
                probe["spec"]["module"]: {"prober": "tcp", "timeout": "1s"}
                for probe in (chart["Probe"] for chart in charts.values())
            }
        }
        (folder / "blackbox.yml").write_text(yaml.safe_dump(modules))
        processes.start(
            "blackbox",
            [
                binaries["prometheus-blackbox-exporter"],
                f"--config.file={folder / 'blackbox.yml'}",
                f"--web.listen-address={HOST}:{blackbox_port}",
            ],
        )
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "1s"},
            "rule_files": [],
            "scrape_configs": [],
        }
        for cluster, chart in zip(clusters, charts.values(), strict=True):
            rules = folder / f"rules-{cluster.name}.yaml"
            rules.write_text(yaml.safe_dump({"groups": chart["PrometheusRule"]["spec"]["groups"]}, width=1000))
            check = subprocess.run(
                [tool("promtool"), "check", "rules", str(rules)], capture_output=True, text=True, timeout=60
            )
            assert check.returncode == 0, check.stdout + check.stderr
            config["rule_files"].append(str(rules))
            config["scrape_configs"].append(podmonitor_scrape_config(chart["PodMonitor"], cluster.discovered_targets()))
            config["scrape_configs"].append(
                probe_scrape_config(
                    chart["Probe"], f"{HOST}:{cluster.sentinel_pods[0].port}", f"{HOST}:{blackbox_port}"
                )
            )
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config, width=1000))
        processes.start(
            "prometheus",
            [
                binaries["prometheus"],
                f"--config.file={folder / 'prometheus.yml'}",
                f"--storage.tsdb.path={folder / 'tsdb'}",
                f"--web.listen-address={HOST}:{prometheus_port}",
            ],
        )
        world = Loopback(*clusters, processes, prometheus_port, blackbox_port, binaries, charts)
        targets = len(config["scrape_configs"]) // 2 * (len(clusters[0].pods) + 1)

        def all_up() -> bool:
            active = get_json(prometheus_port, "/api/v1/targets")["data"]["activeTargets"]
            return len(active) == targets and all(t["health"] == "up" for t in active)

        wait_until(all_up, 30, f"Prometheus scrapes all {targets} targets")

        def rates_defined() -> bool:  # a rate (the dashboard's, the alerts') needs two samples in its window
            ready = world.query("count(count_over_time(up[1m]) >= 2)")
            return bool(ready) and int(ready[0][1]) == targets

        wait_until(rates_defined, 30, "two scrapes of every target")
        world.wait_quiet()
        assert world.alerts() == [], "two healthy clusters raise no alert"
        world.neighbour_alerts.clear()  # from here on both clusters are healthy: the neighbour must stay silent
        world.measured.append(
            f"{engine.name}: start-up (2 clusters, exporters, Prometheus) {time.monotonic() - started:.1f} s"
        )
        yield world
        raised = sorted(
            {(a["labels"]["alertname"], a["labels"].get("pod"), a["state"]) for a in world.neighbour_alerts}
        )
        assert raised == [], "the healthy neighbour raised alerts"
    finally:
        processes.stop_all()
        report = [f"{engine.name}: run time {time.monotonic() - started:.1f} s"]
        if "world" in locals():
            report = world.measured + report
        sys.stderr.write("\n" + "\n".join(f"e2e: {line}" for line in report) + "\n")


def _fault(
    world: Loopback, title: str, alerts: list[tuple[str, dict[str, str]]], inject, restore, silent: tuple[str, ...] = ()
) -> list[float]:
    """Inject a fault; wait for each of `alerts` (name, labels it must carry) to fire for this cluster, naming it;
    check that the `silent` alerts are neither pending nor firing then; restore; wait until all is quiet."""
    started = time.monotonic()
    inject()
    try:
        delays = [world.wait_firing(name, started, **labels) for name, labels in alerts]
        for name, _ in alerts:
            for alert in world.firing(name):
                assert alert["labels"]["namespace"] == world.cluster.namespace, alert
                assert f"{world.cluster.namespace}/{world.cluster.name}" in alert["annotations"]["summary"], alert
        states = [
            (a["labels"]["alertname"], a["state"])
            for a in world.alerts()
            if a["labels"].get("redisfailover") == world.cluster.name and a["labels"]["alertname"] in silent
        ]
        assert states == [], states
        assert world.neighbour_alerts == [], "the healthy neighbour raised alerts"
    finally:
        restore()
    world.measured.append(
        f"{title}: "
        + ", ".join(
            f"{name}{'{' + ','.join(labels.values()) + '}' if labels else ''} after {delay:.1f} s"
            for (name, labels), delay in zip(alerts, delays, strict=True)
        )
    )
    world.wait_quiet()
    return delays


# -- faults -----------------------------------------------------------------------------------------------------


def test_healthy_clusters_are_silent_and_probed(world):
    assert world.alerts() == []
    succeeding = [labels["redisfailover"] for labels, value in world.query("probe_success") if value == "1"]
    assert sorted(succeeding) == sorted([world.cluster.name, world.neighbour.name])


def _live_scrapes(world: Loopback) -> dict[str, str]:
    """One scrape of each exporter kind, by fixture file name (tests/test_exporter_fixtures.py reads them)."""
    cluster = world.cluster
    master = cluster.master_pod()
    replica = next(p for p in cluster.redis_pods if p is not master)
    module = world.charts[cluster.name]["Probe"]["spec"]["module"]
    return {
        "redis-exporter-master.prom": scrape(master.exporter_port),
        "redis-exporter-replica.prom": scrape(replica.exporter_port),
        "redis-exporter-sentinel.prom": scrape(cluster.sentinel_pods[0].exporter_port),
        "blackbox-exporter-probe.prom": scrape(
            world.blackbox_port, f"/probe?module={module}&target={HOST}:{cluster.sentinel_pods[0].port}"
        ),
    }


def test_the_exporter_fixtures_are_what_the_exporters_expose(world):
    """Every metric and label in tests/fixtures/ is in a live scrape of the installed exporters. With
    CKREDIS_RECORD_FIXTURES=1 the live scrapes of Redis replace the fixtures (then commit them); Valkey's must hold
    every metric and label recorded from Redis, as the rules and panels read both the same way."""
    live = _live_scrapes(world)
    if os.environ.get("CKREDIS_RECORD_FIXTURES") == "1" and world.cluster.engine.name == "redis":
        FIXTURES.mkdir(exist_ok=True)
        for name, text in live.items():
            (FIXTURES / name).write_text(text)
    for name, text in live.items():
        recorded, scraped = metric_families((FIXTURES / name).read_text()), metric_families(text)
        missing = {
            metric: labels - scraped.get(metric, set())
            for metric, labels in recorded.items()
            if metric not in scraped or labels - scraped[metric]
        }
        assert missing == {}, name


def _rule(world: Loopback, name: str) -> dict:
    groups = world.charts[world.cluster.name]["PrometheusRule"]["spec"]["groups"]
    (rule,) = [rule for group in groups for rule in group["rules"] if rule["alert"] == name]
    return rule


def test_every_dashboard_panel_returns_data_for_the_healthy_cluster(world):
    """Every query of the rendered dashboard, evaluated by the real Prometheus: data for the healthy cluster, and none
    of its neighbour's. The operator's panel is the one without data here: no operator runs on loopback."""
    board = json.loads(next(iter(world.charts[world.cluster.name]["ConfigMap"]["data"].values())))
    empty, answered = [], 0
    for panel in board["panels"]:
        for target in panel["targets"]:
            result = world.query(target["expr"].replace("$__rate_interval", "1m"))
            if "redis_operator_controller_cluster_ok" in target["expr"]:
                assert result == [], "no operator runs here"
                continue
            if not result:
                empty.append(panel["title"])
            assert {labels.get("redisfailover", world.cluster.name) for labels, _ in result} <= {world.cluster.name}
            answered += 1
    assert empty == []
    world.measured.append(f"dashboard: {answered} panel queries answered with data ({len(board['panels'])} panels)")


def test_memory_filling_up_raises_memory_high(world):
    """The fill counts what maxmemory counts: used_memory less the replica output and AOF buffers (Redis leaves them
    out). Those buffers swell while replicas and the disk lag on a loaded machine (measured up to 5 MiB of this
    38 MiB maxmemory), so a fill that stopped on used_memory alone at 93 % could leave the data at the 85 % threshold
    once they drained, and RedisMemoryHigh never fired."""
    master = world.cluster.master_pod()
    client = master.client()
    maxmemory = int(client.config_get("maxmemory")["maxmemory"])
    threshold = float(_rule(world, "RedisMemoryHigh")["expr"].rsplit(">", 1)[1])
    value = "x" * 256 * 1024

    def counted() -> int:
        memory = client.info("memory")
        return memory["used_memory"] - memory["mem_not_counted_for_evict"]

    def fill() -> None:
        for number in range(maxmemory // len(value) + 1):  # halfway between the threshold and maxmemory
            if counted() >= (threshold + 1) / 2 * maxmemory:
                return
            client.set(f"fill:{number}", value)
        raise AssertionError(f"the data never reached {(threshold + 1) / 2:.0%} of maxmemory")

    _fault(
        world,
        "memory above the threshold of maxmemory",
        [("RedisMemoryHigh", {"pod": master.name})],
        fill,
        client.flushall,
    )


def test_a_master_full_to_maxclients_raises_redis_down_not_no_master(world):
    """A master at maxclients turns its exporter away: redis_up 0 and no role. Its replicas stay linked, so
    RedisNoMaster keeps quiet (it paged here before) and RedisDown names the pod. Once the exporter reads the master
    again, RedisRejectedConnections reports the rejections and resolves within its 1m window (wait_quiet)."""
    master = world.cluster.master_pod()
    client = master.client()
    maxclients = int(client.config_get("maxclients")["maxclients"])
    held: list[socket.socket] = []

    def full() -> bool:  # Redis counts its replicas' connections against maxclients too
        connected = client.info("clients")["connected_clients"] + client.info("replication")["connected_slaves"]
        return connected >= maxclients

    def crowd() -> None:
        for _ in range(2 * maxclients):  # bounded: a connection that raced the exporter's is refused; open another
            if full():
                break
            held.append(socket.create_connection((HOST, master.port), timeout=2))
        try:
            wait_until(full, 10, "maxclients reached")
        except TimeoutError:
            release()
            raise

    def release() -> None:
        for connection in held:
            connection.close()

    _fault(
        world,
        "maxclients reached on the master (its exporter turned away)",
        [("RedisDown", {"pod": master.name})],
        crowd,
        release,
        silent=NO_MASTER_ALERTS,
    )


def test_exhausted_maxclients_raise_rejected_connections_and_too_many_clients(world):
    master = world.cluster.master_pod()
    client = master.client()
    held: list[socket.socket] = []

    def crowd() -> None:
        maxclients = int(client.config_get("maxclients")["maxclients"])
        # Redis refuses the connection that would make maxclients: leave room for the exporter's and ours, so the
        # exporter still reads the counters; then overflow with short-lived connections.
        for _ in range(maxclients - client.info("clients")["connected_clients"] - 4):
            held.append(socket.create_connection((HOST, master.port), timeout=2))
        wait_until(lambda: client.info("clients")["connected_clients"] >= maxclients - 5, 10, "clients connected")
        for _ in range(10):
            held.append(socket.create_connection((HOST, master.port), timeout=2))
        wait_until(lambda: client.info("stats")["rejected_connections"] > 0, 10, "a connection is rejected")
        for extra in held[-10:]:
            extra.close()

    def release() -> None:
        for connection in held:
            connection.close()

    _fault(
        world,
        "maxclients exhausted",
        [("RedisTooManyClients", {"pod": master.name}), ("RedisRejectedConnections", {"pod": master.name})],
        crowd,
        release,
    )


def test_a_broken_replica_link_raises_replica_link_down(world):
    master = world.cluster.master_pod()
    replica = next(p for p in world.cluster.redis_pods if p is not master)
    closed_port = free_port()  # nothing listens there

    def restore() -> None:
        replica.client().replicaof(HOST, master.port)
        world.cluster.wait_healthy()

    _fault(
        world,
        "a replica's link broken",
        [("RedisReplicaLinkDown", {"pod": replica.name}), ("RedisReplicasMissing", {})],
        lambda: replica.client().replicaof(HOST, closed_port),
        restore,
    )


def test_a_killed_replica_raises_redis_down(world):
    cluster = world.cluster
    master = cluster.master_pod()
    replica = next(p for p in cluster.redis_pods if p is not master)

    def restart() -> None:
        cluster.start_redis(replica, master.port)
        cluster.wait_healthy()

    _fault(
        world,
        "a replica SIGKILLed",
        [("RedisDown", {"pod": replica.name}), ("RedisSentinelReplicasMissing", {})],
        lambda: cluster.processes.kill(replica.server),
        restart,
    )


def test_a_stopped_exporter_raises_redis_down(world):
    cluster = world.cluster
    master = cluster.master_pod()
    pod = next(p for p in cluster.redis_pods if p is not master)
    _fault(
        world,
        "an exporter stopped",
        [("RedisDown", {"pod": pod.name})],
        lambda: cluster.processes.stop(pod.exporter),
        lambda: cluster.start_exporter(world.binaries["prometheus-redis-exporter"], pod),
    )


def test_two_stopped_sentinels_raise_sentinel_down_and_quorum_lost(world):
    cluster = world.cluster
    stopped = cluster.sentinel_pods[1:]

    def stop() -> None:
        for pod in stopped:
            cluster.processes.stop(pod.server)

    def restart() -> None:
        master = cluster.master_pod()
        for pod in stopped:
            cluster.start_sentinel(pod, master.port)
        cluster.wait_healthy()

    expected = [("RedisSentinelDown", {"pod": pod.name}) for pod in stopped] + [("RedisSentinelQuorumLost", {})]
    _fault(world, "two of three sentinels stopped", expected, stop, restart)


def _monitor(cluster: SentinelCluster, port: int) -> None:
    """What the operator does to a sentinel: monitor `port` on 127.0.0.1 with the RedisFailover's settings."""
    for pod in cluster.sentinel_pods:
        client = pod.client()
        client.execute_command("SENTINEL", "REMOVE", cluster.master_name)
        client.execute_command("SENTINEL", "MONITOR", cluster.master_name, HOST, port, cluster.quorum)
        for setting in cluster.sentinel_settings:
            client.execute_command("SENTINEL", "SET", cluster.master_name, *setting.split(" ", 1))


def test_sentinels_monitoring_a_dead_address_raise_no_usable_master_only(world):
    """Part 4: sentinels that monitor the operator's placeholder (or any dead address) while a redis pod is master.
    The redis pods look fine and, on v1.2.4, so does the uptime probe: only the sentinel view shows it."""
    cluster = world.cluster
    master = cluster.master_pod()
    _fault(
        world,
        "sentinels monitor a dead address (v1.2.4 uptime probe still up)",
        [("RedisSentinelNoUsableMaster", {})],
        lambda: _monitor(cluster, free_port()),
        lambda: (_monitor(cluster, master.port), cluster.wait_healthy()),
        silent=("RedisNoMaster", "RedisUptimeProbeFailed"),
    )


def test_a_master_without_promotable_replica_raises_no_usable_master(world):
    """Part 4: the master dies and no replica may be promoted (replica-priority 0): sentinels know no usable master.
    The sentinels still answer PING, so on v1.2.4 the sentinel Service keeps endpoints and the probe succeeds."""
    cluster = world.cluster
    master = cluster.master_pod()
    replicas = [p for p in cluster.redis_pods if p is not master]

    def priorities(value: int) -> None:
        for pod in replicas:
            pod.client().config_set("replica-priority", value)

        def known() -> bool:  # sentinels read replica priorities from INFO every 10 s
            return all(
                int(replica["slave-priority"]) == value
                for sentinel in cluster.sentinel_pods
                for replica in sentinel.client().sentinel_slaves(cluster.master_name)
            )

        wait_until(known, 20, f"sentinels know the replicas' priority {value}", step=0.5)

    def restore() -> None:
        cluster.start_redis(master, None)
        priorities(100)
        # A sentinel waits twice failover-timeout after its aborted failover before it tries again: start afresh.
        _monitor(cluster, master.port)
        cluster.wait_healthy()

    priorities(0)  # no replica may be promoted
    _fault(
        world,
        "master SIGKILLed, no promotable replica (v1.2.4 uptime probe still up)",
        [("RedisDown", {"pod": master.name}), ("RedisNoMaster", {}), ("RedisSentinelNoUsableMaster", {})],
        lambda: cluster.processes.kill(master.server),
        restore,
        silent=("RedisUptimeProbeFailed",),
    )


def test_a_killed_master_fails_over_and_raises_redis_down_only(world):
    cluster = world.cluster
    master = cluster.master_pod()
    killed = time.monotonic()
    cluster.processes.kill(master.server)

    def new_master() -> bool:
        return all(
            (address := cluster.master_address(pod)) and address[1] != master.port for pod in cluster.sentinel_pods
        )

    wait_until(new_master, 30, "every sentinel reports a new master", step=0.1)
    failover = time.monotonic() - killed
    delay = world.wait_firing("RedisDown", killed, pod=master.name)
    # A failover shorter than RedisNoMaster's `for` never pages as "no master".
    assert not any(world.ever_fired(name, 1) for name in NO_MASTER_ALERTS)
    world.measured.append(f"master SIGKILLed: failover {failover:.1f} s, RedisDown after {delay:.1f} s")
    cluster.start_redis(master, cluster.master_pod().port)
    cluster.wait_healthy()
    world.wait_quiet()
