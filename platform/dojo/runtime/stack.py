"""The local stack: start it health-gated, report on it, stop it leaving nothing behind.

Why health-gated and all-or-nothing: a learner who runs `make up` must either get a working
platform or one message saying what is wrong. So ports and OS tools are checked before anything
starts, components start in dependency order, each must pass its health check before the
next, and a failure stops everything that was started.
"""

from __future__ import annotations

import fcntl
import json
import os
import string
import sys
import threading
import xmlrpc.client
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from dojo.runtime import supervisor
from dojo.runtime.broker_binary import broker_binary
from dojo.runtime.components import Component, build_components, missing_binary
from dojo.runtime.health import Health, check
from dojo.runtime.ports import port_holder, port_is_free
from dojo.runtime.waiting import wait_until
from dojo.settings import PORT_FIELDS, TELEMETRY_OFF, Settings, env_name

# Prometheus' alert rules ship with its config templates (package data of dojo.runtime);
# `promtool test rules` checks them in the tests, and the monitoring issue adds its own here.
TEMPLATES = resources.files("dojo.runtime").joinpath("templates")
RULES_DIR = Path(str(TEMPLATES.joinpath("rules")))


ON_DEMAND = "on demand"
ON_DEMAND_DETAIL = "not started yet; the first `dojo train` starts it (~15 s)"


RUNNING = {"RUNNING", "STARTING"}  # supervisord states of a process that is up or coming up


def waits_for_first_use(component: Component, proc: dict | None) -> bool:
    """An on-demand process never started (or stopped on purpose): supervisord says STOPPED,
    where one that ran and crashed is EXITED or FATAL and counts as stopped."""
    return component.on_demand and proc is not None and proc["statename"] == "STOPPED"


class StackError(RuntimeError):
    """The stack could not be brought to the requested state; the message says why."""


@dataclass(frozen=True)
class ComponentState:
    name: str
    title: str
    url: str
    state: str  # healthy | unhealthy | stopped | external | planned
    detail: str


Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


