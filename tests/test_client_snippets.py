"""The redis-py snippet of the chart README, run as written through a real failover.

For each example, the python code block under "### redis-py" in the rendered README is executed with the
connection variables of the rendered connection object (pointed at a loopback cluster instead of the Service)
and, when the spec has auth, the password in the variable the snippet reads. The cluster is real, on each engine
with the spec rendered for it: 3 servers (the rendered start-up options, requirepass/masterauth when auth is on)
and 3 Sentinels with the rendered sentinel settings, on 127.0.0.1. The test writes through the snippet's client,
SIGKILLs the master by PID while a second thread keeps writing through the same client (load across the failover),
and asserts that the same client object writes again within a bounded time and that no acknowledged write is lost.
"""

from __future__ import annotations

import re
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import yaml

from ckredis.pipeline import Rendered, render_specs
from conftest import EXAMPLES, documents
from servers import Engine, WriteLoad, acknowledged_write, connect, failovers, free_port, stop, with_engine

SNIPPET = re.compile(r"^### redis-py\n\n```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
FAILOVER_DEADLINE = 45  # seconds from the kill; down-after-milliseconds is 5 s in the examples
WRITES = 200  # acknowledged before the kill, and again after the failover


@dataclass
class Loopback:
    """3 redis + 3 sentinels on 127.0.0.1, stopped by PID."""

    folder: Path
    processes: dict[int, subprocess.Popen] = field(default_factory=dict)  # by port

    def start(self, argv: list[str], port: int, log: Path, password: str | None = None) -> redis.Redis:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.processes[port] = process
        return connect(process, port, log, argv[0], password)

    def kill(self, port: int) -> None:
        process = self.processes.pop(port)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        for port in list(self.processes):
            stop(self.processes.pop(port))


def _wait_until(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout} s")


def _connection_variables(item: Rendered) -> dict[str, str]:
    """The data of the first rendered connection Secret/ConfigMap, as a container's envFrom would see it."""
    for doc in documents(item.stream()):
        if (
            doc["kind"] in ("Secret", "ConfigMap")
            and doc["metadata"]["name"] == item.cluster.clients[0].connection_name
        ):
            return {**doc.get("data", {}), **doc.get("stringData", {})}
    pytest.fail(f"{item.source} renders no connection object")


def _start_cluster(
    loopback: Loopback, engine: Engine, item: Rendered, password: str | None
) -> tuple[list[int], list[int]]:
    (failover,) = failovers(item)
    redis_args = failover["spec"]["redis"]["command"][2:]  # the rendered options after `redis-server /redis/redis.conf`
    master_name, quorum = item.cluster.master_name, item.cluster.quorum
    redis_ports = [free_port() for _ in range(item.cluster.redis.replicas)]
    sentinel_ports = [free_port() for _ in range(item.cluster.sentinel.replicas)]
    auth = [f"requirepass {password}", f"masterauth {password}"] if password else []
    for index, port in enumerate(redis_ports):
        data = loopback.folder / f"redis-{port}"
        data.mkdir()
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {data}",
            f"logfile {data / 'log'}",
            "repl-diskless-sync-delay 0",
            *auth,
            *([f"replicaof 127.0.0.1 {redis_ports[0]}"] if index else []),
        ]
        (data / "redis.conf").write_text("\n".join(lines) + "\n")
        loopback.start([engine.server, str(data / "redis.conf"), *redis_args], port, data / "log", password)
    for port in sentinel_ports:
        data = loopback.folder / f"sentinel-{port}"
        data.mkdir()
        lines = [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {data}",
            f"logfile {data / 'log'}",
            f"sentinel monitor {master_name} 127.0.0.1 {redis_ports[0]} {quorum}",
            *([f"sentinel auth-pass {master_name} {password}"] if password else []),
            *(
                f"sentinel {line.split(' ', 1)[0]} {master_name} {line.split(' ', 1)[1]}"
                for line in failover["spec"]["sentinel"]["customConfig"]
            ),
        ]
        (data / "sentinel.conf").write_text("\n".join(lines) + "\n")  # sentinel rewrites it: one file each
        loopback.start(engine.sentinel(data / "sentinel.conf"), port, data / "log")

    def settled() -> bool:
        for port in sentinel_ports:
            state = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, socket_timeout=2).sentinel_master(
                master_name
            )
            if (
                state["num-slaves"] != len(redis_ports) - 1
                or state["num-other-sentinels"] != len(sentinel_ports) - 1
                or state["flags"] != "master"
            ):
                return False
        return True

    _wait_until(settled, 30, "sentinels see every replica and each other")
    return redis_ports, sentinel_ports


