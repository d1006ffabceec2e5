"""Drive supervisord, the process supervisor of the local stack.

Why supervisord: it restarts a crashed component, keeps one log file per process, kills whole
process groups on stop (MLflow and Airflow fork workers) and exposes an XML-RPC API, so the CLI,
the drills and the tests control processes through one real tool instead of pid files.
"""

from __future__ import annotations

import configparser
import contextlib
import io
import os
import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any

from supervisor.xmlrpc import SupervisorTransport

from dojo.runtime.components import Component
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings


class SupervisorError(RuntimeError):
    """supervisord could not be started or reached."""


def conf_path(settings: Settings) -> Path:
    return settings.run_dir / "supervisord.conf"


def socket_path(settings: Settings) -> Path:
    return settings.run_dir / "supervisor.sock"


def pid_path(settings: Settings) -> Path:
    return settings.run_dir / "supervisord.pid"


def log_path(settings: Settings, name: str) -> Path:
    return settings.logs_dir / f"{name}.log"


def render_conf(settings: Settings, components: list[Component]) -> str:
    """supervisord.conf for the supervised components (written by `dojo up`)."""
    conf = configparser.RawConfigParser()
    conf["unix_http_server"] = {"file": str(socket_path(settings)), "chmod": "0700"}
    conf["supervisord"] = {
        "logfile": str(log_path(settings, "supervisord")),
        "pidfile": str(pid_path(settings)),
        "directory": str(settings.home),
        "loglevel": "info",
        "nodaemon": "false",
    }
    conf["rpcinterface:supervisor"] = {
        "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
    }
    conf["supervisorctl"] = {"serverurl": f"unix://{socket_path(settings)}"}
    for component in components:
        if not component.supervised:
            continue
        conf[f"program:{component.name}"] = {
            "command": " ".join(_quote(part) for part in component.command),
            "autostart": "false",  # `dojo up` starts them in order, health-gated
            "autorestart": "true",
            "startsecs": "1",
            "startretries": "3",
            "stopsignal": "TERM",
            "stopwaitsecs": "15",
            "stopasgroup": "true",
            "killasgroup": "true",
            "redirect_stderr": "true",
            "stdout_logfile": str(log_path(settings, component.name)),
            "stdout_logfile_maxbytes": "10MB",
            "stdout_logfile_backups": "1",
        }
        if component.env:
            conf[f"program:{component.name}"]["environment"] = ",".join(
                f'{key}="{value}"' for key, value in component.env)
    buffer = io.StringIO()
    conf.write(buffer)
    return buffer.getvalue()


def _quote(part: str) -> str:
    # supervisord splits commands with shlex; empty strings must survive as ''
    import shlex

    return shlex.quote(part)


def rpc(settings: Settings) -> Any:
    """An XML-RPC proxy to the running supervisord (over its unix socket)."""
    transport = SupervisorTransport(None, None, serverurl=f"unix://{socket_path(settings)}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def is_running(settings: Settings) -> bool:
    """True when supervisord answers on its socket."""
    if not socket_path(settings).exists():
        return False
    try:
        return rpc(settings).supervisor.getState()["statename"] == "RUNNING"
    except (OSError, xmlrpc.client.Fault, xmlrpc.client.ProtocolError):
        return False


def start_daemon(settings: Settings, env: dict[str, str]) -> None:
    """Start supervisord in the background and wait until it answers."""
    supervisord = str(Path(sys.executable).with_name("supervisord"))
    result = subprocess.run(
        [supervisord, "-c", str(conf_path(settings))],
        env=env, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise SupervisorError(f"supervisord failed to start: {result.stderr.strip()}")
    if wait_until(lambda: is_running(settings), 15, first_pause_s=0.1, max_pause_s=0.1).ok:
        return
    raise SupervisorError(
        f"supervisord did not answer on {socket_path(settings)} within 15 s; "
        f"see {log_path(settings, 'supervisord')}"
    )


def reload_config(settings: Settings) -> None:
    """Make a running supervisord pick up added or changed programs."""
    server = rpc(settings)
    added, changed, removed = server.supervisor.reloadConfig()[0]
    for name in removed + changed:
        with contextlib.suppress(xmlrpc.client.Fault):
            server.supervisor.stopProcess(name)
        server.supervisor.removeProcessGroup(name)
    for name in added + changed:
        server.supervisor.addProcessGroup(name)


def process_info(settings: Settings) -> dict[str, dict[str, Any]]:
    """Name -> supervisord's info (statename, pid, description) for every program."""
    if not is_running(settings):
        return {}
    return {info["name"]: info for info in rpc(settings).supervisor.getAllProcessInfo()}


def shutdown(settings: Settings, timeout: float = 30.0) -> bool:
    """Stop every program, then supervisord itself; True once its pid is gone."""
    pid = _read_pid(settings)
    if is_running(settings):
        with contextlib.suppress(xmlrpc.client.Fault, OSError):
            rpc(settings).supervisor.stopAllProcesses()
        with contextlib.suppress(xmlrpc.client.Fault, OSError):
            rpc(settings).supervisor.shutdown()
    if not pid:
        return True
    return wait_until(lambda: not _alive(pid), timeout, first_pause_s=0.1, max_pause_s=0.1).ok


def _read_pid(settings: Settings) -> int | None:
    try:
        return int(pid_path(settings).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
