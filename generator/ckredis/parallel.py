"""Run one function over many specs on several processes, results in input order (so output is deterministic)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Below this many items per process, forking costs more than it saves.
MIN_ITEMS_PER_PROCESS = 8


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (a container's limit), not the machine's
    except AttributeError:
        return os.cpu_count() or 1


def ordered_map(function: Callable[[Item], Result], items: list[Item], jobs: int) -> Iterator[Result]:
    """function(item) for each item, in order; on `jobs` forked processes when that pays, else in this one.

    Workers are forked so they start with what this process already imported and hold (a patched function in a
    test included); results come back pickled, one at a time, so memory stays bounded by a few results."""
    processes = min(jobs, len(items) // MIN_ITEMS_PER_PROCESS)
    if processes < 2:
        yield from map(function, items)
        return
    import multiprocessing  # only here: a single spec (the common cold run) never pays for importing it

    if "fork" not in multiprocessing.get_all_start_methods():
        yield from map(function, items)
        return
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        yield from pool.imap(function, items, chunksize=max(1, min(16, len(items) // (processes * 8))))
