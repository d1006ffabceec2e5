"""The components of the local stack: how each starts, where it listens, how it is checked.

Why a table instead of code per component: `dojo up`, `dojo status`, `dojo doctor`, the
supervisor config and the drills all need the same facts, so they read them from one place.
A later issue adds its process by adding one entry here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dojo.runtime import airflow
from dojo.runtime.launch import MLFLOW_ENV, broker_command, mlflow_command, venv_executable
from dojo.settings import Settings

# Debian ships Alertmanager under this name (package prometheus-alertmanager).
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
APT_HINT = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager"


@dataclass(frozen=True)
class Component:
    """One process of the local stack (or a slot a later issue fills)."""

    name: str
    title: str
    port: int | None
    url: str
    command: tuple[str, ...] = ()
    planned: str = ""  # non-empty: not built yet, this says by which issue
    external: bool = False  # provided outside the stack (e.g. a real Kafka)
    needs_binary: str = ""  # an OS tool the command needs, for the missing-tool message
    state_dirs: tuple[Path, ...] = field(default_factory=tuple)
    # Components this one needs healthy before it starts; everything else starts at once,
    # so `dojo up` takes as long as the slowest chain, not the sum of all start times.
    after: tuple[str, ...] = ()
    # host:port Prometheus scrapes for /metrics (written as a file_sd target by `dojo up`)
    scrape: str = ""
    # extra environment for this process only (supervisord `environment=`)
    env: tuple[tuple[str, str], ...] = ()
    # Not started by `dojo up`: the first command that needs it starts it (Stack.start_on_demand)
    on_demand: bool = False

    @property
    def supervised(self) -> bool:
        return bool(self.command) and not self.planned and not self.external


def _alertmanager_binary() -> str:
    for candidate in ALERTMANAGER_BINARIES:
        found = shutil.which(candidate)
        if found:
            return found
    return ALERTMANAGER_BINARIES[0]


def build_components(settings: Settings, broker_path: Path | None) -> list[Component]:
    """The stack for these settings, in start order."""
    host, run = settings.host, settings.run_dir
    mlflow_dir = settings.home / "mlflow"
    prom_dir = settings.home / "prometheus"
    am_dir = settings.home / "alertmanager"

    if settings.uses_local_broker:
        broker = Component(
            name="broker",
            title="Kafka broker (Tansu)",
            port=settings.kafka_port,
            url=f"kafka://{host}:{settings.kafka_port}",
            command=broker_command(broker_path or "tansu", host, settings.kafka_port),
        )
    else:
        broker = Component(name="broker", title="Kafka (external)", port=None,
                           url=f"kafka://{settings.kafka_bootstrap}", external=True)

    return [
        broker,
        Component(
            name="mlflow",
            title="MLflow tracking + registry",
            port=settings.mlflow_port,
            url=f"http://{host}:{settings.mlflow_port}",
            command=mlflow_command(host, settings.mlflow_port, mlflow_dir),
            state_dirs=(mlflow_dir / "artifacts",),
            env=tuple(MLFLOW_ENV.items()),
        ),
        Component(
            name="prometheus",
            title="Prometheus",
            port=settings.prometheus_port,
            url=f"http://{host}:{settings.prometheus_port}",
            command=(
                shutil.which("prometheus") or "prometheus",
                f"--config.file={run / 'prometheus.yml'}",
                f"--storage.tsdb.path={prom_dir}",
                f"--web.listen-address={host}:{settings.prometheus_port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=2d",
            ),
            needs_binary="prometheus",
            state_dirs=(prom_dir, run / "targets"),
        ),
        Component(
            name="alertmanager",
            title="Alertmanager",
            port=settings.alertmanager_port,
            url=f"http://{host}:{settings.alertmanager_port}",
            command=(
                _alertmanager_binary(),
                f"--config.file={run / 'alertmanager.yml'}",
                f"--storage.path={am_dir}",
                f"--web.listen-address={host}:{settings.alertmanager_port}",
                "--cluster.listen-address=",  # no gossip port: one local instance
            ),
            needs_binary="prometheus-alertmanager",
            state_dirs=(am_dir,),
        ),
        Component(
            name="stream",
            title="Stream processor (Kafka -> Feast)",
            port=settings.stream_metrics_port,
            url=f"http://{host}:{settings.stream_metrics_port}/metrics",
            command=(venv_executable("dojo"), "stream"),
            after=("broker",),  # a consumer: starts once the broker and its topics are healthy
            scrape=f"{host}:{settings.stream_metrics_port}",
            state_dirs=(settings.home / "feast",),
        ),
        Component(
            name="model-server",
            title="Model server (FastAPI)",
            port=settings.serving_port,
            url=f"http://{host}:{settings.serving_port}",
            command=(venv_executable("dojo"), "serve"),
            # It retries the registry on its own; starting after MLflow and the broker only
            # spares its log a round of "unreachable" lines.
            after=("mlflow", "broker"),
            scrape=f"{host}:{settings.serving_port}",
            state_dirs=(settings.home / "feast",),
        ),
        *(_airflow(settings) if settings.airflow_enabled else []),
        Component(
            name="drift-monitor",
            title="Drift monitor (Evidently)",
            port=settings.monitor_port,
            url=f"http://{host}:{settings.monitor_port}/status",
            command=(venv_executable("dojo"), "monitor"),
            after=("broker",),  # a consumer of `predictions` and `labels`
            scrape=f"{host}:{settings.monitor_port}",
            state_dirs=(settings.home / "monitor",),
        ),
    ]


def _airflow(settings: Settings) -> list[Component]:
    """Airflow as four processes (see dojo/runtime/airflow.py for why not `airflow standalone`).

    The API server starts with the infrastructure (it needs none of it; starting it after
    MLflow instead made a warm `dojo up` 64 s rather than 26 s on 2 busy cores). The DAG
    processor and triggerer wait for it (its launcher usually runs the one-time migration;
    the launchers' file lock makes that safe either way). The scheduler starts at once: its
    import of the training code (the preload) then overlaps the API server's start; waiting
    made `dojo up` 45 s instead of 35 s.

    On demand by default (DOJO_AIRFLOW_START): nine processes importing their libraries at once
    on two cores made `dojo up` take 34 s; without Airflow's four it takes about half that,
    and only training needs them. The first Airflow API call starts all four.
    """
    home = airflow.airflow_home(settings)
    url = airflow.api_url(settings)
    lazy = settings.airflow_start == "on-demand"
    return [
        Component(name="airflow", title="Airflow API server + UI", port=settings.airflow_port,
                  url=url, command=airflow.launcher_command("api-server"),
                  state_dirs=(home,), on_demand=lazy),
        Component(name="airflow-scheduler", title="Airflow scheduler (LocalExecutor)", port=None,
                  url=url, command=airflow.launcher_command("scheduler"), state_dirs=(home,),
                  on_demand=lazy),
        Component(name="airflow-dag-processor", title="Airflow DAG processor", port=None,
                  url=url, command=airflow.launcher_command("dag-processor"),
                  state_dirs=(home,), after=("airflow",), on_demand=lazy),
        Component(name="airflow-triggerer", title="Airflow triggerer", port=None,
                  url=url, command=airflow.launcher_command("triggerer"),
                  state_dirs=(home,), after=("airflow",), on_demand=lazy),
    ]


def missing_binary(component: Component) -> str | None:
    """The install command when an OS tool the component needs is absent, else None."""
    if component.needs_binary and not shutil.which(component.command[0]):
        return f"{component.needs_binary} is not installed: run `sudo {APT_HINT}`"
    return None
