"""A network partition on real servers: the master's host is cut off while a client beside it keeps writing.

Three hosts, each a Linux network namespace holding one redis-server and one Sentinel (tests/netns.py: the addresses,
169.254.77.0/24, exist only inside them), run the rendered configuration of the cache and session examples. A client
beside the master and one on another host write through Sentinel (tests/partition_client.py). The master's host is
cut off (for down-after + CUT_MARGIN_SECONDS), then rejoins: Sentinel has promoted a replica meanwhile, and the old
master becomes its replica, dropping every write it acknowledged after the cut. Measured per preset and engine: when
the new master was elected, the window in which the old master still acknowledged writes, the acknowledged writes
lost, and each client's longest time without an acknowledged write (printed; run with -s to see them).

- session (fenced, model.WriteFence): the old master stops acknowledging within the derived window, before the new
  master is elected, and only writes of that window are lost.
- cache (deliberately not fenced): the old master acknowledges writes through the whole cut, and they are lost.

Needs root; every process is stopped by PID and every namespace deleted by name, also on failure.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import yaml

import netns
from ckredis.pipeline import render_specs
from conftest import EXAMPLES, REPO, REQUIRE_TOOLS, TOOLS_BIN, documents, tool
from loopback import Processes, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.netns]

CUT_MARGIN_SECONDS = 10  # beyond down-after: time for the election; 15 s in all with the default 5 s
WARM_UP_SECONDS = 3
SETTLE_SECONDS = 60  # after the cut heals: the old master rejoins as a replica
LOAD_SLACK_SECONDS = 0.5  # scheduling delay on a loaded machine, beyond the derived worst case
ENGINES = ["redis"] + (["valkey"] if (TOOLS_BIN / "valkey-server").exists() else [])


@pytest.fixture(autouse=True)
def _root_and_iproute2():
    reason = netns.available()
    if reason:
        (pytest.fail if REQUIRE_TOOLS else pytest.skip)(reason)


def _binaries(engine: str) -> tuple[list[str], list[str]]:
    """(redis-server argv, sentinel argv) before the configuration file."""
    if engine == "valkey":
        valkey = str(TOOLS_BIN / "valkey-server")
        return [valkey], [valkey]
    return [tool("redis-server")], [tool("redis-sentinel")]


@dataclass
class Setup:
    redis_args: list[str]
    sentinel_settings: list[str]
    master_name: str
    quorum: int
    window_seconds: int  # the derived loss window (fenced presets)
    fenced: bool
    down_after_ms: int


def _rendered(preset: str, down_after_ms: int | None, folder: Path) -> Setup:
    """The example of the preset, with Sentinel's down-after-milliseconds changed when given."""
    (example,) = [path for path in EXAMPLES if path.stem == preset]
    spec = yaml.safe_load(example.read_text())
    if down_after_ms is not None:
        spec["spec"].setdefault("sentinel", {}).setdefault("config", {})["downAfterMilliseconds"] = down_after_ms
    path = folder / example.name
    path.write_text(yaml.safe_dump(spec))
    (item,) = render_specs([str(path)])
    (failover,) = [doc for doc in documents(item.stream()) if doc["kind"] == "RedisFailover"]
    command = failover["spec"]["redis"]["command"]
    assert command[:2] == ["redis-server", "/redis/redis.conf"], command
    fence = item.cluster.write_fence
    return Setup(
        command[2:],
        failover["spec"]["sentinel"]["customConfig"],
        item.cluster.master_name,
        item.cluster.quorum,
        fence.window_seconds,
        bool(fence.replicas),
        item.cluster.down_after_ms,
    )