@pytest.mark.parametrize("example", [p for p in EXAMPLES if p.stem in ("cache", "session")], ids=lambda p: p.stem)
def test_readme_redis_py_snippet_survives_a_failover(engine, example, tmp_path, monkeypatch):
    spec = tmp_path / example.name
    spec.write_text(yaml.safe_dump(with_engine(yaml.safe_load(example.read_text()), engine)))
    (item,) = render_specs([str(spec)])
    readme = item.files["README.md"]
    match = SNIPPET.search(readme)
    assert match, "the README has no redis-py snippet"
    snippet = match.group(1)

    cluster = item.cluster
    password = secrets.token_hex(16) if cluster.auth_secret else None
    assert ("password=" in snippet) == (password is not None), "the snippet sends a password exactly when auth is on"
    assert password is None or password not in readme

    loopback = Loopback(tmp_path)
    try:
        redis_ports, sentinel_ports = _start_cluster(loopback, engine, item, password)
        variables = _connection_variables(item)
        # The Service's address, in every key set the object carries (REDIS_*, VALKEY_* or both).
        for name in variables:
            if name.endswith("_SENTINEL_HOST"):
                variables[name] = "127.0.0.1"
            elif name.endswith("_SENTINEL_PORT"):
                variables[name] = str(sentinel_ports[0])
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        if password:
            monkeypatch.setenv(cluster.password_variable, password)
            with pytest.raises(redis.AuthenticationError):  # auth is really on: no password, no access
                redis.Redis(host="127.0.0.1", port=redis_ports[0], socket_timeout=2).set("anonymous", "1")

        namespace: dict = {}
        exec(compile(snippet, f"{example.stem} README redis-py snippet", "exec"), namespace)
        client = namespace["redis_client"]

        acknowledged = {
            f"before:{i}": str(i) for i in range(WRITES) if acknowledged_write(client, f"before:{i}", str(i))
        }
        assert len(acknowledged) == WRITES
        sentinel = redis.Redis(host="127.0.0.1", port=sentinel_ports[-1], decode_responses=True, socket_timeout=2)

        def master_address() -> tuple[str, int]:
            host, port = sentinel.sentinel_get_master_addr_by_name(cluster.master_name)
            return host, int(port)

        old_master = master_address()
        assert old_master == ("127.0.0.1", redis_ports[0])

        with WriteLoad(client) as load:
            time.sleep(1)  # under load before the kill
            killed_at = time.monotonic()
            loopback.kill(old_master[1])
            failover_seconds = None
            while time.monotonic() - killed_at < FAILOVER_DEADLINE:
                try:
                    if acknowledged_write(client, "after:0", "0"):
                        failover_seconds = time.monotonic() - killed_at
                        break
                except redis.RedisError:  # the master is gone until Sentinel promotes a replica
                    time.sleep(0.2)
            assert failover_seconds is not None, (
                f"the snippet's client did not write again within {FAILOVER_DEADLINE} s"
            )
            new_master = master_address()
            assert new_master != old_master and new_master[1] in redis_ports

            acknowledged["after:0"] = "0"
            acknowledged.update(
                {f"after:{i}": str(i) for i in range(1, WRITES) if acknowledged_write(client, f"after:{i}", str(i))}
            )
        under_load = {when < killed_at for when in load.acknowledged.values()}
        assert under_load == {True, False}, "the load wrote both before the kill and after the failover"
        assert len(acknowledged) == 2 * WRITES
        acknowledged.update({key: key for key in load.acknowledged})
        read_back = dict(
            zip(
                acknowledged,
                (value.decode() if value else None for value in client.mget(list(acknowledged))),
                strict=True,
            )
        )
        lost = [key for key, value in acknowledged.items() if read_back[key] != value]
        print(
            f"\n{engine.name}, {example.stem}: failover {failover_seconds:.1f} s after SIGKILL of the master; "
            f"{len(lost)} of {len(acknowledged)} acknowledged writes lost ({len(load.acknowledged)} by the load, "
            f"{load.failed} of its writes failed meanwhile; auth {'on' if password else 'off'})"
        )
        assert lost == []
    finally:
        loopback.stop_all()
