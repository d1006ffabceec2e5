"""`dojo doctor`: every component checked, and for each red line the likely cause and the
command to look further.

Why this order: it follows the debugging checklist of the learning plan. First "service down"
(supervisor, processes, ports, protocol-level answers), then "resources" (disk, memory of the
stack), then "latency" (how long each check took); `dojo doctor` then appends the "model"
lines in the same shape (`dojo.monitoring.doctor_checks`: performance, drift, labels, read
from the drift monitor, which this runtime layer must not import). Fix the first red line
first: later ones often fail because of it.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import psutil

from dojo.runtime import supervisor
from dojo.runtime.components import missing_binary
from dojo.runtime.health import check
from dojo.runtime.ports import port_answers, port_holder
from dojo.runtime.stack import ON_DEMAND_DETAIL, RUNNING, Stack, waits_for_first_use
from dojo.settings import Settings


@dataclass(frozen=True)
class DoctorLine:
    """One check's verdict. ``warn`` marks a line that is neither a pass nor a failure: the
    doctor could not tell (model performance before any label arrived). It keeps ``ok`` True,
    so it never fails the doctor, and it still carries a cause and where to look."""

    name: str
    ok: bool
    detail: str
    cause: str = ""
    look: str = ""
    section: str = "service down"
    warn: bool = False


# A health check slower than this is reported under "latency": the component answers, but a
# client with a short timeout (a consumer's request timeout, a probe) would already give up.
SLOW_CHECK_S = 2.0
MIN_FREE_DISK_BYTES = 1 << 30
MIN_AVAILABLE_MEMORY_BYTES = 1 << 30


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
    latencies: list[DoctorLine] = []
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
            running = bool(proc) and proc["statename"] in RUNNING
            if waits_for_first_use(component, proc):
                lines.append(DoctorLine(component.name, True, ON_DEMAND_DETAIL))
                continue
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
        started = time.perf_counter()
        health = check(component.name, settings)
        took = time.perf_counter() - started
        lines.append(DoctorLine(
            component.name, health.ok, health.detail,
            cause="" if health.ok else _unhealthy_cause(component.name, health.detail),
            look="" if health.ok else f"dojo logs {component.name}",
        ))
        if health.ok:
            latencies.append(DoctorLine(
                f"{component.name} check", took < SLOW_CHECK_S, f"answered in {took:.2f} s",
                cause="" if took < SLOW_CHECK_S else "overloaded, swapping, or a slow disk",
                look="" if took < SLOW_CHECK_S else "top -o %CPU; dojo logs " + component.name,
                section="latency",
            ))
    lines.extend(_resources(settings, info))
    lines.extend(latencies)
    if not shutil.which("kubectl"):
        lines.append(DoctorLine("kubectl", True, "not installed (only needed for labs 04, 10, 19)",
                                section="resources"))
    return lines


def _resources(settings: Settings, info: dict) -> list[DoctorLine]:
    """Disk under the state directory, memory left, and what the stack itself uses."""
    lines = []
    probe = settings.home if settings.home.exists() else settings.home.parent
    free = shutil.disk_usage(probe).free
    disk_ok = free >= MIN_FREE_DISK_BYTES
    lines.append(DoctorLine(
        "disk", disk_ok, f"{free / 1e9:.1f} GB free under {probe}",
        cause="" if disk_ok else "the disk is nearly full: SQLite, parquet and logs fail to write",
        look="" if disk_ok else f"du -sh {settings.home}/*; make clean",
        section="resources",
    ))
    available = psutil.virtual_memory().available
    rss = 0
    for proc in info.values():
        try:
            parent = psutil.Process(proc["pid"])
            rss += sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
        except (psutil.Error, KeyError):
            continue
    mem_ok = available >= MIN_AVAILABLE_MEMORY_BYTES
    lines.append(DoctorLine(
        "memory", mem_ok,
        f"{available / 1e9:.1f} GB available; the stack uses {rss / 1e9:.2f} GB",
        cause="" if mem_ok else "little memory left: the OOM killer may stop a component",
        look="" if mem_ok else "ps aux --sort=-rss | head",
        section="resources",
    ))
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