class Hosts:
    """3 hosts, each with one redis and one sentinel; host 0 starts as master."""

    def __init__(self, network: netns.Network, setup: Setup, folder: Path, engine: str):
        self.network, self.setup, self.folder = network, setup, folder
        self.server, self.sentinel = _binaries(engine)

    def address(self, host: int) -> str:
        return self.network.address(host)

    def start(self) -> None:
        master = self.address(0)
        for host in range(3):
            data = self.folder / f"redis-{host}"
            data.mkdir()
            lines = [
                f"bind {self.address(host)}",
                "port 6379",
                "protected-mode no",
                f"dir {data}",
                "repl-diskless-sync-delay 0",
                *([f"replicaof {master} 6379"] if host else []),
            ]
            (data / "redis.conf").write_text("\n".join(lines) + "\n")
            self.network.start(host, f"redis-{host}", [*self.server, str(data / "redis.conf"), *self.setup.redis_args])
        for host in range(3):
            data = self.folder / f"sentinel-{host}"
            data.mkdir()
            name = self.setup.master_name
            lines = [
                f"bind {self.address(host)}",
                "port 26379",
                "protected-mode no",
                f"dir {data}",
                f"sentinel monitor {name} {master} 6379 {self.setup.quorum}",
                *(
                    f"sentinel {line.split(' ', 1)[0]} {name} {line.split(' ', 1)[1]}"
                    for line in self.setup.sentinel_settings
                ),
            ]
            (data / "sentinel.conf").write_text("\n".join(lines) + "\n")  # sentinel rewrites it: one file each
            mode = ["--sentinel"] if self.sentinel == self.server else []  # valkey-server runs both
            self.network.start(host, f"sentinel-{host}", [*self.sentinel, str(data / "sentinel.conf"), *mode])
        wait_until(self.healthy, 40, "3 sentinels agree on the master, and both replicas are online")

    def redis(self, host: int, timeout: float = 1) -> redis.Redis:
        return redis.Redis(
            self.address(host), 6379, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )

    def sentinel_of(self, host: int) -> redis.Redis:
        return redis.Redis(self.address(host), 26379, socket_timeout=1, socket_connect_timeout=1, decode_responses=True)

    def master_seen_by(self, host: int) -> str | None:
        """The master address host's sentinel reports (asked from inside that host)."""

        def ask() -> str | None:
            reply = self.sentinel_of(host).execute_command(
                "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.setup.master_name
            )
            return f"{reply[0]}:{reply[1]}" if reply else None

        return self.network.call(host, ask)

    def healthy(self) -> bool:
        def check() -> bool:
            info = self.redis(0).info("replication")
            if info["connected_slaves"] != 2 or any(info[f"slave{i}"]["state"] != "online" for i in range(2)):
                return False
            for host in range(3):
                state = self.sentinel_of(host).sentinel_master(self.setup.master_name)
                if int(state["num-other-sentinels"]) != 2 or int(state["num-slaves"]) != 2:
                    return False
            return True

        return self.network.call(0, check)

    def rejoined(self, old: int, new_master: str) -> bool:
        """The old master is a replica of the new one with its link up, and its sentinel follows the new master."""

        def check() -> bool:
            info = self.redis(old).info("replication")
            return (
                info["role"] == "slave"
                and f"{info['master_host']}:{info['master_port']}" == new_master
                and info["master_link_status"] == "up"
            )

        return self.network.call(old, check) and self.master_seen_by(old) == new_master


def _writes(path: Path) -> list[tuple[float, int, str | None, str]]:
    return [tuple(json.loads(line)) for line in path.read_text().splitlines() if line.endswith("]")]


def _longest_gap(writes: list[tuple[float, int, str | None, str]], since: float) -> float:
    """The longest time without an acknowledged write, from the last acknowledgement before `since` on."""
    times = [t for t, _, _, outcome in writes if outcome == "ok"]
    before = [t for t in times if t <= since]
    times = ([before[-1]] if before else [since]) + [t for t in times if t > since]
    return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


CASES = [
    pytest.param(preset, None, engine, id=f"{preset}-{engine}") for preset in ("session", "cache") for engine in ENGINES
]
# The derivation, not only its value for the default: a later failover gets a longer fence, still closed before it.
CASES.append(pytest.param("session", 10000, "redis", id="session-down-after-10s-redis"))


