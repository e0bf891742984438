"""The memory budget of a Redis pod: what its memory limit must hold at the worst moment, a fork under writes.

Redis enforces `maxmemory` on its data only. During a full resync of a replica (and a session store's BGSAVE or
AOF rewrite) a fork child serializes the dataset while clients keep writing, and the pod then also holds:

- replication buffer: the writes that reach the master while a replica receives and loads the snapshot. Redis 7
  does not count it against maxmemory; `client-output-buffer-limit replica` bounds it (a replica that needs more
  is dropped, and must resync again);
- copy-on-write: every page the master writes while the child lives is copied (the child keeps the old one);
- overhead: resident memory beyond `used_memory` (allocator fragmentation and metadata, the binary, Lua);
- reserve: a share of the limit left unplanned (page cache of the RDB/AOF files, what this model misses).

On Redis the replication buffer and copy-on-write add up. One replica's buffer is full only after its fork, while
it loads the snapshot, but a second replica (two pods restarted) gets its own fork then, and a session store's
BGSAVE may start then too: the shared buffer and the new fork's copy-on-write coincide. Measured at twice the
write rate on a busy 2-core machine, a cache whose maxmemory assumed they never coincide (48 % of 256Mi) peaked
at 94 % of the limit. Valkey's dual-channel replication moves the buffer to the replica, which receives the writes
beside the snapshot: the primary then holds only copy-on-write and the replica only its buffer, so the pod's peak
is the larger of the two (every pod may be either).

A fork lasts maxmemory / fork rate, so every term but the fixed overhead grows with maxmemory, and maxmemory
is what is left: limit = maxmemory + fork peak + overhead + reserve. A cache persists nothing (no save points, no
AOF): its forks only stream the dataset to replicas, so it turns off the snapshot's compression, which costs the
fork child about as much time as the transfer itself; its forks are then as fast as the network lets them be
(UNCOMPRESSED_FORK_RATE). Its replicas still write what they receive to disk before loading it, and delete it then.
"""

from __future__ import annotations

from dataclasses import dataclass

from ckredis.quantity import memory_bytes

MIB = 2**20
# A fork child serializes, compresses (rdbcompression, the default) and ships the dataset at least this fast (2-core
# test machine over loopback, under writes: 64-113 MiB/s; a 1 Gbit/s link carries about 110 MiB/s). Assumes the pod
# gets about a core while it forks.
FORK_RATE = 32 * MIB
# Without compression the child only copies: 141 MiB of 4 KiB values streamed to a replica in 0.7-1.0 s (Redis 7.0,
# the test machine with both cores busy besides; 1.7-1.9 s compressed), so the link bounds it: a fork streams to
# every syncing replica at once, two of them share the master's 1 Gbit/s link, about 55 MiB/s each.
UNCOMPRESSED_FORK_RATE = 55 * MIB
# Pages copied per byte written during a fork: a value straddles a page boundary (measured 1.26 for 4 KiB values).
COPY_PER_BYTE_WRITTEN = 1.5
# A full resync lasts the snapshot transfer and then the replica's load of it, taken to last as long again (a replica
# loaded 132 MiB uncompressed from disk in 0.6 s at most on the busy test machine, a quarter of a 55 MiB/s transfer).
RESYNC_PER_FORK = 2
# Resident memory beyond used_memory, read live from /proc (INFO's used_memory_rss is refreshed by serverCron, so
# it lags), with Redis 7.0 / jemalloc 5.3 at 140-144 MiB of 4 KiB values under churn, after the fill's AOF rewrite:
# - outside the allocator (binary, libraries, thread stacks): 4.5-8.1 MiB, the fixed part;
# - allocator metadata and slab fragmentation: 3.6-4.0 MiB (about 3 % of the data);
# - freed pages jemalloc keeps dirty for its ~10 s decay after a burst (pipelined writes, a fork's rehash): up to
#   8.6 MiB in 12 runs here and 16 MiB in CI (28.1 MiB beyond used_memory in all), about 11 % of the data.
# The share covers 3 % + 11 % with a margin of 2 points: 31 MiB at 144 MiB, 10 % above the worst run seen.
OVERHEAD_FIXED = 8 * MIB
ALLOCATOR_SHARE = 0.16
RESERVE_PERCENT = 10
BACKLOG_PERCENT = 2  # of the limit; Redis 7 counts the backlog inside maxmemory
MIN_BACKLOG = 1 * MIB  # Redis's own default
SOFT_LIMIT_SECONDS = 60  # a replica above half its hard limit this long cannot keep up: drop it
WRITE_RATE_UNIT = "/s"
# Engines whose replicas buffer a full sync's writes themselves (Valkey 8.0+, `dual-channel-replication-enabled`).
# Measured on valkey-server 9.1.2, cache at 55 % of 256Mi under twice its write rate: the primary's peak drops by
# 16-21 MiB of buffer (master RSS 147-149 MiB instead of 165-168 MiB).
DUAL_CHANNEL_ENGINES = frozenset({"valkey"})


def write_rate_bytes(rate: str) -> int:
    """Bytes per second in a write rate such as '8Mi/s'."""
    return memory_bytes(rate.removesuffix(WRITE_RATE_UNIT))


def _mib(size: int) -> str:
    return f"{size / MIB:.1f}"


