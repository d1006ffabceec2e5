"""One settings object for every component (prefix ``DOJO_``).

Why one object: the same code runs in local, compose and Kubernetes mode, and the only thing
that changes between them is configuration. Every process reads its ports, paths and endpoints
from here, so a bad value fails at start with the variable's name instead of deep inside a
client library.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Port = int

ENV_PREFIX = "DOJO_"
# The checkout this package runs from (installed editable), so `dojo status` finds the same
# state directory whatever the current working directory is.
REPO_ROOT = Path(__file__).resolve().parents[2]
# Optional overrides a person writes by copying .env.example. Read from the repository root, not
# the current directory, so `dojo` behaves the same from any folder (git ignores the file).
ENV_FILE = REPO_ROOT / ".env"


# Each local component's listening port, by the settings field that moves it. The stack names
# the variable when a port is taken, the sandbox picks a free port for each, and two
# components on one port are refused here.
PORT_FIELDS: dict[str, str] = {
    "broker": "kafka_port",
    "mlflow": "mlflow_port",
    "prometheus": "prometheus_port",
    "alertmanager": "alertmanager_port",
    "stream": "stream_metrics_port",
    "airflow": "airflow_port",
    "model-server": "serving_port",
    "drift-monitor": "monitor_port",
}


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``kafka_port`` -> ``DOJO_KAFKA_PORT``."""
    return f"{ENV_PREFIX}{field.upper()}"


# Usage telemetry of the libraries the platform runs, switched off for every process it starts.
TELEMETRY_OFF = {"MLFLOW_DISABLE_TELEMETRY": "true", "FEAST_USAGE": "False", "DO_NOT_TRACK": "1"}


class SettingsError(ValueError):
    """A setting has an invalid value; the message names the environment variable."""