@pytest.mark.parametrize("preset, down_after_ms, engine", CASES)
def test_a_cut_off_master_loses_only_what_its_preset_allows(preset, down_after_ms, engine, tmp_path):
    setup = _rendered(preset, down_after_ms, tmp_path)
    cut_seconds = setup.down_after_ms / 1000 + CUT_MARGIN_SECONDS
    processes = Processes(tmp_path)
    network = netns.Network(3, processes, tag=preset[0] + engine[0])
    try:
        network.create()
        hosts = Hosts(network, setup, tmp_path, engine)
        hosts.start()
        old = f"{hosts.address(0)}:6379"
        sentinels = [hosts.address(host) for host in range(3)]
        logs = {"near": tmp_path / "near.jsonl", "far": tmp_path / "far.jsonl"}
        for name, host in (("near", 0), ("far", 1)):
            order = [sentinels[host]] + [s for s in sentinels if s != sentinels[host]]  # its own host's sentinel first
            network.start(
                host,
                f"client-{name}",
                [
                    sys.executable,
                    str(REPO / "tests" / "partition_client.py"),
                    name,
                    setup.master_name,
                    str(logs[name]),
                    str(WARM_UP_SECONDS + cut_seconds + SETTLE_SECONDS + 20),
                    *order,
                ],
            )
        time.sleep(WARM_UP_SECONDS)

        cut = time.monotonic()
        network.cut(0)
        elected, new_master = None, None
        while time.monotonic() < cut + cut_seconds:
            seen = None
            try:
                seen = hosts.master_seen_by(1)
            except (OSError, redis.RedisError):
                pass
            if seen not in (None, old) and elected is None:
                elected, new_master = time.monotonic() - cut, seen
            time.sleep(0.2)
        assert new_master is not None, f"no new master within the {cut_seconds:.0f} s cut"
        network.heal(0)
        healed = time.monotonic()
        wait_until(lambda: hosts.rejoined(0, new_master), SETTLE_SECONDS, "the old master rejoins as a replica")
        wait_until(
            lambda: any(
                t > healed and address == new_master and outcome == "ok"
                for t, _, address, outcome in _writes(logs["near"])
            ),
            20,
            "the client beside the old master writes to the new one",
        )
        processes.stop("client-near")
        processes.stop("client-far")

        writes = {name: _writes(path) for name, path in logs.items()}
        acknowledged = [
            (name, number, t, address)
            for name, log in writes.items()
            for t, number, address, outcome in log
            if outcome == "ok"
        ]

        def missing() -> list[tuple[str, int, float, str]]:
            client = redis.Redis(*new_master.split(":"), socket_timeout=5, decode_responses=True)
            pipe = client.pipeline(transaction=False)
            for name, number, _, _ in acknowledged:
                pipe.exists(f"{name}:{number}")
            return [write for write, found in zip(acknowledged, pipe.execute(), strict=True) if not found]

        lost = network.call(1, missing, timeout=30)
        by_old_after_cut = [t - cut for _, _, t, address in acknowledged if address == old and t > cut]
        window = max(by_old_after_cut, default=0.0)
        print(
            f"\n{preset} on {engine}: new master after {elected:.1f} s; the old master acknowledged "
            f"{len(by_old_after_cut)} writes until {window:.1f} s after the cut; {len(lost)} of "
            f"{len(acknowledged)} acknowledged writes lost; longest time without an acknowledged write: "
            f"{_longest_gap(writes['near'], cut):.1f} s beside the old master, "
            f"{_longest_gap(writes['far'], cut):.1f} s on another host (cut {cut_seconds:.0f} s, down-after "
            f"{setup.down_after_ms} ms)"
        )

        assert {address for _, _, _, address in lost} <= {old}, "only writes the old master acknowledged are lost"
        assert all(t > cut for _, _, t, _ in lost), "nothing acknowledged before the cut is lost"
        if setup.fenced:
            assert window <= setup.window_seconds + LOAD_SLACK_SECONDS, (
                f"the old master acknowledged writes {window:.1f} s after the cut (derived window "
                f"{setup.window_seconds} s)"
            )
            assert window < elected, "the fence closed only after the new master was elected"
        else:
            assert window >= cut_seconds, "a cache master keeps acknowledging writes until it rejoins (not fenced)"
            assert lost, "the writes a cut-off cache master acknowledged are lost when it rejoins"
    finally:
        network.destroy()
