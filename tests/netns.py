"""Hosts in Linux network namespaces, for tests that cut the network: needs root (`ip netns`, veth, bridge).

Each host is a namespace with one veth interface; the other ends sit on a bridge in a switch namespace of its own, so
nothing is added to the machine's own network namespace. Addresses come from 169.254.77.0/24 (IPv4 link-local,
RFC 3927: never routed) and exist only inside these namespaces. Cutting a host detaches its port from the bridge:
its packets are dropped silently, as in a real partition, while its interface stays up. Namespace names carry this
process's PID, so parallel runs and leftovers of a killed run never collide; `destroy` stops every process by PID and
deletes every namespace by name, and is safe to call on a half-built network.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from loopback import Processes

SUBNET = "169.254.77"  # /24, link-local
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def available() -> str | None:
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (`ip`) is not installed"
    return None


def remove_leftovers() -> None:
    """Namespaces of earlier runs whose process is gone (killed before cleaning up): their processes, then them."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10).stdout
    for name in (line.split()[0] for line in listing.splitlines() if line.strip()):
        owner = re.fullmatch(r"ckr(\d+)[a-z]*-(sw|h\d+)", name)
        if owner is None or Path(f"/proc/{owner.group(1)}").exists():
            continue
        pids = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, timeout=10).stdout
        for pid in pids.split():
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Network:
    """`count` hosts on one bridge; host i has address SUBNET.(i + 1)."""

    def __init__(self, count: int, processes: Processes, tag: str = "n"):
        stem = f"ckr{os.getpid()}{tag}"
        self.switch = f"{stem}-sw"
        self.hosts = [f"{stem}-h{i}" for i in range(count)]
        self.processes = processes
        self.created: list[str] = []

    def address(self, host: int) -> str:
        return f"{SUBNET}.{host + 1}"

    def create(self) -> None:
        remove_leftovers()
        for name in (self.switch, *self.hosts):
            _ip("netns", "add", name)
            self.created.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for number, host in enumerate(self.hosts):
            _ip("-n", self.switch, "link", "add", f"p{number}", "type", "veth", "peer", "name", "eth0", "netns", host)
            _ip("-n", self.switch, "link", "set", f"p{number}", "master", "br0", "up")
            _ip("-n", host, "addr", "add", f"{self.address(number)}/24", "dev", "eth0")
            _ip("-n", host, "link", "set", "eth0", "up")

    def cut(self, host: int) -> None:
        _ip("-n", self.switch, "link", "set", f"p{host}", "nomaster")

    def heal(self, host: int) -> None:
        _ip("-n", self.switch, "link", "set", f"p{host}", "master", "br0")

    def start(self, host: int, name: str, argv: list[str]) -> subprocess.Popen:
        """A process inside the host's namespace; `ip netns exec` execs it, so the PID is the process's own."""
        return self.processes.start(name, ["ip", "netns", "exec", self.hosts[host], *argv])

    def call(self, host: int, function: Callable[[], T], timeout: float = 10) -> T:
        """`function()` on a thread of its own that first enters the host's namespace (setns is per thread)."""
        outcome: dict[str, object] = {}

        def run() -> None:
            try:
                fd = os.open(f"/run/netns/{self.hosts[host]}", os.O_RDONLY)
                try:
                    if ctypes.CDLL(None, use_errno=True).setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                outcome["value"] = function()
            except BaseException as error:  # re-raised on the caller's thread
                outcome["error"] = error

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        thread.join(timeout)
        if thread.is_alive():
            raise TimeoutError(f"a call in {self.hosts[host]} took more than {timeout} s")
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    def destroy(self) -> None:
        self.processes.stop_all()
        for name in reversed(self.created):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        self.created.clear()
