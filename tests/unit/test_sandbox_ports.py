"""Side-by-side stacks take ports below the kernel's ephemeral range.

Why it matters: a lab binds a container at a fixed offset above a stack's port minutes after
the stack chose it; in the ephemeral range an outgoing connection can hold that port by then.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

from dojo.runtime import ports
from dojo.runtime.sandbox import sandbox_env
from dojo.settings import PORT_FIELDS, env_name


def test_sandbox_ports_leave_room_below_the_ephemeral_range(tmp_path: Path) -> None:
    ceiling = ports.ephemeral_low() - ports.OFFSET_ROOM
    env = sandbox_env(tmp_path)
    chosen = [int(env[env_name(field)]) for field in PORT_FIELDS.values()]
    assert len(set(chosen)) == len(chosen)
    assert all(1024 <= port < ceiling for port in chosen), chosen


def test_a_taken_port_is_never_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        taken = held.getsockname()[1]
        monkeypatch.setattr(ports, "ephemeral_low", lambda: taken + ports.OFFSET_ROOM + 1)
        # every draw from a one-port range hits the taken port: the OS picks one instead
        monkeypatch.setattr(random.Random, "randrange", lambda self, a, b: taken)
        assert ports.sandbox_port(rng=random.Random(0)) != taken


def test_the_range_is_read_from_the_kernel(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "range"
    fake.write_text("40000\t60999\n")
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE_FILE", fake)
    assert ports.ephemeral_low() == 40_000
    fake.write_text("garbage")
    assert ports.ephemeral_low() == 32_768
