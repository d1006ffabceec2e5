"""Airflow in the local stack: its configuration, derived from the settings, and a launcher.

Why four supervised processes (API server, scheduler, DAG processor, triggerer) and not
`airflow standalone`: measured on a 2-core machine, standalone took 43 s to healthy on a fresh
home and 1.8 GB RSS (it adds two log servers and a parent process that does not stop its
children on SIGTERM); separate processes start in parallel, skip the log servers (task logs
are read from the shared folder), and supervisord restarts each one on its own. The
triggerer runs deferred tasks; the training DAG has none, but an Airflow 3 deployment has one.

Why a launcher (`python -m dojo.runtime.airflow ROLE`) instead of calling `airflow` directly:
the processes share one SQLite metadata database that must be migrated exactly once
before any of them uses it, and they must agree on every setting (port, auth, JWT secret).
The launcher derives every AIRFLOW__* variable from the DOJO_* settings, migrates under a file
lock (the others wait on it), writes the admin password, then replaces itself with the
`airflow` process (`os.execvpe`), so supervisord signals and restarts Airflow itself (the
scheduler instead runs Airflow's CLI in the same process, see below).

Why the scheduler preloads the training code (`DOJO_AIRFLOW_PRELOAD`): the LocalExecutor forks
its workers from the scheduler, and each task process is forked from a worker. A module the
scheduler has imported is already in every task process; one it has not costs each task its
own import. The training tasks need pandas, scikit-learn, MLflow and Feast (about 8 s of
imports on an idle core), so the scheduler's launcher imports them and then runs Airflow's CLI
in the same process, instead of replacing itself with `airflow`. Measured on 2 cores with the
stack running: one `fraud_training` run took 60 s without the preload and 23-30 s with it, at
the cost of a slower `dojo up` (about 9 s more with the triggerer; MLflow without its job
runners won that back, see components.py). With the scheduler's idle sleep cut from 1 s to
0.25 s as well, the gaps between the ten tasks fell from 8.2 s to 1.5 s per run, and a run
takes about 13 s (the first after a start about 20 s: the API server warms up).
A change to the training code therefore needs a scheduler restart (`make down && make up`).
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import secrets
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from dojo.runtime.import_graph import file_imports, reachable
from dojo.settings import REPO_ROOT, Settings, load_settings

DAGS_FOLDER = REPO_ROOT / "dags"
SIMPLE_AUTH_MANAGER = (
    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
)
ROLES: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    # The scheduler's log server (port 8793) is only needed when workers run on other hosts;
    # here the API server reads task logs from the shared log folder. Skipping it also means
    # a side-by-side test stack does not collide with a learner's stack on that fixed port.
    "scheduler": ("scheduler", "--skip-serve-logs"),
    "dag-processor": ("dag-processor",),
    # Deferred tasks (sensors, operators waiting on something outside) resume here. The
    # training DAG has none, but an Airflow 3 deployment has one, and a learner's own
    # deferrable sensor then works without changing the stack.
    "triggerer": ("triggerer", "--skip-serve-logs"),
}


def preload_modules(dags_folder: Path = DAGS_FOLDER) -> list[str]:
    """Every `dojo` module the DAG files can reach, including imports inside task functions.

    Derived from the DAG files' source rather than listed here, so the runtime names no
    training module and the preload follows the DAGs when they change.
    """
    roots: set[str] = set()
    for path in sorted(dags_folder.glob("*.py")):
        roots |= file_imports(path)
    return reachable(roots)


def airflow_home(settings: Settings) -> Path:
    """AIRFLOW_HOME: config, SQLite metadata DB and task logs, under the dojo home."""
    return settings.home / "airflow"


def api_url(settings: Settings) -> str:
    """Base URL of the Airflow API server (UI, /api/v2, /auth, /execution)."""
    if settings.airflow_url:
        return settings.airflow_url.rstrip("/")
    return f"http://{settings.host}:{settings.airflow_port}"


def airflow_env(settings: Settings, home: Path | None = None) -> dict[str, str]:
    """Every AIRFLOW_* variable the stack's Airflow needs (pure: nothing is read or written).

    ``home`` overrides AIRFLOW_HOME, e.g. for `dag.test()` runs with their own metadata DB.
    """
    home = home or airflow_home(settings)
    url = api_url(settings)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # LocalExecutor on SQLite is supported for local use in Airflow 3. Two task slots:
        # training tasks are CPU-bound and these machines have 2 cores.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        # Wait up to 30 s for SQLite's write lock instead of 5 s (see dojo.runtime.airflow_sqlite).
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "dojo.runtime.airflow_sqlite.SYNC",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "dojo.runtime.airflow_sqlite.ASYNC",
        "AIRFLOW__API__HOST": settings.host,
        "AIRFLOW__API__PORT": str(settings.airflow_port),
        "AIRFLOW__API__BASE_URL": url,
        # Task processes report to the API server's execution API; its default URL assumes
        # port 8080, so on any other port every task fails with "connection refused".
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__CORE__AUTH_MANAGER": SIMPLE_AUTH_MANAGER,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{settings.airflow_admin_user}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # An idle scheduler loop sleeps this long before noticing a finished task; the default
        # 1 s adds up over ten sequential tasks per training run (see the module docstring).
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
    }


def _migrated_marker(home: Path) -> Path:
    return home / f".db-migrated-{version('apache-airflow')}"


def prepare(settings: Settings, home: Path | None = None) -> dict[str, str]:
    """Make AIRFLOW_HOME ready (idempotent) and return the full environment for `airflow`.

    Under an exclusive lock: create the JWT secret once, run `airflow db migrate` once per
    Airflow version (re-running it costs ~7 s on every start), write the admin password.
    """
    home = home or airflow_home(settings)
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **airflow_env(settings, home)}
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([venv_bin, env.get("PATH", "")])
    with (home / ".prepare.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other launchers block here until we are done
        secret_file = home / "jwt_secret"
        if not secret_file.exists():
            secret_file.write_text(secrets.token_urlsafe(32))
            secret_file.chmod(0o600)
        # All processes must sign and check task tokens with the same key; left unset, each
        # process that first writes airflow.cfg would generate its own.
        env["AIRFLOW__API_AUTH__JWT_SECRET"] = secret_file.read_text().strip()
        passwords = home / "passwords.json"
        passwords.write_text(json.dumps(
            {settings.airflow_admin_user: settings.airflow_admin_password}) + "\n")
        passwords.chmod(0o600)
        marker = _migrated_marker(home)
        if not marker.exists():
            result = subprocess.run(
                [str(Path(venv_bin) / "airflow"), "db", "migrate"],
                env=env, capture_output=True, text=True, check=False,
            )
            if result.returncode != 0:
                tail = "\n".join(result.stderr.strip().splitlines()[-5:])
                raise RuntimeError(f"airflow db migrate failed in {home}:\n{tail}")
            marker.write_text("ok\n")
    return env


def launcher_command(role: str) -> tuple[str, ...]:
    """The supervisord command of one Airflow process."""
    return (sys.executable, "-m", "dojo.runtime.airflow", role)


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m dojo.runtime.airflow ROLE`: prepare, then become `airflow ROLE`."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in ROLES:
        raise SystemExit(f"usage: python -m dojo.runtime.airflow {{{','.join(ROLES)}}}")
    settings = load_settings()
    preload = args[0] == "scheduler" and settings.airflow_preload
    if preload:  # first: while another launcher may still hold the migration lock
        for module in preload_modules():
            importlib.import_module(module)
    env = prepare(settings)
    airflow = str(Path(sys.executable).with_name("airflow"))
    if not preload:
        os.execve(airflow, [airflow, *ROLES[args[0]]], env)
    os.environ.clear()
    os.environ.update(env)  # before Airflow's first import reads its configuration
    from airflow.__main__ import main as airflow_main

    sys.argv = [airflow, *ROLES[args[0]]]
    sys.exit(airflow_main())


if __name__ == "__main__":
    main()
