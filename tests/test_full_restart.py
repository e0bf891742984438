"""A full restart on real servers: the runbook's recovery promotes the pod with the newest data, the operator would not.

Three redis-servers run the session example's rendered command on loopback. Pod 0 (the oldest, the operator's
choice) falls behind: it is down while the master acknowledges more writes (WAIT: a replica has each). Then every
pod is killed and restarted as the operator's redis.conf starts them, a replica of 127.0.0.1 (itself), each loading
its own append-only file. The recovery block of docs/runbooks/RedisMasterLostKeys.md runs verbatim in bash; only
the transport the runbook defines with kubectl (`redis`, `address`, `pods`) is replaced by redis-cli on loopback.
It must pick a pod with every acknowledged write and make the others its replicas; the operator's SetOldestAsMaster
would have kept pod 0's data only.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest
import redis

from ckredis.pipeline import render_specs
from conftest import EXAMPLES, REPO, TOOLS_BIN, documents, tool
from loopback import HOST, Processes, free_port, wait_until

pytestmark = pytest.mark.e2e

RUNBOOK = REPO / "docs" / "runbooks" / "RedisMasterLostKeys.md"
ENGINES = ["redis"] + (["valkey"] if (TOOLS_BIN / "valkey-server").exists() else [])
BEFORE, BEHIND = 2000, 2000  # keys pod 0 has; keys written while it is down


def recovery_block() -> str:
    """The runbook's code block that promotes a pod, as an operator would paste it."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), re.S)
    (block,) = [b for b in blocks if "replicaof no one" in b]
    return "\n".join(line.removeprefix("   ") for line in block.splitlines())


def _session_args() -> list[str]:
    (example,) = [path for path in EXAMPLES if path.stem == "session"]
    (item,) = render_specs([str(example)])
    (failover,) = [doc for doc in documents(item.stream()) if doc["kind"] == "RedisFailover"]
    command = failover["spec"]["redis"]["command"]
    assert command[:2] == ["redis-server", "/redis/redis.conf"], command
    return command[2:]


class Pods:
    def __init__(self, folder: Path, engine: str):
        self.processes = Processes(folder)
        self.folder = folder
        self.binary = str(TOOLS_BIN / "valkey-server") if engine == "valkey" else tool("redis-server")
        self.names = [f"rfr-sessions-{number}" for number in range(3)]
        self.ports = {name: free_port() for name in self.names}
        self.args = _session_args()

    def start(self, name: str, master: str | None) -> redis.Redis:
        """`master` None: as the operator's redis.conf does, a replica of 127.0.0.1 on its own port."""
        data = self.folder / name
        data.mkdir(exist_ok=True)
        upstream = self.ports[master] if master else self.ports[name]
        (data / "redis.conf").write_text(
            f"port {self.ports[name]}\nbind {HOST}\ndir {data}\n"
            f"repl-diskless-sync-delay 0\nreplicaof {HOST} {upstream}\n"
        )
        self.processes.start(name, [self.binary, str(data / "redis.conf"), *self.args])
        client = self.client(name)
        wait_until(client.ping, 30, f"{name} answers")
        return client

    def client(self, name: str) -> redis.Redis:
        return redis.Redis(HOST, self.ports[name], socket_timeout=5, decode_responses=True)

    def aof_idle(self, name: str) -> bool:
        persistence = self.client(name).info("persistence")
        return persistence["aof_enabled"] == 1 and not (
            persistence["aof_rewrite_in_progress"] or persistence["aof_rewrite_scheduled"]
        )

    def following(self, name: str) -> bool:
        """The replica's own view: link up and its copy loaded (a master may call it online earlier)."""
        info = self.client(name).info("replication")
        return info["master_link_status"] == "up" and not info["master_sync_in_progress"]

    def synced(self, master: str, replicas: int) -> bool:
        info = self.client(master).info("replication")
        return info["connected_slaves"] == replicas and all(
            info[f"slave{number}"]["state"] == "online" for number in range(replicas)
        )

    def recover(self) -> subprocess.CompletedProcess:
        """The runbook's block, with its kubectl transport replaced by redis-cli on loopback."""
        ports = " ".join(f"[{name}]={port}" for name, port in self.ports.items())
        transport = (
            f"declare -A PORT=({ports})\n"
            f'redis() {{ {tool("redis-cli")} -h {HOST} -p "${{PORT[$1]}}" $2; }}\n'
            f'address() {{ echo "{HOST} ${{PORT[$1]}}"; }}\n'
            f'pods="{" ".join(self.names)}"\n'
        )
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", transport + recovery_block()], capture_output=True, text=True, timeout=60
        )


@pytest.mark.parametrize("engine", ENGINES)
def test_the_runbook_promotes_the_pod_with_the_newest_data(engine, tmp_path):
    pods = Pods(tmp_path, engine)
    oldest, master, replica = pods.names
    try:
        primary = pods.start(master, None)
        primary.replicaof("NO", "ONE")
        for name in (oldest, replica):
            pods.start(name, master)
        wait_until(lambda: pods.synced(master, 2), 30, "both replicas online")
        for number in range(BEFORE):
            primary.set(f"session:{number}", "1")
        assert primary.wait(2, 5000) == 2
        # A replica rewrites its append-only file after the initial sync and logs nothing before that ends.
        wait_until(lambda: all(pods.aof_idle(name) for name in pods.names), 30, "append-only files rewritten")
        time.sleep(1.5)  # appendfsync everysec
        pods.processes.kill(oldest)  # it falls behind: down while the master takes more writes
        for number in range(BEFORE, BEFORE + BEHIND):
            primary.set(f"session:{number}", "1")
        assert primary.wait(1, 5000) == 1, "the other replica has every write"
        time.sleep(1.5)  # appendfsync everysec: every acknowledged write is on disk
        for name in (master, replica):
            pods.processes.kill(name)  # a full restart: every pod down at once

        clients = {name: pods.start(name, None) for name in pods.names}
        wait_until(lambda: all(client.dbsize() is not None for client in clients.values()), 30, "every pod loaded")
        before = {name: client.dbsize() for name, client in clients.items()}
        assert before[oldest] == BEFORE, (
            "the operator's choice, the oldest pod, lacks the writes made while it was down"
        )
        offsets = {client.info("replication")["master_repl_offset"] for client in clients.values()}
        assert offsets == {0}, "as the runbook says, the replication offset cannot tell the pods apart after a restart"

        result = pods.recover()
        assert result.returncode == 0, result.stderr
        newest = next(name for name, client in clients.items() if client.info("replication")["role"] == "master")
        others = [name for name in pods.names if name != newest]
        assert before[newest] == BEFORE + BEHIND, f"the runbook promoted {newest}, holding {before[newest]} keys"
        assert all(clients[name].info("replication")["role"] == "slave" for name in others)
        wait_until(
            lambda: pods.synced(newest, 2) and all(pods.following(name) for name in others),
            30,
            "the others resync from the promoted pod",
        )
        assert clients[oldest].dbsize() == BEFORE + BEHIND
        pipe = clients[newest].pipeline(transaction=False)
        for number in range(BEFORE + BEHIND):
            pipe.exists(f"session:{number}")
        assert all(pipe.execute()), "every acknowledged write survives"
        assert clients[newest].set("session:new", "1"), "with a replica in sync, the fenced master takes writes"
        print(
            f"\n{engine}: keys per pod after the restart {before}; the runbook promoted {newest}; the operator's "
            f"choice {oldest} would have lost {BEFORE + BEHIND - before[oldest]} of {BEFORE + BEHIND} acknowledged "
            "writes"
        )
    finally:
        pods.processes.stop_all()
