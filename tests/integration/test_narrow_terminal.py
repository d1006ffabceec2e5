"""What a learner sees in an 80-column terminal (the lab tests drop COLUMNS and pipe output, so
they only ever see the fixed piped width).

Why a pseudo-terminal: Rich sizes its tables from the terminal, so only a real tty of 80
columns shows whether a name the learner must type next is folded mid-word.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

from dojo.teaching.drills import registry

DOJO = str(Path(sys.executable).with_name("dojo"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def run_in_terminal(args: list[str], home: Path, columns: int = 80) -> tuple[int, str]:
    """Run a command on a pty of ``columns`` columns; its exit code and what it printed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in {"COLUMNS", "LINES"}}
    env["DOJO_HOME"] = str(home)
    env.pop("DOJO_PROGRESS_FILE", None)
    with subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env) as process:
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed its side
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=60)
    os.close(master)
    return code, ANSI.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")


def test_the_drill_list_fits_80_columns_and_keeps_every_name_whole(tmp_path: Path) -> None:
    code, output = run_in_terminal([DOJO, "drill", "list"], tmp_path / "home")
    assert code == 0, output
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80, output
    first_cells = {line.split("│")[1].strip() for line in lines if line.startswith("│ ")}
    assert set(registry.discover()) <= first_cells, output
    assert "labs/drills/DRILL.md" in output


def test_the_status_table_fits_80_columns_and_keeps_every_component_name_whole(
        tmp_path: Path) -> None:
    from dojo.runtime.components import build_components
    from dojo.settings import Settings

    code, output = run_in_terminal([DOJO, "status"], tmp_path / "home")
    assert code == 1, output  # nothing runs in a fresh home: every component is stopped
    assert max(len(line) for line in output.splitlines()) <= 80, output
    first_cells = {line.split("│")[1].strip() for line in output.splitlines()
                   if line.startswith("│ ")}
    components = [c for c in build_components(Settings(), None) if c.supervised]
    assert {c.name for c in components} <= first_cells, output
    for component in components:  # a URL is copied whole into a browser, never cut
        assert f" {component.url} " in output, (component.url, output)
    assert "Next: `dojo doctor`" in output


def test_the_lab_list_fits_80_columns_and_keeps_every_lab_id_whole(tmp_path: Path) -> None:
    from dojo.teaching.labs.catalog import LABS_DIR, load_catalog

    code, output = run_in_terminal([DOJO, "lab", "list"], tmp_path / "home")
    assert code == 0, output
    assert max(len(line) for line in output.splitlines()) <= 80, output
    first_cells = {line.split("│")[1].strip() for line in output.splitlines()
                   if line.startswith("│ ")}
    assert {lab.id for lab in load_catalog(LABS_DIR)} <= first_cells, output