class Settings(BaseSettings):
    """Every knob of the platform. Defaults are the local mode on loopback."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file_encoding="utf-8", extra="ignore"
    )

    # --- where local state lives: `make clean` removes exactly this directory
    home: Path = Field(REPO_ROOT / ".dojo", description="Directory holding all local state.")
    host: str = Field("127.0.0.1", description="Interface the local stack binds to.")

    # --- ports of the local stack (docs/architecture.md, "Three ways to run")
    kafka_port: Port = Field(9092, ge=1, le=65535)
    mlflow_port: Port = Field(5000, ge=1, le=65535)
    prometheus_port: Port = Field(9090, ge=1, le=65535)
    alertmanager_port: Port = Field(9093, ge=1, le=65535)

    # --- Kafka: empty bootstrap = start the bundled broker; set it to use any real Kafka
    kafka_bootstrap: str = Field(
        "", description="host:port[,host:port] of an existing Kafka; empty starts the local one."
    )
    # A consumer-group join on the local broker waits half the session timeout (measured:
    # 45 s default -> 23 s join, 6 s -> 3 s). 6000 ms is also real Kafka's minimum
    # (group.min.session.timeout.ms), so the value stays valid when a real broker is used.
    kafka_session_timeout_ms: int = Field(6000, ge=1000, le=300_000)
    kafka_heartbeat_interval_ms: int = Field(2000, ge=100, le=100_000)
    kafka_transactions_partitions: int = Field(6, ge=1, le=1000)

    # --- MLflow: empty = the local tracking server on mlflow_port
    mlflow_tracking_uri: str = Field("", description="Tracking URI; empty uses the local server.")

    # --- feature store
    online_store: Literal["sqlite", "redis"] = "sqlite"
    redis_url: str = "redis://127.0.0.1:6379/0"

    # --- stream processor / feature store
    feature_repo: Path = Field(
        REPO_ROOT / "feature_repo", description="Feast feature repository (definitions + YAML)."
    )
    stream_group_id: str = Field("dojo-stream-processor", min_length=1)
    # One batch = one online push, one offline file and one offset commit: bigger batches
    # amortise the writes, smaller ones cut the time an event waits before it is servable.
    # The first batch's size, and the smallest a batch is cut to.
    stream_batch_size: int = Field(500, ge=1, le=100_000)
    # Adaptive batches (dojo.features.batch_sizing): under a backlog a batch grows up to
    # DOJO_STREAM_BATCH_MAX events, as long as one batch takes at most
    # DOJO_STREAM_BATCH_BUDGET_MS (the bound on the time an event waits for its batch).
    # DOJO_STREAM_BATCH_MAX <= DOJO_STREAM_BATCH_SIZE turns it off (fixed-size batches).
    stream_batch_max: int = Field(5000, ge=1, le=100_000)
    stream_batch_budget_ms: int = Field(1000, ge=10, le=60_000)
    stream_poll_timeout_ms: int = Field(500, ge=10, le=60_000)
    # Event-time lateness a user's windows still accept; later events go to the DLQ as "late".
    stream_allowed_lateness_s: float = Field(600.0, ge=0)
    # A range check, not a contract: an amount above this is a valid event (it is applied) but
    # far outside what the model was trained on (the generator's 99.9th percentile is ~2,200),
    # so it is counted in dojo_stream_amount_out_of_range_total. Catches a unit change (cents
    # instead of units) that passes every type check.
    stream_amount_max: float = Field(5_000.0, gt=0)
    stream_retry_max_s: float = Field(30.0, gt=0, description="Cap of the broker retry backoff.")
    stream_metrics_port: Port = Field(8001, ge=1, le=65535)

    # --- training / Airflow (issue 4: dags/fraud_training.py, dojo train, dojo model)
    airflow_port: Port = Field(8080, ge=1, le=65535, description="Airflow API server and UI.")
    # Where Airflow is not on this host's DOJO_HOST (compose, Kubernetes: http://airflow:8080),
    # `dojo train` and the task processes find its API server here instead.
    airflow_url: str = Field("", description=(
        "Base URL of the Airflow API server; empty means http://DOJO_HOST:DOJO_AIRFLOW_PORT."))
    # Local mode uses Airflow's simple auth manager; this user is written into its password
    # file at start. Compose/Kubernetes modes set their own values through the environment.
    airflow_admin_user: str = Field("admin", min_length=1)
    airflow_admin_password: str = Field("admin", min_length=1)
    airflow_enabled: bool = Field(True, description=(
        "Run Airflow in the local stack (about 1.5 GB). Off: streaming, features and MLflow "
        "only; `dojo train` then has no Airflow to talk to."))
    # Airflow's four processes are half of what `dojo up` waits for (its scheduler alone needs
    # ~12 s on 2 cores), and only training uses them: by default the first Airflow call (`dojo
    # train`, the retrain webhook, a drill) starts them and waits for their health checks.
    airflow_start: Literal["on-demand", "with-stack"] = Field("on-demand", description=(
        "on-demand: `dojo up` leaves Airflow stopped and the first call to its API starts it "
        "(~15 s once); with-stack: `dojo up` starts it with everything else."))
    airflow_preload: bool = Field(True, description=(
        "The scheduler imports the training code once, so every forked task starts with it "
        "(see dojo/runtime/airflow.py)."))
    registered_model: str = Field("fraud", min_length=1, description="MLflow registered model.")
    train_experiment: str = Field("fraud-training", min_length=1)
    sweep_experiment: str = Field("fraud-algorithms", min_length=1,
                                  description="MLflow experiment of `dojo experiment run`.")
    # A run trains on the days [interval end - lookback, interval end); a longer data interval
    # (a manual `dojo train --start --end`) is used whole.
    train_lookback_days: int = Field(14, ge=1, le=365)
    # The newest share of labelled rows (by event time) is held out for validation.
    train_valid_fraction: float = Field(0.25, ge=0.05, le=0.5)
    train_min_rows: int = Field(2000, ge=10)
    train_min_positives: int = Field(20, ge=1)
    train_label_rate_min: float = Field(0.001, ge=0.0, le=1.0)
    train_label_rate_max: float = Field(0.2, ge=0.0, le=1.0)
    # Gates a version must pass before it may become `challenger`.
    gate_min_roc_auc: float = Field(0.85, ge=0.0, le=1.0)
    gate_min_pr_auc: float = Field(0.40, ge=0.0, le=1.0)
    gate_champion_margin: float = Field(0.02, ge=0.0, le=1.0,
                                        description="Allowed PR-AUC drop vs the champion.")
    # A 0.02 PR-AUC margin means nothing on a dozen frauds (measured: a backfilled model was
    # refused by 0.033 on 13 frauds, within noise); with fewer, the comparison is skipped.
    gate_champion_min_positives: int = Field(
        30, ge=1, description="Frauds needed in the shared rows to compare with the champion.")
    gate_precision_target: float = Field(0.90, gt=0.0, lt=1.0,
                                         description="Precision the decision threshold aims at.")
    gate_max_latency_ms: float = Field(50.0, gt=0, description="p95 of single-row predict.")
    gate_max_model_mb: float = Field(25.0, gt=0)
    gate_max_segment_gap: float = Field(0.35, ge=0.0, le=1.0,
                                        description="Max recall gap between countries.")
    gate_min_segment_positives: int = Field(10, ge=1)
    # With no champion yet the model server has nothing to load; the first version that passes
    # the gates then becomes champion too (recorded as a tag on the version).
    train_bootstrap_champion: bool = True

    # --- behaviour
    health_timeout_s: float = Field(
        180.0, gt=0, description="Deadline for `dojo up` health checks."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    progress_file: Path | None = Field(
        None, description="Where verified labs and drills are recorded (default: under home)."
    )

    # --- cloud mapping (lab 09, `dojo cloud plan`): a dry run; nothing here reaches a cloud
    cloud_gcp_project: str = Field("dojo-demo", min_length=6, max_length=30,
                                   description="GCP project id the Vertex AI plan names.")
    cloud_gcp_region: str = Field("europe-west4", min_length=1)
    cloud_aws_account: str = Field("123456789012", pattern=r"^\d{12}$",
                                   description="AWS account id the SageMaker plan names.")
    cloud_aws_region: str = Field("eu-west-1", min_length=1)
    # The managed endpoint's autoscaling range: the same bounds as the Kubernetes HPA.
    cloud_min_replicas: int = Field(2, ge=1, le=100)
    cloud_max_replicas: int = Field(10, ge=1, le=1000)
    cloud_target_rps_per_replica: float = Field(
        100.0, gt=0,
        description="Requests/s one replica should carry (autoscaling target); measure what one "
                    "replica sustains within the latency SLO with `make bench` (serving.json).")

    # --- serving (issue 11: `dojo serve`, dojo/serving/)
    serving_port: Port = Field(8000, ge=1, le=65535, description="Model server (FastAPI).")
    serving_admin_token: str = Field(
        "dojo-local-admin", min_length=8,
        description="Bearer token of /admin/*; set a secret one outside the local stack.")
    serving_alias_poll_s: float = Field(
        5.0, gt=0, le=3600, description="How often the server asks the registry for aliases.")
    serving_registry_retry_s: float = Field(
        2.0, gt=0, le=600, description="Retry interval while no model could be loaded.")
    serving_routing: Literal["off", "shadow", "canary"] = Field(
        "off", description="What the challenger does: nothing, shadow scoring, or canary.")
    serving_canary_share: float = Field(
        0.1, ge=0.0, le=1.0, description="Share of users (sticky by user_id) the canary scores.")
    serving_default_threshold: float = Field(
        0.5, gt=0.0, lt=1.0,
        description="Decision threshold for a version that logged none (metric `threshold`).")
    serving_batch_max_rows: int = Field(256, ge=1, le=10_000,
                                        description="Rows one /predict/batch may carry.")
    serving_max_body_bytes: int = Field(1_000_000, ge=1024, le=100_000_000,
                                        description="Larger request bodies get a 413.")
    # Concurrent requests are scored together: one feature read and one predict per batch.
    serving_micro_batch_max: int = Field(64, ge=1, le=4096)
    serving_prediction_log_buffer: int = Field(
        10_000, ge=1, le=1_000_000, description="Predictions waiting for Kafka; more are dropped.")
    serving_model_cache_size: int = Field(4, ge=1, le=64, description="Model versions kept.")
    serving_model_cache_mb: float = Field(512.0, gt=0, description="Bytes bound of that cache.")
    serving_rate_limit_per_s: float = Field(
        500.0, ge=0, description="Requests per second per API key (0 = no limit).")
    serving_rate_limit_burst: int = Field(1000, ge=1, description="Token-bucket capacity.")
    # --- end of serving

    # --- delivery (issue 12: `dojo deploy`, `dojo rollout`, dojo/delivery/)
    deploy_health_retries: int = Field(
        30, ge=1, le=1000, description="Health-check attempts after a deploy before it fails.")
    deploy_health_interval_s: float = Field(
        1.0, gt=0, le=60, description="Pause between two health-check attempts.")
    deploy_smoke_rows: int = Field(
        100, ge=4, le=256, description="Known rows the smoke test scores (fixed seed).")
    deploy_smoke_min_auc: float = Field(
        0.75, ge=0.5, le=1.0, description=(
            "ROC AUC the new version's scores must reach on the smoke rows' known labels "
            "(trained versions score about 0.9, a shuffled-label one about 0.5)."))
    deploy_smoke_min_agreement: float = Field(
        0.8, ge=0.0, le=1.0, description=(
            "Share of the smoke rows on which the new version must decide as the previous "
            "champion did; a version that disagrees more is rolled back."))
    deploy_docker_image: str = Field("dojo-serving:local", min_length=1,
                                     description="Image of the docker deploy target.")
    deploy_docker_container: str = Field(
        "dojo-model-server", min_length=1, description="Container the docker target runs.")
    deploy_docker_port: Port = Field(
        8200, ge=1, le=65535, description="Port of the model server in that container.")
    deploy_k8s_namespace: str = Field("dojo", min_length=1)
    deploy_k8s_deployment: str = Field("model-server", min_length=1)
    deploy_k8s_container: str = Field("model-server", min_length=1)
    deploy_k8s_port: Port = Field(8000, ge=1, le=65535,
                                  description="The model server's port inside its pod.")
    rollout_step_s: float = Field(
        60.0, gt=0, le=86_400, description="How long each rollout step watches its traffic.")
    rollout_shares: str = Field(
        "0.1,0.5", description="Canary shares between shadow and 100 %, comma-separated.")
    rollout_min_samples: int = Field(
        50, ge=1, description="Challenger rows a step needs before its gates can pass.")
    rollout_max_error_rate: float = Field(
        0.01, ge=0.0, le=1.0, description="Challenger rows failed / scored, per step.")
    rollout_max_p99_ms: float = Field(
        250.0, gt=0, description="p99 of the challenger's predict time per step.")
    rollout_max_psi: float = Field(
        0.25, ge=0.0, description=(
            "Score-distribution shift (PSI) of the challenger against the champion; 0.1-0.25 "
            "is the usual 'watch it' band, above 0.25 a real shift."))
    # --- monitoring (issue 14: `dojo monitor`, dojo/monitoring/)
    monitor_port: Port = Field(8002, ge=1, le=65535, description=(
        "Drift monitor: /metrics for Prometheus and /alerts, the Alertmanager webhook."))
    monitor_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="How often the monitor runs a drift report.")
    # The window is bounded both ways: by age, so a report describes recent traffic, and by
    # count, so a traffic spike cannot make one run slow (or the state file huge).
    monitor_window_max_rows: int = Field(
        20_000, ge=100, le=5_000_000, description="Newest predictions kept in the window.")
    monitor_window_max_age_s: float = Field(
        86_400.0, gt=0, description="Predictions older than this (by scoring time) leave it.")
    monitor_min_rows: int = Field(
        200, ge=10, description="Fewer predictions in the window: the run says so and skips drift.")
    monitor_min_labelled: int = Field(
        100, ge=10, description="Labelled predictions needed before performance is computed.")
    # Labels come from another topic and may be read before the prediction they belong to;
    # only a label still unmatched after this long counts as one for an unknown transaction.
    monitor_label_grace_s: float = Field(600.0, ge=0, description=(
        "How long a label waits for its prediction before it is counted as unknown."))
    monitor_reference_rows: int = Field(5_000, ge=100, le=1_000_000, description=(
        "Reference rows Evidently compares against (a seeded sample of the champion's "
        "validation snapshot; PSI uses bins from the whole snapshot)."))
    monitor_evidently_max_rows: int = Field(50_000, ge=1000, le=10_000_000, description=(
        "Window rows Evidently compares (a seeded sample beyond this; PSI, data quality and "
        "performance always use the whole window). Bounds a run's time: bench_drift.py."))
    monitor_reports_kept: int = Field(
        50, ge=1, le=10_000, description="Newest monitor reports kept on disk (a few MB each).")
    monitor_retrain_cooldown_s: float = Field(3_600.0, ge=0, description=(
        "After a drift-triggered training run, further alerts wait this long."))
    monitor_retrain_interval_end: datetime | None = Field(None, description=(
        "End of the data a drift-triggered training run reads; empty = the end of the newest "
        "labelled day in the offline store."))
    # --- SLOs (`dojo slo report`, the serving alert rules use the same numbers)
    slo_latency_target_s: float = Field(0.1, gt=0, description="Latency target of /predict.")
    slo_latency_objective: float = Field(
        0.99, gt=0, lt=1, description="Share of /predict requests that must meet the target.")
    slo_availability_objective: float = Field(
        0.999, gt=0, lt=1, description="Share of /predict requests that must not fail (5xx).")
    # --- end of monitoring

    @field_validator("home", mode="after")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_shape(cls, value: str) -> str:
        for server in filter(None, (part.strip() for part in value.split(","))):
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"expected host:port, got {server!r}")
        return value.strip()

    @field_validator("rollout_shares")
    @classmethod
    def _shares(cls, value: str) -> str:
        shares = [float(part) for part in value.split(",") if part.strip()]
        if not shares or any(not 0.0 < s < 1.0 for s in shares) or shares != sorted(shares):
            raise ValueError("expected increasing shares between 0 and 1, e.g. 0.1,0.5")
        return value

    @property
    def canary_shares(self) -> list[float]:
        return [float(part) for part in self.rollout_shares.split(",") if part.strip()]

    @model_validator(mode="after")
    def _replica_range(self) -> Settings:
        if self.cloud_min_replicas > self.cloud_max_replicas:
            raise ValueError(
                f"{env_name('cloud_min_replicas')} ({self.cloud_min_replicas}) is above "
                f"{env_name('cloud_max_replicas')} ({self.cloud_max_replicas})")
        return self

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        seen: dict[int, str] = {}
        for name in PORT_FIELDS.values():
            port = getattr(self, name)
            if port in seen:
                raise ValueError(f"{env_name(name)} and {env_name(seen[port])} are both {port}")
            seen[port] = name
        return self

    # --- derived values (not settings of their own, so they cannot disagree)
    @property
    def uses_local_broker(self) -> bool:
        return not self.kafka_bootstrap

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"http://{self.host}:{self.mlflow_port}"

    @property
    def offline_dir(self) -> Path:
        return self.home / "offline"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def progress_path(self) -> Path:
        return self.progress_file or self.home / "progress.json"

    def kafka_consumer_kwargs(self) -> dict[str, int | str | bool]:
        """Group-membership settings every consumer in the platform uses."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "session_timeout_ms": self.kafka_session_timeout_ms,
            "heartbeat_interval_ms": self.kafka_heartbeat_interval_ms,
            # A consumer's metadata request must not create a topic: after a restart of the
            # memory-only broker it would recreate `transactions` with the broker's default
            # partition count before `dojo up` creates it with the planned one.
            "allow_auto_create_topics": False,
        }

    def kafka_producer_kwargs(self) -> dict[str, int | str]:
        """Producer settings every producer in the platform uses.

        Why batch_size=0 on the local broker: Tansu reports a partition's end offset as the
        base offset of its last record batch plus one, so with batching the high watermark
        trails what was written and consumer lag reads too low (measured: 300 events sent,
        end offsets summed to 298). One record per batch keeps end offsets exact there; a real
        Kafka keeps the client's default batching.
        """
        kwargs: dict[str, int | str] = {"bootstrap_servers": self.bootstrap_servers}
        if self.uses_local_broker:
            kwargs["batch_size"] = 0
        return kwargs

    def as_env(self) -> dict[str, str]:
        """The resolved settings as DOJO_* variables, for child processes and lab steps."""
        env = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is not None:
                env[f"{ENV_PREFIX}{name.upper()}"] = str(value)
        env["DOJO_BOOTSTRAP_SERVERS"] = self.bootstrap_servers
        env["DOJO_TRACKING_URI"] = self.tracking_uri
        return env


def describe_error(error: ValidationError) -> str:
    """Turn pydantic's report into lines that each name the DOJO_ variable at fault."""
    lines = []
    for item in error.errors():
        loc = "_".join(str(part) for part in item["loc"]).upper()
        name = f"{ENV_PREFIX}{loc}" if loc else "settings"
        value = item.get("input")
        shown = "" if isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"{name}: {item['msg']}{shown}")
    return "; ".join(lines)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, raising SettingsError that names the variable."""
    try:
        return Settings(_env_file=ENV_FILE, **overrides)  # type: ignore[arg-type, call-arg]
    except ValidationError as error:
        raise SettingsError(f"invalid setting: {describe_error(error)}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Process-wide settings, read once (services call this at start, never at import)."""
    return load_settings()