@dataclass(frozen=True)
class Budget:
    """One pod's memory limit, split into what it must hold during a fork under `write_rate` bytes/s of writes."""

    limit: int
    write_rate: str
    maxmemory: int
    engine: str
    persists: bool  # snapshots and AOF on disk, compressed; else forks only stream to replicas, uncompressed

    @property
    def dual_channel(self) -> bool:
        return self.engine in DUAL_CHANNEL_ENGINES

    @property
    def fork_rate(self) -> int:
        return _fork_rate(self.persists)

    @property
    def fork_seconds(self) -> float:
        return self.maxmemory / self.fork_rate

    @property
    def replication(self) -> int:
        """The replica output buffer hard limit: every write of a full resync, rounded up to whole MiB."""
        needed = write_rate_bytes(self.write_rate) * RESYNC_PER_FORK * self.fork_seconds
        return -(-int(needed) // MIB) * MIB

    @property
    def copy_on_write(self) -> int:
        return min(self.maxmemory, int(COPY_PER_BYTE_WRITTEN * write_rate_bytes(self.write_rate) * self.fork_seconds))

    @property
    def fork_peak(self) -> int:
        """What a pod holds beyond maxmemory and overhead while forks and full resyncs run (see the docstring)."""
        if self.dual_channel:
            return max(self.replication, self.copy_on_write)
        return self.replication + self.copy_on_write

    @property
    def overhead(self) -> int:
        return OVERHEAD_FIXED + int(ALLOCATOR_SHARE * self.maxmemory)

    @property
    def reserve(self) -> int:
        return self.limit * RESERVE_PERCENT // 100

    @property
    def planned(self) -> int:
        """The pod's planned peak: everything but the reserve."""
        return self.maxmemory + self.fork_peak + self.overhead

    @property
    def fits(self) -> bool:
        return self.planned + self.reserve <= self.limit

    @property
    def backlog(self) -> int:
        return max(MIN_BACKLOG, self.limit * BACKLOG_PERCENT // 100 // MIB * MIB)

    @property
    def directives(self) -> tuple[str, ...]:
        """customConfig lines (bytes, so CONFIG GET reads them back verbatim)."""
        return (
            f"client-output-buffer-limit replica {self.replication} {self.replication // 2} {SOFT_LIMIT_SECONDS}",
            f"repl-backlog-size {self.backlog}",
            *(["dual-channel-replication-enabled yes"] if self.dual_channel else []),
            *([] if self.persists else ["rdbcompression no"]),
        )

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(term, MiB, % of the limit, what it holds) for the chart README."""
        fork_seconds = f"{self.fork_seconds:.1f} s at {self.fork_rate // MIB} MiB/s" + (
            "" if self.persists else ", uncompressed"
        )
        if self.dual_channel:
            fork = [
                (
                    "fork peak",
                    self.fork_peak,
                    f"the larger of: copy-on-write {_mib(self.copy_on_write)} MiB on the primary while a fork lives "
                    f"({fork_seconds}), or a replica's own buffer of a full resync's writes (dual-channel "
                    f"replication; hard limit {_mib(self.replication)} MiB, {RESYNC_PER_FORK} x the fork)",
                )
            ]
        else:
            resync = f"{RESYNC_PER_FORK} x the fork: {fork_seconds}"
            fork = [
                (
                    "replication buffer",
                    self.replication,
                    f"writes during a full resync ({resync}); the replica's hard limit",
                ),
                ("copy-on-write", self.copy_on_write, f"pages written while a fork lives ({fork_seconds})"),
            ]
        terms = [
            ("maxmemory", self.maxmemory, f"data, replication backlog ({_mib(self.backlog)} MiB) and client buffers"),
            *fork,
            (
                "overhead",
                self.overhead,
                f"resident beyond used_memory: {_mib(OVERHEAD_FIXED)} MiB + "
                f"{ALLOCATOR_SHARE:.0%} allocator (metadata, fragmentation, dirty pages)",
            ),
            ("reserve", self.reserve, "unplanned: page cache of RDB/AOF files, what the model misses"),
            ("memory limit", self.limit, "the pod's `resources.limits.memory`"),
        ]
        return [(name, _mib(size), f"{100 * size / self.limit:.0f}%", why) for name, size, why in terms]


def _fork_rate(persists: bool) -> int:
    return FORK_RATE if persists else UNCOMPRESSED_FORK_RATE


def _copy_share(rate: int, persists: bool) -> float:
    """Copy-on-write per byte of maxmemory (a fork copies the dataset at most once)."""
    return min(1.0, COPY_PER_BYTE_WRITTEN * rate / _fork_rate(persists))


def largest_percent(limit: str, write_rate: str, engine: str, persists: bool) -> int | None:
    """The largest maxmemoryPercent (the schema admits 10-90) whose budget fits, if any."""
    return max(
        (percent for percent in range(10, 91) if budget(limit, write_rate, engine, persists, percent).fits),
        default=None,
    )


def budget(limit: str, write_rate: str, engine: str, persists: bool, maxmemory_percent: int | None = None) -> Budget:
    """The budget of a pod with this memory limit: maxmemory as given in percent, or else the most that fits."""
    limit_bytes = memory_bytes(limit)
    if maxmemory_percent is not None:
        return Budget(limit_bytes, write_rate, limit_bytes * maxmemory_percent // 100, engine, persists)
    rate = write_rate_bytes(write_rate)
    replication, copy = RESYNC_PER_FORK * rate / _fork_rate(persists), _copy_share(rate, persists)
    fork_peak = max(replication, copy) if engine in DUAL_CHANNEL_ENGINES else replication + copy
    per_byte = 1 + ALLOCATOR_SHARE + fork_peak
    # One MiB covers rounding the replication buffer up to whole MiB.
    room = limit_bytes - limit_bytes * RESERVE_PERCENT // 100 - OVERHEAD_FIXED - MIB
    return Budget(limit_bytes, write_rate, max(0, int(room / per_byte)) // MIB * MIB, engine, persists)
