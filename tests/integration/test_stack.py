"""The local stack: comes up healthy, refuses a taken port cleanly, leaves nothing on down."""

from __future__ import annotations

import socket
import subprocess
import sys

import psutil
import pytest

from dojo.runtime import supervisor
from dojo.runtime.doctor import run_doctor
from dojo.runtime.ports import port_is_free
from dojo.runtime.stack import ON_DEMAND, Stack, StackError
from dojo.settings import PORT_FIELDS, Settings, load_settings
from dojo.training.airflow_api import AirflowApi
from dojo.training.names import DAG_ID


def _processes_under(home: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(home in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_up_healthy_then_down_leaves_nothing(
    isolated_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Airflow's four processes start on demand in the session stack every other test uses
    # (test_airflow_waits_for_its_first_call_then_all_four_processes_run); here the life
    # cycle is the point, and a second Airflow with a fresh metadata migration would add a
    # minute on 2 cores.
    monkeypatch.setenv("DOJO_AIRFLOW_ENABLED", "false")
    settings = load_settings()
    stack = Stack(settings)
    stopped = False
    try:
        states = stack.up()
        built = [s for s in states if s.state != "planned"]
        assert {s.name for s in built} == {
            "broker", "mlflow", "prometheus", "alertmanager", "stream", "model-server",
            "drift-monitor",
        }
        assert all(s.state == "healthy" for s in built), states
        # the CLI sees the same stack through the DOJO_* environment
        cli = subprocess.run([sys.executable, "-m", "dojo.cli", "status"],
                             capture_output=True, text=True, check=False)
        assert cli.returncode == 0, cli.stdout + cli.stderr
        assert "healthy" in cli.stdout
        assert _processes_under(str(settings.home)), "expected stack processes to be running"
    finally:
        # no assertion here: a failure above must not be replaced by this one
        stopped = stack.down()
    assert stopped, "supervisord or one of its children outlived `down`"
    assert _processes_under(str(settings.home)) == []
    for field in PORT_FIELDS.values():
        assert port_is_free(settings.host, getattr(settings, field)), field


def test_taken_port_is_named_and_nothing_starts(isolated_env: Settings) -> None:
    settings = isolated_env
    with socket.socket() as holder:
        holder.bind((settings.host, settings.prometheus_port))
        holder.listen()
        with pytest.raises(StackError) as caught:
            Stack(settings).up()
    message = str(caught.value)
    assert str(settings.prometheus_port) in message
    assert "DOJO_PROMETHEUS_PORT" in message
    assert f"pid {psutil.Process().pid}" in message
    assert not supervisor.is_running(settings)
    assert _processes_under(str(settings.home)) == []


def test_up_again_is_idempotent(healthy_stack: Settings) -> None:
    stack = Stack(healthy_stack)
    pids_before = {n: i["pid"] for n, i in supervisor.process_info(healthy_stack).items()}
    states = stack.up()
    pids_after = {n: i["pid"] for n, i in supervisor.process_info(healthy_stack).items()}
    assert pids_before == pids_after
    assert all(s.state in {"healthy", "planned", ON_DEMAND} for s in states)


def test_doctor_names_a_stopped_component_and_where_to_look(healthy_stack: Settings) -> None:
    stack = Stack(healthy_stack)
    assert all(line.ok for line in run_doctor(healthy_stack))
    stack.stop("alertmanager")
    try:
        lines = {line.name: line for line in run_doctor(healthy_stack)}
        assert not lines["alertmanager"].ok
        assert "dojo logs alertmanager" in lines["alertmanager"].look
        assert lines["broker"].ok and lines["mlflow"].ok
    finally:
        stack.start("alertmanager")
    assert all(line.ok for line in run_doctor(healthy_stack))


AIRFLOW = ("airflow", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def test_airflow_waits_for_its_first_call_then_all_four_processes_run(
        healthy_stack: Settings) -> None:
    """`dojo up` leaves Airflow to its first use; the first API call starts all of it.

    On the session stack (a second Airflow would pay its metadata migration again): an earlier
    test may have started it, so it is stopped first, which is the state `dojo up` leaves.
    """
    stack = Stack(healthy_stack)
    for name in AIRFLOW:
        stack.stop(name)
    states = {s.name: s.state for s in stack.up()}
    assert {states[name] for name in AIRFLOW} == {ON_DEMAND}, states
    assert states["mlflow"] == "healthy" and states["model-server"] == "healthy", states
    said: list[str] = []
    with AirflowApi(healthy_stack, progress=said.append) as api:
        assert api.wait_for_dag(DAG_ID)["dag_id"] == DAG_ID
    assert any("on demand" in line for line in said), said
    states = {s.name: s.state for s in stack.status()}
    assert {states[name] for name in AIRFLOW} == {"healthy"}, states
    # A second `dojo up` keeps it running instead of treating it as on demand again.
    states = {s.name: s.state for s in stack.up()}
    assert {states[name] for name in AIRFLOW} == {"healthy"}, states
