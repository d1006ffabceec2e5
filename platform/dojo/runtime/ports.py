"""Free-port checks, and who holds a port when it is taken.

Why before start: a component that cannot bind its port dies after the supervisor has started
its neighbours. Checking every port first lets `dojo up` refuse cleanly, naming the port and
the process holding it, with nothing half-started.
"""

from __future__ import annotations

import contextlib
import random
import socket
from pathlib import Path

import psutil


def port_is_free(host: str, port: int) -> bool:
    """True when a listening socket could be bound on host:port right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def port_holder(port: int) -> str:
    """Describe the process listening on ``port`` ("pid 123 (python3 -m http.server)")."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "unknown process (run `ss -ltnp` as root to see it)"
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process of another user (see `ss -ltnp`)"
            try:
                cmdline = " ".join(psutil.Process(conn.pid).cmdline())[:80]
            except psutil.Error:
                cmdline = "?"
            return f"pid {conn.pid} ({cmdline})"
    return "an unknown process (see `ss -ltnp`)"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free now (for tests and side-by-side stacks)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
# Labs put side containers at fixed offsets above a stack's ports (lab 03: +100, +101).
OFFSET_ROOM = 1000


def ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections (Linux default 32768)."""
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def sandbox_port(host: str = "127.0.0.1", rng: random.Random | None = None) -> int:
    """A free port below the ephemeral range, with room for a lab's offsets above it.

    Why not `free_port()`: the OS picks those from the ephemeral range, the same ports it gives
    every outgoing connection. A stack port is bound once, but a lab binds `port + 101` minutes
    later, and by then a client socket of some other test may hold it (lab 03 failed in CI
    with "address already in use" that way). Ports below the range are only ever taken by
    listeners."""
    rng = rng or random.SystemRandom()
    high = ephemeral_low() - OFFSET_ROOM
    low = max(1024, high - 10_000)
    for _ in range(200):
        port = rng.randrange(low, high)
        if port_is_free(host, port):
            return port
    return free_port(host)
