"""Real servers on 127.0.0.1 for end-to-end tests: a Sentinel cluster as the operator would run it (servers and
Sentinels of one engine, Redis or Valkey, with one redis exporter each), the blackbox exporter and a Prometheus server.

Every process is started by `Processes` and stopped by its PID; every wait is bounded. Ports are free ports picked
by servers.free_port. Nothing here knows the chart: callers pass what they read from the rendered manifests.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

from servers import Engine, free_port

HOST = "127.0.0.1"


def wait_until(check: Callable[[], object], timeout: float, what: str, step: float = 0.2) -> object:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds saying `what` never happened."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except (OSError, redis.RedisError, ValueError, KeyError) as error:  # not up yet
            last_error = error
        time.sleep(step)
    raise TimeoutError(f"{what}: not within {timeout} s (last error: {last_error})")


class Processes:
    """Child processes by name; `stop` and `stop_all` end them by PID (SIGTERM, SIGKILL after 5 s)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        assert name not in self.running, name
        log = open(self.folder / f"{name}.log", "ab")
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.folder,
                env={**os.environ, **(env or {})},
            )
        finally:
            log.close()
        self.running[name] = process
        return process

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")[-2000:]

    def kill(self, name: str) -> None:
        """SIGKILL, as a crashed pod or an OOM kill."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self, name: str) -> None:
        process = self.running.pop(name)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


# The pod labels and container names the Spotahome operator gives a RedisFailover's pods (operator facts:
# ../shared/reference/spotahome-operator.md section 4.1, service/constants.go), which the PodMonitor selects on.
def operator_pod_labels(rf_name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/managed-by": "redis-operator",
        "redisfailovers.databases.spotahome.com/name": rf_name,
        "app.kubernetes.io/name": rf_name,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "redis-failover",
    }


EXPORTER_CONTAINER = {"redis": "redis-exporter", "sentinel": "sentinel-exporter"}
EXPORTER_PORT_NAME = "metrics"


@dataclass
class Pod:
    """One redis or sentinel 'pod' on loopback: the server and its exporter."""

    name: str
    component: str  # redis | sentinel
    port: int
    exporter_port: int

    @property
    def server(self) -> str:
        return self.name

    @property
    def exporter(self) -> str:
        return f"{self.name}-exporter"

    def client(self, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(
            HOST, self.port, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )


@dataclass
class SentinelCluster:
    """3 redis + 3 sentinels (sizes from the RedisFailover), each with a redis exporter, as one RedisFailover."""

    engine: Engine
    name: str
    namespace: str
    master_name: str
    quorum: int
    redis_args: list[str]  # the rendered redis command after `redis-server /redis/redis.conf`
    sentinel_settings: list[str]  # the rendered sentinel customConfig lines (`SENTINEL SET` form)
    redis_count: int
    sentinel_count: int
    processes: Processes
    redis_pods: list[Pod] = field(default_factory=list)
    sentinel_pods: list[Pod] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.redis_pods = [
            Pod(f"rfr-{self.name}-{i}", "redis", free_port(), free_port()) for i in range(self.redis_count)
        ]
        # A Deployment's pods: rfs-<name>-<replicaset hash>-<suffix>.
        self.sentinel_pods = [
            Pod(f"rfs-{self.name}-7c9d8f6b5-{i}", "sentinel", free_port(), free_port())
            for i in range(self.sentinel_count)
        ]

    @property
    def folder(self) -> Path:
        return self.processes.folder

    @property
    def pods(self) -> list[Pod]:
        return self.redis_pods + self.sentinel_pods

    # -- servers ---------------------------------------------------------------------------------------------

    def start(self, exporter: str) -> None:
        master = self.redis_pods[0]
        for pod in self.redis_pods:
            self.start_redis(pod, None if pod is master else master.port)
        for pod in self.sentinel_pods:
            self.start_sentinel(pod, master.port)
        for pod in self.pods:
            self.start_exporter(exporter, pod)
        self.wait_healthy()

    def start_redis(self, pod: Pod, replica_of: int | None) -> None:
        data = self.folder / pod.name
        data.mkdir(exist_ok=True)
        conf = data / "redis.conf"
        lines = [
            f"port {pod.port}",
            f"bind {HOST}",
            f"dir {data}",
            "repl-diskless-sync-delay 0",
            f"replica-announce-ip {HOST}",
        ]
        if replica_of is not None:
            lines.append(f"replicaof {HOST} {replica_of}")
        conf.write_text("\n".join(lines) + "\n")
        self.processes.start(pod.server, [self.engine.server, str(conf), *self.redis_args])
        wait_until(lambda: pod.client().ping(), 10, f"{pod.name} answers")

    def start_sentinel(self, pod: Pod, master_port: int) -> None:
        data = self.folder / pod.name
        data.mkdir(exist_ok=True)
        conf = data / "sentinel.conf"  # sentinel rewrites it: a file of its own
        if not conf.exists():
            lines = [
                f"port {pod.port}",
                f"bind {HOST}",
                f"dir {data}",
                f"sentinel announce-ip {HOST}",
                f"sentinel monitor {self.master_name} {HOST} {master_port} {self.quorum}",
            ]
            lines += [
                f"sentinel {key} {self.master_name} {value}"
                for key, value in (setting.split(" ", 1) for setting in self.sentinel_settings)
            ]
            conf.write_text("\n".join(lines) + "\n")
        self.processes.start(pod.server, self.engine.sentinel(conf))
        wait_until(lambda: pod.client().ping(), 10, f"{pod.name} answers")

    def start_exporter(self, binary: str, pod: Pod) -> None:
        process = self.processes.start(
            pod.exporter,
            [binary, "-redis.addr", f"redis://{HOST}:{pod.port}", "-web.listen-address", f"{HOST}:{pod.exporter_port}"],
        )
        # Alive as well as answering: whatever else listened on the port would answer too.
        wait_until(lambda: process.poll() is None and scrape(pod.exporter_port), 10, f"{pod.exporter} serves /metrics")
        assert process.poll() is None, self.processes.log(pod.exporter)

    def master_address(self, pod: Pod) -> tuple[str, int] | None:
        reply = pod.client().execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)
        return (reply[0], int(reply[1])) if reply else None

    def master_pod(self) -> Pod:
        (master,) = [
            p
            for p in self.redis_pods
            if p.server in self.processes.running and p.client().info("replication")["role"] == "master"
        ]
        return master

    def wait_healthy(self, timeout: float = 30) -> None:
        """Every sentinel agrees on one master, sees the other sentinels and every replica online; links are up."""
        master = self.master_pod()

        def agreed() -> bool:
            for pod in self.sentinel_pods:
                state = pod.client().sentinel_master(self.master_name)
                if (
                    state["flags"] != "master"
                    or int(state["port"]) != master.port
                    or int(state["num-other-sentinels"]) != self.sentinel_count - 1
                ):
                    return False
                replicas = pod.client().sentinel_slaves(self.master_name)
                if sum(replica["flags"] == "slave" for replica in replicas) != self.redis_count - 1:
                    return False
            info = master.client().info("replication")
            return info["connected_slaves"] == self.redis_count - 1 and all(
                info[f"slave{i}"]["state"] == "online" for i in range(self.redis_count - 1)
            )

        wait_until(agreed, timeout, f"{self.name}: sentinels agree on a healthy master", step=0.3)

    # -- what Kubernetes service discovery would report for the PodMonitor ------------------------------------

    def discovered_targets(self) -> list[dict]:
        """One static target per exporter, labelled as the kubernetes `pod` role reports it (__meta_kubernetes_*)."""
        targets = []
        for pod in self.pods:
            labels = {
                "__meta_kubernetes_namespace": self.namespace,
                "__meta_kubernetes_pod_name": pod.name,
                "__meta_kubernetes_pod_container_name": EXPORTER_CONTAINER[pod.component],
                "__meta_kubernetes_pod_container_port_name": EXPORTER_PORT_NAME,
            }
            for key, value in operator_pod_labels(self.name, pod.component).items():
                labels[f"__meta_kubernetes_pod_label_{sanitize(key)}"] = value
                labels[f"__meta_kubernetes_pod_labelpresent_{sanitize(key)}"] = "true"
            targets.append({"targets": [f"{HOST}:{pod.exporter_port}"], "labels": labels})
        return targets


def sanitize(label: str) -> str:
    """How Prometheus turns a Kubernetes label name into a meta label suffix."""
    return "".join(c if c.isalnum() or c == "_" else "_" for c in label)


def scrape(port: int, path: str = "/metrics", timeout: float = 5) -> str:
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=timeout) as response:
        return response.read().decode()


def get_json(port: int, path: str, **params: str) -> dict:
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    with urllib.request.urlopen(f"http://{HOST}:{port}{path}{query}", timeout=5) as response:
        return json.load(response)
