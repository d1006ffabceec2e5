"""The model server as a child process, for the integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from dojo.runtime.ports import free_port
from dojo.runtime.waiting import wait_until


def wait_for(condition: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``condition`` until it holds (dojo.runtime.waiting), else fail naming ``what``."""
    if not wait_until(condition, deadline_s, first_pause_s=0.05, max_pause_s=0.5).ok:
        raise AssertionError(f"{what}: not within {deadline_s:.0f} s")


class ServerProcess:
    """`dojo serve` as a child process on a free port, with extra DOJO_* variables."""

    def __init__(self, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env, "DOJO_SERVING_PORT": str(self.port)}
        self.log_path = log_dir / f"model-server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        dojo = str(Path(sys.executable).with_name("dojo"))
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([dojo, "serve"], env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT)
        try:
            wait_for(self.alive, 60, f"model server on {self.url} (log {self.log_path})")
        except AssertionError:
            self.__exit__()
            raise AssertionError(self.log_path.read_text()[-3000:]) from None
        return self

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"model server exited: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/ready", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def metric(self, line_start: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith(line_start))

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
