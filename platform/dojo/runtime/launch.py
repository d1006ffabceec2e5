"""How the broker and the MLflow server are started: one builder for each command line.

Why one place: the stack, the tests and the benchmarks all start these servers. A benchmark
that starts MLflow with other flags than `dojo up` does measures a server nobody runs (two
copies once left out the setting that switches off MLflow's job runners, which costs ~10 s
of start and ~1.5 GB). So the supervised stack and every standalone start share these
builders, and `standalone_broker` / `standalone_mlflow` start one with a health-gated wait.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from dojo.runtime.broker_binary import broker_binary
from dojo.runtime.ports import free_port, port_answers
from dojo.runtime.waiting import wait_until

# MLflow 3's server also starts Huey job consumers for GenAI jobs (scorers, trace roll-ups)
# that this platform does not use. Off (measured, 2 cores): a warm `dojo up` took 24 s instead
# of 35 s, and MLflow's processes use 0.5 GB, not ~2 GB.
MLFLOW_ENV: Mapping[str, str] = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def venv_executable(name: str) -> str:
    """An executable of this venv, so a supervisor or a test never picks up another install."""
    return str(Path(sys.executable).with_name(name))


def broker_command(binary: Path | str, host: str, port: int,
                   advertised_port: int | None = None) -> tuple[str, ...]:
    """Tansu with in-memory storage; ``advertised_port`` differs only behind a proxy."""
    listener = f"tcp://{host}:{port}"
    advertised = f"tcp://{host}:{advertised_port or port}"
    return (str(binary), "broker", "--listener-url", listener,
            "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/")


def mlflow_command(host: str, port: int, state_dir: Path) -> tuple[str, ...]:
    """The tracking + registry server on SQLite with local artifacts, one worker."""
    return (
        venv_executable("mlflow"), "server", "--host", host, "--port", str(port),
        "--backend-store-uri", f"sqlite:///{state_dir / 'mlflow.db'}",
        "--artifacts-destination", str(state_dir / "artifacts"),
        "--workers", "1",
    )


class LaunchError(RuntimeError):
    """A standalone server did not become ready; the message says which and where its log is."""


@contextmanager
def standalone_broker(tmp: Path, topics: Mapping[str, int] | None = None, *,
                      port: int | None = None, advertised_port: int | None = None,
                      deadline_s: float = 20.0) -> Iterator[str]:
    """A broker of its own on a free port (topics created), killed on exit; yields host:port.

    With ``advertised_port`` (a proxy in front of the broker), clients are sent to the proxy,
    which is not up yet here: the caller creates its topics once the proxy is.
    """
    from kafka.admin import KafkaAdminClient, NewTopic

    if topics and advertised_port is not None:
        raise ValueError("create topics through the proxy once it is up, not here")

    port = port or free_port()
    log_path = tmp / "broker.log"
    tmp.mkdir(parents=True, exist_ok=True)
    command = broker_command(broker_binary(tmp / "bin"), "127.0.0.1", port, advertised_port)
    with log_path.open("wb") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_until(lambda: port_answers("127.0.0.1", port), deadline_s,
                           stop=lambda _: proc.poll() is not None, first_pause_s=0.05)
        if not ready.ok:
            raise LaunchError(f"broker did not open port {port} within {deadline_s:g} s "
                              f"(exit code {proc.poll()}); log: {log_path}")
        address = f"127.0.0.1:{advertised_port or port}"
        if topics:
            admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=10_000)
            try:
                admin.create_topics([NewTopic(name, n, 1) for name, n in topics.items()])
            finally:
                admin.close()
        yield address
    finally:
        proc.kill()
        proc.wait(timeout=10)


@contextmanager
def standalone_mlflow(state_dir: Path, *, deadline_s: float = 180.0) -> Iterator[str]:
    """An MLflow server as `dojo up` starts it, on a free port; yields its URI."""
    port = free_port()
    state_dir.mkdir(parents=True, exist_ok=True)
    log_path = state_dir / "mlflow.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(mlflow_command("127.0.0.1", port, state_dir),
                                env={**os.environ, **MLFLOW_ENV}, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{uri}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        if not wait_until(healthy, deadline_s, stop=lambda _: proc.poll() is not None).ok:
            raise LaunchError(f"MLflow did not answer /health within {deadline_s:g} s "
                              f"(exit code {proc.poll()}); log: {log_path}")
        yield uri
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
