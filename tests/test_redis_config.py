"""The rendered customConfig works on a real Redis 7 and a real Valkey 9.1, each with its Sentinel, applied the way
the operator applies it; each case renders the spec for the engine it runs on.

The Spotahome operator (service/redis/client.go) splits each `spec.redis.customConfig` line at spaces: the
first word is the parameter, the rest (joined by single spaces) the value, and a line of exactly two words
whose value is `""` means the empty string (the `save ""` style). It sends `CONFIG SET <param> <value>` to
every Redis (after prepending `replica-priority 100`) and `SENTINEL SET <master> <param> <value>` to every
Sentinel for each `spec.sentinel.customConfig` line. A line that Redis rejects fails the reconcile, so each
line must come back OK, and CONFIG GET / SENTINEL MASTER must then report the intended value.

One server and one Sentinel per engine serve the whole module; every case restores what it changed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import yaml

from ckredis import starter
from ckredis.pipeline import Rendered, render_specs
from conftest import EXAMPLES, documents, load_example
from servers import Engine, alone, boot, failovers, free_port, start, stop, with_engine

OPERATOR_PREPENDED = "replica-priority 100"  # the operator adds this line before the user's
STARTERS = ("cache", "session")
CASES = [f"example:{path.stem}" for path in EXAMPLES] + [f"init:{purpose}" for purpose in STARTERS]
MEMORY_UNITS = {
    "": 1,
    "k": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def operator_split(line: str) -> tuple[str, str]:
    """getConfigParameters() of the operator, restated: (parameter, value)."""
    words = line.split(" ")
    assert len(words) >= 2, f"the operator rejects {line!r} as malformed (it needs '<param> <value>')"
    if len(words) == 2 and words[1] == '""':
        return words[0], ""
    return words[0], " ".join(words[1:])


def as_read_back(parameter: str, value: str, live: str) -> str:
    """What CONFIG GET reports of a value that was set: per-class directives report every class, the replica
    class under its old name `slave`; only the class that was set is compared."""
    if parameter != "client-output-buffer-limit":
        return live
    words = live.split(" ")
    classes = {name: " ".join(words[at + 1 : at + 4]) for at, name in enumerate(words) if at % 4 == 0}
    wanted = value.split(" ", 1)[0]
    return f"{wanted} {classes.get({'replica': 'slave'}.get(wanted, wanted))}"


def memory_limit_bytes(quantity: str) -> int:
    """A Kubernetes memory quantity in bytes, parsed here independently of ckredis.quantity."""
    number = quantity.rstrip("kMGTi")
    return int(number) * MEMORY_UNITS[quantity[len(number) :]]


# ---------------------------------------------------------------- the real servers


@dataclass
class Servers:
    engine: Engine
    redis: redis.Redis
    redis_port: int
    sentinel: redis.Redis
    baseline: dict[str, str]  # CONFIG GET * before any case


@pytest.fixture(scope="module")
def servers(tmp_path_factory, engine) -> Servers:
    work = tmp_path_factory.mktemp(engine.name)
    redis_port, sentinel_port = free_port(), free_port()
    (work / "redis.conf").write_text(
        f'bind 127.0.0.1\nport {redis_port}\nprotected-mode yes\ndaemonize no\nsave ""\nappendonly no\n'
        f"dir {work}\nlogfile {work / 'redis.log'}\n"
    )
    # Sentinel rewrites its config file: it must be writable. Masters are added per case with SENTINEL MONITOR.
    (work / "sentinel.conf").write_text(
        f"bind 127.0.0.1\nport {sentinel_port}\nprotected-mode yes\ndaemonize no\ndir {work}\n"
        f"logfile {work / 'sentinel.log'}\n"
    )
    started = []
    try:
        server, server_client = start([engine.server, str(work / "redis.conf")], redis_port, work / "redis.log")
        started.append(server)
        sentinel, sentinel_client = start(engine.sentinel(work / "sentinel.conf"), sentinel_port, work / "sentinel.log")
        started.append(sentinel)
        # Valkey reports the Redis version it forked from (7.2.4) beside its own.
        assert server_client.info("server")["redis_version"].startswith("7."), "these tests target Redis 7's protocol"
        assert engine.is_running(server_client) and engine.is_running(sentinel_client), f"not {engine.name}"
        info = sentinel_client.info("server")
        assert info.get("redis_mode", info.get("server_mode")) == "sentinel"  # Valkey names it server_mode
        yield Servers(engine, server_client, redis_port, sentinel_client, server_client.config_get("*"))
    finally:
        for process in reversed(started):
            stop(process)


@pytest.fixture
def real(servers):
    """The servers, with every Redis parameter a case set restored and every monitored master removed after it."""
    yield servers
    changed = {
        name: value for name, value in servers.redis.config_get("*").items() if servers.baseline.get(name) != value
    }
    for name in changed:
        servers.redis.execute_command("CONFIG", "SET", name, servers.baseline[name])
    for master in servers.sentinel.execute_command("SENTINEL", "MASTERS"):
        servers.sentinel.execute_command("SENTINEL", "REMOVE", _pairs(master)["name"])


# ---------------------------------------------------------------- what the operator does


def apply_redis_line(client: redis.Redis, line: str) -> tuple[str, str]:
    """CONFIG SET as the operator sends it; asserts Redis answered OK and CONFIG GET reads the value back."""
    parameter, value = operator_split(line)
    reply = client.execute_command("CONFIG", "SET", parameter, value)
    assert reply == "OK", f"CONFIG SET {parameter} {value!r} answered {reply!r}"
    read_back = _pairs(client.execute_command("CONFIG", "GET", parameter))
    assert list(read_back) == [parameter] and as_read_back(parameter, value, read_back[parameter]) == value, (
        f"{line!r}: CONFIG GET answered {read_back!r}"
    )
    return parameter, value


def apply_sentinel_line(client: redis.Redis, master: str, line: str) -> tuple[str, str]:
    """SENTINEL SET as the operator sends it; asserts OK and that SENTINEL MASTER reports the value."""
    parameter, value = operator_split(line)
    reply = client.execute_command("SENTINEL", "SET", master, parameter, value)
    assert reply == "OK", f"SENTINEL SET {master} {parameter} {value!r} answered {reply!r}"
    reported = _pairs(client.execute_command("SENTINEL", "MASTER", master))
    assert reported.get(parameter) == value, f"{line!r}: SENTINEL MASTER {master} reports {reported.get(parameter)!r}"
    return parameter, value


def _pairs(reply: list | dict) -> dict[str, str]:
    return reply if isinstance(reply, dict) else dict(zip(reply[::2], reply[1::2], strict=True))


# ---------------------------------------------------------------- the cases


def _render_case(case: str, tmp_path: Path, engine: Engine) -> tuple[dict, Rendered]:
    """The spec of the case, for `engine`, and its render."""
    kind, name = case.split(":")
    if kind == "example":
        text = next(path for path in EXAMPLES if path.stem == name).read_text()
    else:
        text = starter.starter_spec(f"starter-{name}", name, "redis-system")
    spec = with_engine(yaml.safe_load(text), engine)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    (item,) = render_specs([str(path)])
    return spec, item


def _connection_master_names(item: Rendered) -> set[str]:
    found = set()
    for doc in documents(item.stream()):
        if doc["kind"] in ("Secret", "ConfigMap"):
            data = {**doc.get("data", {}), **doc.get("stringData", {})}  # a Secret's data would be base64
            found |= {value for key, value in data.items() if key.endswith("_MASTER_NAME")}  # REDIS_/VALKEY_
    assert found, f"{item.source} renders no connection object"
    return found


@pytest.mark.parametrize("case", CASES)
def test_redis_custom_config_applies_on_real_redis(real, case, tmp_path):
    spec, item = _render_case(case, tmp_path, real.engine)
    for failover in failovers(item):
        lines = failover["spec"]["redis"]["customConfig"]
        applied = dict(apply_redis_line(real.redis, line) for line in dict.fromkeys([OPERATOR_PREPENDED, *lines]))

        # What the purpose promises, read back from the running server.
        limit = memory_limit_bytes(failover["spec"]["redis"]["resources"]["limits"]["memory"])
        live = real.redis.config_get("*")
        assert int(live["maxmemory"]) == item.cluster.maxmemory
        assert 0 < int(live["maxmemory"]) < limit, "maxmemory must leave headroom below the container memory limit"
        if spec["spec"]["purpose"] == "cache":
            wanted_policy = spec["spec"].get("redis", {}).get("config", {}).get("maxmemoryPolicy", "allkeys-lru")
            assert live["maxmemory-policy"] == wanted_policy
            assert live["appendonly"] == "no" and live["save"] == "", "a cache keeps nothing on disk"
        else:
            assert live["maxmemory-policy"] == "noeviction", "a session store never evicts silently"
            assert live["appendonly"] == "yes" and live["save"] != "", "a session store persists (AOF + RDB)"
        assert {name: as_read_back(name, value, live[name]) for name, value in applied.items()} == applied


@pytest.mark.parametrize("case", CASES)
def test_sentinel_custom_config_applies_on_real_sentinel(real, case, tmp_path):
    spec, item = _render_case(case, tmp_path, real.engine)
    for failover in failovers(item):
        sentinel = failover["spec"]["sentinel"]
        # The master name sentinels use: the operator's `mymaster`, or the RedisFailover's own name where the
        # (freshworks) operator is told so. Applications ask the sentinels for the name in the connection object.
        master = failover["metadata"]["name"] if sentinel.get("disableMyMaster") else "mymaster"
        assert master == item.cluster.master_name
        assert _connection_master_names(item) == {master}

        quorum = sentinel["replicas"] // 2 + 1
        # MonitorRedisWithPort(): SENTINEL REMOVE (errors ignored), then SENTINEL MONITOR.
        assert (
            real.sentinel.execute_command("SENTINEL", "MONITOR", master, "127.0.0.1", real.redis_port, quorum) == "OK"
        )
        applied = dict(apply_sentinel_line(real.sentinel, master, line) for line in sentinel["customConfig"])

        reported = _pairs(real.sentinel.execute_command("SENTINEL", "MASTER", master))
        assert reported["quorum"] == str(item.cluster.quorum) == str(quorum)
        assert {name: reported[name] for name in applied} == applied
        written = spec["spec"].get("sentinel", {}).get("config", {})
        for field, parameter in (
            ("downAfterMilliseconds", "down-after-milliseconds"),
            ("failoverTimeout", "failover-timeout"),
            ("parallelSyncs", "parallel-syncs"),
        ):
            if field in written:
                assert reported[parameter] == str(written[field]), (
                    f"spec.sentinel.config.{field} did not reach sentinel"
                )


def test_every_example_and_starter_is_covered():
    purposes = {load_example(path)["spec"]["purpose"] for path in EXAMPLES}
    assert purposes == {"cache", "session"}
    assert len(CASES) == len(EXAMPLES) + len(STARTERS)


# ---------------------------------------------------------------- the checks can fail


@pytest.mark.parametrize(
    "line, refusal",
    [
        ("maxmemory 256Mi", "argument must be a memory value"),  # a Kubernetes quantity passed through verbatim
        ("maxmemory-policy allkeys-lruu", "argument(s) must be one of"),
        ("maxmemroy 201326592", "Unknown option or number of arguments"),
        ("appendonly maybe", "argument must be 'yes' or 'no'"),
    ],
)
def test_real_redis_refuses_a_bad_line(real, line, refusal):
    with pytest.raises(redis.ResponseError, match=refusal.replace("(", r"\(").replace(")", r"\)")):
        apply_redis_line(real.redis, line)


def test_read_back_catches_a_value_redis_rewrites(real):
    # Redis accepts `1gb` but reports 1073741824: the read-back is a real check, not an echo of the input.
    with pytest.raises(AssertionError, match="CONFIG GET answered"):
        apply_redis_line(real.redis, "maxmemory 1gb")


def test_operator_split_rejects_a_line_without_a_value():
    with pytest.raises(AssertionError, match="malformed"):
        operator_split("appendonly")
    assert operator_split('save ""') == ("save", "")
    assert operator_split("save 900 1 300 10") == ("save", "900 1 300 10")


def test_real_sentinel_refuses_an_unknown_master_and_option(real):
    assert real.sentinel.execute_command("SENTINEL", "MONITOR", "mymaster", "127.0.0.1", real.redis_port, 2) == "OK"
    # The master name matters: lines sent for a name the sentinels do not monitor fail the reconcile.
    with pytest.raises(redis.ResponseError, match="No such master"):
        apply_sentinel_line(real.sentinel, "sessions", "down-after-milliseconds 5000")
    with pytest.raises(redis.ResponseError, match="Invalid argument"):
        apply_sentinel_line(real.sentinel, "mymaster", "down-after-milliseconds soon")
    with pytest.raises(redis.ResponseError):
        apply_sentinel_line(real.sentinel, "mymaster", "no-such-option 1")


# ---------------------------------------------------------------- the start-up command


@pytest.mark.parametrize("case", CASES)
def test_a_restarted_pod_boots_with_every_directive(engine, case, tmp_path):
    """customConfig only reaches a running server; the command must set the same values from the first second."""
    _, item = _render_case(case, tmp_path, engine)
    (failover,) = failovers(item)
    redis_spec = failover["spec"]["redis"]
    process, client = boot(engine, redis_spec["command"], tmp_path)
    try:
        for line in redis_spec["customConfig"]:
            name, value = operator_split(line)
            assert as_read_back(name, value, client.config_get(name)[name]) == value, f"{name} at boot"
    finally:
        stop(process)


def test_a_session_store_keeps_acknowledged_writes_through_a_crash(engine, tmp_path):
    """With the append-only file on at boot, a killed and restarted master still has its writes
    (not just the last RDB)."""
    _, item = _render_case("example:session", tmp_path, engine)
    (failover,) = failovers(item)
    command = alone(failover["spec"]["redis"]["command"])
    process, client = boot(engine, command, tmp_path)
    client.set("session:1", "alice")
    time.sleep(1.5)  # appendfsync everysec: on disk within a second
    process.kill()
    process.wait()
    process, client = boot(engine, command, tmp_path)
    try:
        assert client.get("session:1") == "alice"
    finally:
        stop(process)


def test_without_the_start_up_options_a_crash_loses_the_writes(engine, tmp_path):
    """The control: the operator's redis.conf alone (appendonly off, RDB every 5+ minutes) loses them."""
    process, client = boot(engine, ["redis-server", "/redis/redis.conf"], tmp_path)
    client.set("session:1", "alice")
    time.sleep(1.5)
    process.kill()
    process.wait()
    process, client = boot(engine, ["redis-server", "/redis/redis.conf"], tmp_path)
    try:
        assert client.get("session:1") is None
    finally:
        stop(process)


# ---------------------------------------------------------------- directives of several words


MULTI_WORD = "client-output-buffer-limit replica 64mb 32mb 60"
REPORTED = "slave 67108864 33554432 60"  # bytes, under the replica class's old name


def test_a_multi_word_directive_applies_at_runtime(real):
    parameter, value = operator_split(MULTI_WORD)
    assert real.redis.execute_command("CONFIG", "SET", parameter, value) == "OK"
    live = real.redis.config_get(parameter)[parameter]
    assert REPORTED in live and live.startswith("normal 0 0 0 "), "only the replica class changes"
    # The read-back compares the class that was set, and catches a value Redis rewrites (64mb -> bytes).
    with pytest.raises(AssertionError, match="CONFIG GET answered"):
        apply_redis_line(real.redis, MULTI_WORD)


def test_a_multi_word_directive_applies_at_boot(engine, tmp_path):
    """Cluster.redis_command passes the value as one argument after the option; Redis 7 and Valkey split it."""
    parameter, value = operator_split(MULTI_WORD)
    process, client = boot(engine, ["redis-server", "/redis/redis.conf", f"--{parameter}", value], tmp_path)
    try:
        assert REPORTED in client.config_get(parameter)[parameter]
    finally:
        stop(process)
