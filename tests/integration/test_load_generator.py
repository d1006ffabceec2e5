"""Lab 10's load generator against a real model server (real MLflow registry, real Feast).

Why not the session stack: the server needs only MLflow and Feast's registry here; the
prediction log's broker may be absent (the server counts those losses, never fails a request).

It checks the two things lab 10 relies on: every request of a steady-rate run is answered,
and the server's request counter, the series the HPA's custom metric is computed from
(k8s/metrics-adapter), grows by exactly that many requests.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

from mlflow import MlflowClient
from serving_processes import ServerProcess, wait_for

from dojo.features.store import apply_definitions
from dojo.runtime.launch import standalone_mlflow
from dojo.serving.load_generator import payloads, run_load
from dojo.settings import Settings
from serving_support import register_versions

COUNTER = 'dojo_serving_request_duration_seconds_count{'


def test_steady_load_is_answered_and_counted(isolated_env: Settings, tmp_path: Path) -> None:
    name = f"fraud-load-{uuid.uuid4().hex[:6]}"
    apply_definitions(isolated_env)
    with standalone_mlflow(tmp_path / "mlflow") as uri:
        (version,) = register_versions(uri, name, flips=(False,))
        MlflowClient(uri, registry_uri=uri).set_registered_model_alias(name, "champion",
                                                                        version)
        with ServerProcess(tmp_path, DOJO_REGISTERED_MODEL=name, DOJO_MLFLOW_TRACKING_URI=uri,
                           DOJO_SERVING_RATE_LIMIT_PER_S="0") as server:
            wait_for(server.ready, 90, "/ready 200")
            before = server.metric(COUNTER + 'method="POST",route="/predict"')
            result = asyncio.run(run_load(server.url, rate=20, duration_s=2, concurrency=4,
                                          bodies=payloads(40, seed=5)))
            after = server.metric(COUNTER + 'method="POST",route="/predict"')
    assert (result.sent, result.ok, result.failed) == (40, 40, {})
    assert after - before == 40
    assert "40 answered 200, failed: none" in result.summary()
