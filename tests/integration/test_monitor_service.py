"""`dojo monitor` as a process against a real broker and a real MLflow: it reads predictions
and late labels, survives a kill mid-window without losing a joined label, counts bad input,
reports drift from the champion's training snapshot, exports it, and its HTML renders in
headless Chromium with the drifted features on the page."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from dojo.runtime.launch import standalone_broker, standalone_mlflow
from dojo.runtime.ports import free_port
from dojo.synthetic.drift import DriftConfig
from dojo.training import tracking

sys.path.insert(0, str(Path(__file__).parents[1]))
import monitoring_support as ms
from integration.serving_processes import wait_for

MODEL = "fraud-monitor-test"
ROWS = ms.ROWS


def register_champion(tracking_uri: str) -> str:
    """The champion as the training DAG leaves it: metrics, the training snapshot artifact,
    the model in skops format, a registered version with the `champion` alias."""
    import mlflow
    from mlflow import MlflowClient

    from dojo.training.model_logging import log_sklearn_model

    champion = ms.champion()
    valid = ms.featured(ROWS, seed=2).assign(split="validation")
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    client = MlflowClient(tracking_uri, registry_uri=tracking_uri)
    with mlflow.start_run(experiment_id=client.create_experiment("monitor-test")):
        mlflow.log_metrics(champion.reference.training_metrics)
        with tempfile.TemporaryDirectory() as tmp:
            file = Path(tmp) / Path(tracking.SNAPSHOT_ARTIFACT).name
            valid.to_parquet(file, index=False)
            mlflow.log_artifact(str(file),
                                artifact_path=str(Path(tracking.SNAPSHOT_ARTIFACT).parent))
        uri = log_sklearn_model(champion.model, valid[ms.FEATURES].head(5))
    version = str(mlflow.register_model(uri, MODEL).version)
    client.set_registered_model_alias(MODEL, tracking.CHAMPION, version)
    return version


@dataclass
class Env:
    home: Path
    env: dict[str, str]
    url: str
    bootstrap: str


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("monitor")
    with standalone_broker(tmp / "broker", {"predictions": 2, "labels": 2}) as bootstrap, \
            standalone_mlflow(tmp / "mlflow") as tracking_uri:
        register_champion(tracking_uri)
        port = free_port()
        variables = {
            "DOJO_HOME": str(tmp / "home"), "DOJO_KAFKA_BOOTSTRAP": bootstrap,
            "DOJO_MLFLOW_TRACKING_URI": tracking_uri, "DOJO_REGISTERED_MODEL": MODEL,
            "DOJO_MONITOR_PORT": str(port), "DOJO_MONITOR_INTERVAL_S": "3600",
            "DOJO_MONITOR_MIN_ROWS": "200", "DOJO_MONITOR_MIN_LABELLED": "200",
            "DOJO_MONITOR_LABEL_GRACE_S": "0", "DOJO_MONITOR_REFERENCE_ROWS": "3000",
        }
        yield Env(tmp / "home", {**os.environ, **variables}, f"http://127.0.0.1:{port}",
                  bootstrap)


class MonitorProcess:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.log = env.home.parent / "monitor.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MonitorProcess:
        dojo = str(Path(sys.executable).with_name("dojo"))
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([dojo, "monitor"], env=self.env.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self.alive, 60, f"monitor at {self.env.url} (log {self.log})")
        return self

    def alive(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(self.log.read_text()[-3000:])
        try:
            return httpx.get(f"{self.env.url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def status(self) -> dict:
        return httpx.get(f"{self.env.url}/status", timeout=5).json()

    def kill(self) -> None:
        """SIGKILL: a crash, not a clean stop; nothing gets a chance to flush."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


def _send(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, batch_size=0)
    for value in values:
        producer.send(topic, value=value, key=b"k")
    producer.flush()
    producer.close()


def test_monitor_joins_late_labels_across_a_crash_and_reports_drift(env: Env) -> None:
    champion = ms.champion()
    frame = ms.featured(ROWS, seed=7, drift=DriftConfig(amount_shift=3.0))
    predictions = ms.prediction_records(frame, champion.model, champion.threshold)
    labels = ms.label_records(frame)
    half = len(labels) // 2
    bad = [b"{not json", b'{"transaction_id": "x"}']
    _send(env.bootstrap, "predictions", [ms.encode(r) for r in predictions] + bad)
    _send(env.bootstrap, "labels", [ms.encode(r) for r in labels[:half]])

    monitor = MonitorProcess(env).start()
    try:
        wait_for(lambda: monitor.status()["window"] == {
            "predictions": ROWS, "labels_joined": half, "labels_waiting": 0},
            60, "the first half of the labels joined")
        monitor.kill()  # mid-window: half the labels are still to come
        _send(env.bootstrap, "labels", [ms.encode(r) for r in labels[half:]]
              + [b'{"transaction_id": "t", "is_fraud": "maybe", "label_ts": "x"}'])
        monitor.start()
        wait_for(lambda: monitor.status()["window"]["labels_joined"] == ROWS, 60,
                 "every label joined after the restart")
        status = monitor.status()
        assert status["window"]["predictions"] == ROWS  # nothing read twice
        assert status["counters"] == {"predictions:not_json": 1,
                                      "predictions:missing_field": 1, "labels:bad_label": 1}

        run = httpx.post(f"{env.url}/run", timeout=300).json()
        assert run["status"] == "ok" and run["champion_version"] == "1"
        assert "amount" in run["drifted"]
        assert run["performance"]["labelled"] == ROWS

        metrics = httpx.get(f"{env.url}/metrics", timeout=5).text
        assert re.search(r"^dojo_monitor_drift_share 0\.[1-9]", metrics, re.M), metrics
        assert re.search(r'^dojo_monitor_feature_drifted\{feature="amount"\} 1\.0', metrics, re.M)
        assert f"dojo_monitor_labels_joined {float(ROWS)}" in metrics
        # the counter restarts with the process (rate() expects that); the window file keeps
        # the totals across restarts (the counters in /status above)
        assert 'dojo_monitor_bad_messages_total{reason="bad_label",topic="labels"} 1.0' \
            in metrics

        report = subprocess.run([str(Path(sys.executable).with_name("dojo")), "monitor",
                                 "report"], env=env.env, capture_output=True, text=True,
                                check=False)
        assert report.returncode == 0, report.stderr
        assert "drifted: amount" in report.stdout and "summary.html" in report.stdout
        _renders_in_chromium(Path(run["dir"]), run["drifted"])
    finally:
        monitor.kill()


def _renders_in_chromium(run_dir: Path, drifted: list[str]) -> None:
    """Evidently's page builds its widgets with JavaScript: outside <script> the raw file holds
    no feature name, the rendered page does."""
    browser = shutil.which("chromium")
    if browser is None:
        pytest.fail("chromium is missing: run platform/scripts/os-deps.sh")
    # how each page names a column once rendered: Evidently titles a widget per column, the
    # summary has a table cell per feature (drifted rows marked)
    shown = {"evidently.html": "Drift in column '{}'", "summary.html": ">{}<"}
    for page, pattern in shown.items():
        dom = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
             (run_dir / page).as_uri()], capture_output=True, text=True, timeout=120,
            check=False).stdout
        visible = re.sub(r"<script.*?</script>", "", dom, flags=re.S)
        missing = [name for name in drifted if pattern.format(name) not in visible]
        assert not missing, f"{page}: {missing} not on the rendered page"
