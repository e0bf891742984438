"""A Sentinel client that keeps writing, run inside a host's network namespace by tests/test_partition.py.

    python partition_client.py NAME MASTER_NAME OUT SECONDS SENTINEL_HOST...

It asks the sentinels in the order given (its own host's first) for the master, as Sentinel-aware clients do, and
writes `NAME:<n>` every 10 ms. Each attempt is one JSON line in OUT, flushed at once: [monotonic time, n, master
address or null, "ok" or the error]. After an error it asks Sentinel again. Time is CLOCK_MONOTONIC, the same clock
as the test's. It stops after SECONDS (or on SIGTERM); every wait is bounded by a socket timeout.
"""

from __future__ import annotations

import json
import sys
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

PERIOD = 0.01
TIMEOUT = 0.5  # per command: a partition shows as a timeout, not a hang


def connect(host: str, port: int) -> redis.Redis:
    # No retries: redis-py's default backs off for up to 10 s between them, which would measure the client library.
    return redis.Redis(host, port, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0))


def master_address(sentinels: list[str], master_name: str) -> str | None:
    for host in sentinels:
        try:
            reply = connect(host, 26379).execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_name)
        except (redis.RedisError, OSError):
            continue
        if reply:
            return f"{reply[0].decode()}:{int(reply[1])}"
    return None


def main(name: str, master_name: str, out: str, seconds: str, *sentinels: str) -> None:
    deadline = time.monotonic() + float(seconds)
    address, client, number = None, None, 0
    with open(out, "w") as log:
        while time.monotonic() < deadline:
            if client is None:
                address = master_address(list(sentinels), master_name)
                if address is not None:
                    host, port = address.split(":")
                    client = connect(host, int(port))
            outcome = "no master"
            if client is not None:
                try:
                    client.set(f"{name}:{number}", "1")
                    outcome = "ok"
                except (redis.RedisError, OSError) as error:
                    outcome = f"{type(error).__name__}: {str(error)[:60]}"
                    client.close()
                    client = None
            log.write(json.dumps([time.monotonic(), number, address, outcome]) + "\n")
            log.flush()
            number += 1
            time.sleep(PERIOD)


if __name__ == "__main__":
    main(*sys.argv[1:])