class Stack:
    """Controls the supervisord-managed local stack described by ``settings``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    # ------------------------------------------------------------------ facts
    def components(self) -> list[Component]:
        broker_path = None
        if self.settings.uses_local_broker:
            broker_path = self.settings.home / "bin" / "tansu"
        return build_components(self.settings, broker_path)

    def component(self, name: str) -> Component:
        for component in self.components():
            if component.name == name:
                return component
        known = ", ".join(c.name for c in self.components() if c.supervised)
        raise StackError(f"unknown component {name!r}; known: {known}")

    def is_up(self) -> bool:
        """True when the supervisor of this stack is running."""
        return supervisor.is_running(self.settings)

    # ------------------------------------------------------------------ start
    def up(self, progress: Progress = _quiet, with_on_demand: bool = False) -> list[ComponentState]:
        """Start every component, health-gated; on failure stop all and raise StackError.

        On-demand components (Airflow by default) are left to the first command that needs
        them, unless ``with_on_demand`` or they were started before (then they are kept
        running, or restarted if they crashed).
        """
        supervised = [c for c in self.components() if c.supervised]
        already = self.is_up()
        info = supervisor.process_info(self.settings) if already else {}
        running = {name for name, item in info.items() if item["statename"] in RUNNING}
        # An on-demand process that ran once and crashed is restarted like the others; one
        # that never started (or was stopped on purpose) stays waiting for its first use.
        wanted = [c for c in supervised
                  if with_on_demand or not c.on_demand
                  or (c.name in info and not waits_for_first_use(c, info[c.name]))]
        to_start = {c.name for c in wanted if c.name not in running}
        # A running component whose dependency is about to (re)start is restarted after it:
        # a consumer that rode out a broker restart on its own can be left in a group the new
        # (memory-only) broker never completes; a fresh process joins cleanly.
        for component in supervised:
            if component.name in running and to_start.intersection(component.after):
                progress(f"stopping {component.name} until {', '.join(component.after)} is back")
                self.stop(component.name)
                running.discard(component.name)
        self._preflight([c for c in wanted if c.name not in running])
        self._write_config(supervised)  # supervisord knows every process, started or not
        env = self._child_env()
        if already:
            supervisor.reload_config(self.settings)
        else:
            progress("starting supervisord")
            supervisor.start_daemon(self.settings, env)
        try:
            self._start_in_dependency_order(wanted, progress)
        except StackError:
            if not already:
                self.down()
            raise
        return self.status()

    def start_on_demand(self, progress: Progress = _quiet) -> list[str]:
        """Start the on-demand components that are not running, health-gated; return them.

        Nothing happens when the stack is not up (the caller's own connection error then
        says what is down). A file lock makes two callers at once (`dojo train` and the retrain
        webhook) start them once; the second waits and finds them running.
        """
        lazy = [c for c in self.components() if c.supervised and c.on_demand]
        if not lazy or not self.is_up():
            return []
        self.settings.run_dir.mkdir(parents=True, exist_ok=True)
        with (self.settings.run_dir / "on-demand.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            running = self._running_names()
            missing = [c for c in lazy if c.name not in running]
            if not missing:
                return []
            self._preflight(missing)
            progress(f"starting {', '.join(c.name for c in missing)} on demand "
                     "(DOJO_AIRFLOW_START=on-demand; about 15 s)")
            self._start_in_dependency_order(lazy, progress)
        return [c.name for c in missing]

    def _start_in_dependency_order(self, supervised: list[Component], progress: Progress) -> None:
        """Start each component as soon as the ones it needs are healthy (one thread each)."""
        names = {c.name for c in supervised}
        healthy = {name: threading.Event() for name in names}
        failed = threading.Event()
        errors: list[str] = []

        def bring_up(component: Component) -> None:
            for dependency in component.after:
                if dependency in healthy:
                    while not healthy[dependency].wait(0.2):
                        if failed.is_set():
                            return
            try:
                progress(f"starting {component.name}")
                self._start(component)
                self._wait_healthy(component, progress, give_up=failed)
                healthy[component.name].set()
            except StackError as error:
                errors.append(str(error))
                failed.set()

        with ThreadPoolExecutor(max_workers=max(1, len(supervised))) as pool:
            list(pool.map(bring_up, supervised))
        if errors:
            raise StackError(errors[0])

    def _preflight(self, to_start: list[Component]) -> None:
        problems = []
        for component in to_start:
            missing = missing_binary(component)
            if missing:
                problems.append(missing)
            elif component.port and not port_is_free(self.settings.host, component.port):
                field = PORT_FIELDS.get(component.name)
                variable = env_name(field) if field else "a DOJO_*_PORT setting"
                problems.append(
                    f"port {component.port} ({component.name}) is taken by "
                    f"{port_holder(component.port)}; stop it or set {variable}"
                )
        if problems:
            raise StackError("; ".join(problems) + ". Nothing was started.")

    def _write_config(self, supervised: list[Component]) -> None:
        s = self.settings
        for path in (s.run_dir, s.logs_dir, s.offline_dir):
            path.mkdir(parents=True, exist_ok=True)
        for component in supervised:
            for path in component.state_dirs:
                path.mkdir(parents=True, exist_ok=True)
        if s.uses_local_broker:
            broker_binary(s.home / "bin")
        env = {**s.as_env(), "DOJO_RULES_GLOB": str(RULES_DIR / "*.yml")}
        for name in ("prometheus.yml", "alertmanager.yml"):
            text = TEMPLATES.joinpath(name).read_text()
            try:
                rendered = string.Template(text).substitute(env)
            except KeyError as error:
                raise StackError(
                    f"{name} uses ${{{error.args[0]}}}, which is not a setting"
                ) from None
            (s.run_dir / name).write_text(rendered)
        targets = s.run_dir / "targets"
        targets.mkdir(parents=True, exist_ok=True)
        for component in supervised:
            if component.scrape:  # Prometheus picks these up via file_sd_configs
                target = [{"targets": [component.scrape], "labels": {"job": component.name}}]
                (targets / f"{component.name}.json").write_text(json.dumps(target))
        supervisor.conf_path(s).write_text(supervisor.render_conf(s, supervised))

    def _child_env(self) -> dict[str, str]:
        """The environment of every supervised process: settings plus this venv on PATH
        (Airflow and MLflow start helpers by executable name)."""
        venv_bin = str(Path(sys.executable).parent)
        env = {**os.environ, **TELEMETRY_OFF, **self.settings.as_env()}
        env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
        return env

    def _start(self, component: Component) -> None:
        server = supervisor.rpc(self.settings)
        info = server.supervisor.getProcessInfo(component.name)
        if info["statename"] in RUNNING:
            return
        try:
            server.supervisor.startProcess(component.name, False)
        except xmlrpc.client.Fault as fault:
            reason = f"did not start ({fault.faultString})"
            raise StackError(self._failure(component, reason)) from None

    def _wait_healthy(self, component: Component, progress: Progress,
                      give_up: threading.Event | None = None) -> None:
        server = supervisor.rpc(self.settings)
        exited: list[str] = []

        def probe() -> Health:
            if component.name == "broker":
                return self._broker_ready()
            return check(component.name, self.settings)

        def stop(_: Health) -> bool:
            if give_up is not None and give_up.is_set():
                return True  # another component failed; `up` stops everything anyway
            state = server.supervisor.getProcessInfo(component.name)["statename"]
            if state == "FATAL":  # supervisord gave up after its start retries
                exited.append(state)
            return bool(exited)

        waited = wait_until(probe, self.settings.health_timeout_s, done=lambda h: h.ok,
                            stop=stop, first_pause_s=0.25, max_pause_s=0.25)
        if waited.ok:
            progress(f"{component.name} healthy")
        elif exited:
            raise StackError(self._failure(component, f"exited ({exited[0]})"))
        elif give_up is None or not give_up.is_set():
            raise StackError(self._failure(component, (
                f"not healthy after {self.settings.health_timeout_s:.0f} s "
                f"({waited.value.detail})")))

    def _broker_ready(self) -> Health:
        health = check("broker", self.settings)
        if health.ok or "topics are missing" not in health.detail:
            return health
        # kafka-python loads in ~0.5 s: only a first start (no topics yet) pays for it, not
        # every `dojo` command that imports this module.
        from dojo.runtime.kafka_admin import ensure_topics

        created = ensure_topics(self.settings)
        health = check("broker", self.settings)
        return Health(health.ok, f"{health.detail}; created {', '.join(created) or 'no'} topics")

    def _port_open(self, component: Component) -> bool:
        return bool(component.port) and not port_is_free(self.settings.host, component.port)

    def _failure(self, component: Component, what: str) -> str:
        path = supervisor.log_path(self.settings, component.name)
        tail = ""
        if path.exists():
            lines = path.read_text(errors="replace").strip().splitlines()[-3:]
            tail = " | last log lines: " + " / ".join(line.strip()[:160] for line in lines)
        return f"{component.name} {what}; log: {path}{tail}. Everything started was stopped."

    # ------------------------------------------------------------------ control
    def _running_names(self) -> set[str]:
        info = supervisor.process_info(self.settings)
        return {name for name, item in info.items() if item["statename"] in RUNNING}

    def start(self, name: str) -> None:
        component = self.component(name)
        if not self.is_up():
            raise StackError("the stack is not running: start it with `dojo up`")
        self._start(component)
        self._wait_healthy(component, _quiet)

    def stop(self, name: str) -> None:
        self.component(name)
        if self.is_up():
            try:
                supervisor.rpc(self.settings).supervisor.stopProcess(name, True)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise StackError(f"could not stop {name}: {fault.faultString}") from None

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)

    def down(self) -> bool:
        """Stop everything; True when supervisord and all its children are gone."""
        return supervisor.shutdown(self.settings)

    # ------------------------------------------------------------------ report
    def status(self) -> list[ComponentState]:
        info = supervisor.process_info(self.settings)
        states = []
        for c in self.components():
            if c.planned:
                states.append(ComponentState(c.name, c.title, "-", "planned",
                                             f"arrives with the {c.planned}"))
                continue
            if c.external:
                health = check(c.name, self.settings)
                state = "external" if health.ok else "unhealthy"
                states.append(ComponentState(c.name, c.title, c.url, state, health.detail))
                continue
            proc = info.get(c.name)
            if waits_for_first_use(c, proc):
                states.append(ComponentState(c.name, c.title, c.url, ON_DEMAND, ON_DEMAND_DETAIL))
                continue
            if proc is None or proc["statename"] not in RUNNING:
                detail = proc["statename"].lower() if proc else "supervisor not running"
                states.append(ComponentState(c.name, c.title, c.url, "stopped", detail))
                continue
            health = check(c.name, self.settings)
            state = "healthy" if health.ok else "unhealthy"
            states.append(ComponentState(c.name, c.title, c.url, state,
                                         f"pid {proc['pid']}; {health.detail}"))
        return states
