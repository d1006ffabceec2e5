"""`dojo doctor`: every component checked, and for each red line the likely cause and the
command to look further.

Why this order: it follows the debugging checklist of the learning plan: first "is the service
up at all" (processes, ports), then "does it answer correctly" (protocol-level checks), and
later issues append "is it fast" and "is the model still good" lines in the same shape.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from dojo.ops import supervisor
from dojo.ops.components import missing_binary
from dojo.ops.health import check
from dojo.ops.ports import port_answers, port_holder
from dojo.ops.stack import Stack
from dojo.settings import Settings


@dataclass(frozen=True)
class DoctorLine:
    name: str
    ok: bool
    detail: str
    cause: str = ""
    look: str = ""


def run_doctor(settings: Settings) -> list[DoctorLine]:
    """Checks in checklist order; never raises for an unhealthy component."""
    stack = Stack(settings)
    lines: list[DoctorLine] = []
    sup_up = stack.is_up()
    lines.append(DoctorLine(
        "supervisor", sup_up,
        "supervisord answers" if sup_up else "supervisord is not running",
        cause="" if sup_up else "the stack was never started, or `dojo down` stopped it",
        look="" if sup_up else "make up",
    ))
    info = supervisor.process_info(settings) if sup_up else {}
    for component in stack.components():
        if component.planned:
            continue
        if component.supervised:
            missing = missing_binary(component)
            if missing:
                lines.append(DoctorLine(component.name, False, missing,
                                        cause="an OS package is not installed",
                                        look="make os-deps"))
                continue
            proc = info.get(component.name)
            running = bool(proc) and proc["statename"] in {"RUNNING", "STARTING"}
            if not running:
                state = proc["statename"].lower() if proc else "not started"
                holder = ""
                if component.port and port_answers(settings.host, component.port):
                    holder = f"; port {component.port} is held by {port_holder(component.port)}"
                lines.append(DoctorLine(
                    component.name, False, f"process {state}{holder}",
                    cause=_stopped_cause(component.name, holder),
                    look=f"dojo logs {component.name}   # then: dojo up",
                ))
                continue
        health = check(component.name, settings)
        lines.append(DoctorLine(
            component.name, health.ok, health.detail,
            cause="" if health.ok else _unhealthy_cause(component.name, health.detail),
            look="" if health.ok else f"dojo logs {component.name}",
        ))
    if not shutil.which("kubectl"):
        lines.append(DoctorLine("kubectl", True, "not installed (only needed for labs 04, 10, 19)"))
    return lines


def _stopped_cause(name: str, holder: str) -> str:
    if holder:
        return "another process took the port, so the component cannot bind it"
    if name == "broker":
        return "the broker is stopped; producers and consumers retry, then fail"
    return f"{name} was stopped or crashed more often than the supervisor retries"


def _unhealthy_cause(name: str, detail: str) -> str:
    if "topics are missing" in detail:
        return "the in-memory broker restarted and lost its topics; `dojo up` recreates them"
    if name == "mlflow":
        return "the tracking server is starting, migrating its database, or stuck"
    return f"{name} runs but does not answer its health check"
