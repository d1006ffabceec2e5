"""The model server's /predict against `mlflow models serve` on the same champion and rows.

Both servers run one worker process on this machine, against a side-by-side stack (its own
broker, MLflow and Feast SQLite store). The champion is the training DAG's boosted candidate
(`hist_gbm`: 200 trees, the real `fraud_model` columns), fitted on generated rows. Our server
receives the raw transaction and reads its features from Feast; MLflow's receives the finished
feature row for the same transaction (what our server would have read), so MLflow does less
work per request. The load generator is `hey` (Debian): closed-loop with 1 and 8 connections
(saturation) and at fixed request rates.

The floor: a bare `predict_proba` of one row in this process plus the p50 round trip of a
no-op endpoint (/health) over HTTP, both measured in the same run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import numpy as np
import pandas as pd
import psutil

from _report import report
from dojo.contracts import Transaction
from dojo.features.batch import build_feature_tables, materialize
from dojo.features.store import apply_definitions, quiet_feast_warnings
from dojo.ingestion import offline_store
from dojo.runtime.ports import free_port
from dojo.runtime.sandbox import EnvPatch, sandbox_env
from dojo.runtime.stack import Stack
from dojo.serving.online_features import SERVICE_FEATURES, OnlineFeatures
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_history
from dojo.training.models import BOOSTED, build_candidates

RUN_S = 10
USERS, ROWS = 2_000, 40_000
SCENARIOS = (  # (name, connections, requests/s per connection or None = as fast as possible)
    ("1 connection", 1, None),
    ("8 connections", 8, None),
    ("40 requests/s", 4, 10),
    ("80 requests/s", 8, 10),
)


def hey(url: str, body: Path | None, connections: int, rate: int | None,
        seconds: int = RUN_S) -> dict:
    command = ["hey", "-z", f"{seconds}s", "-c", str(connections)]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-D", str(body)]
    if rate:
        command += ["-q", str(rate)]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    return parse_hey(out)


def parse_hey(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {int(p): float(s) * 1e3 for p, s in re.findall(r"(\d+)% in ([\d.]+) secs", out)}
    codes = {int(c): int(n) for c, n in re.findall(r"\[(\d+)\]\s+(\d+) responses", out)}
    failed = sum(int(n) for n in re.findall(r"^\s+\[(\d+)\]\s+(?:Get|Post)", out, re.M))
    return {"rps": rps, "p50": pct.get(50, float("nan")), "p99": pct.get(99, float("nan")),
            "errors": sum(n for c, n in codes.items() if c != 200) + failed,
            "ok": codes.get(200, 0)}


def wait_http(url: str, deadline_s: float = 180) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling interval, bounded by the deadline
    raise RuntimeError(f"{url} did not answer 200 within {deadline_s:.0f} s")


def register_champion(settings, tmp: Path) -> tuple[str, list[str]]:
    import mlflow

    from dojo.training.model_logging import log_sklearn_model

    features = [*SERVICE_FEATURES, "amount", "channel", "merchant_category"]
    rng = np.random.default_rng(0)
    rows = 20_000
    frame = pd.DataFrame({name: rng.gamma(2.0, 2.0, rows) for name in SERVICE_FEATURES})
    frame["amount"] = rng.lognormal(3.5, 1.0, rows)
    frame["channel"] = rng.choice(["pos", "ecom", "atm"], rows)
    frame["merchant_category"] = rng.choice(["grocery", "travel", "electronics", "fuel"], rows)
    logit = 0.004 * frame["amount"] + 0.3 * frame["txn_count_10m"] - 6
    label = rng.random(rows) < 1 / (1 + np.exp(-logit))
    model = build_candidates(features)[BOOSTED].fit(frame[features], label)
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    with mlflow.start_run():
        mlflow.log_metric("threshold", 0.5)
        uri = log_sklearn_model(model, frame[features].head(5))
    version = mlflow.register_model(uri, settings.registered_model).version
    mlflow.MlflowClient().set_registered_model_alias(settings.registered_model, "champion",
                                                     version)
    return str(version), features


def main() -> None:
    warnings.simplefilter("ignore")
    quiet_feast_warnings()
    if not shutil.which("hey"):
        raise SystemExit("hey is not installed: run `apt-get install hey`")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env = {**sandbox_env(tmp / "home"), "DOJO_AIRFLOW_ENABLED": "false",
               "DOJO_REGISTERED_MODEL": "fraud-bench"}
        with EnvPatch(env):
            settings = load_settings()
            stack = Stack(settings)
            stack.up()
            procs: list[subprocess.Popen] = []
            try:
                rows = run(settings, tmp, procs)
            finally:
                for proc in procs:
                    proc.terminate()
                    proc.wait(timeout=30)
                stack.down()
    load = os.getloadavg()[0]
    report("serving", "mlflow models serve (same champion, same rows, one worker)", rows,
           notes=f"{RUN_S} s per run with hey; load average at the end {load:.1f} on "
                 f"{os.cpu_count()} cores shared with other work. Ours fetches the features "
                 "from Feast (SQLite) per request; MLflow's gets them in the request body.")


def run(settings, tmp: Path, procs: list[subprocess.Popen]) -> list[dict]:
    history = generate_history(rows=ROWS, users=USERS, days=3,
                               start_date=date.today() - timedelta(days=3))
    offline_store.write_transactions(history, settings.offline_dir)
    build_feature_tables(settings)
    materialize(apply_definitions(settings))
    version, columns = register_champion(settings, tmp)

    sample = history.iloc[len(history) // 2]
    txn = Transaction.model_validate({k: sample[k] for k in Transaction.model_fields} | {
        "ts": pd.Timestamp(sample["ts"]).to_pydatetime()})
    ours_body = tmp / "transaction.json"
    ours_body.write_text(txn.model_dump_json())
    fetched = OnlineFeatures(settings).fetch([txn])
    row = {name: values[0] for name, values in fetched.columns.items()}
    row.update({c: getattr(txn, c) for c in ("amount", "channel", "merchant_category")})
    frame = pd.DataFrame([row], columns=columns).astype(
        {c: "float64" for c in columns if c not in ("channel", "merchant_category")})
    mlflow_body = tmp / "features.json"
    mlflow_body.write_text(json.dumps({"dataframe_split": json.loads(
        frame.to_json(orient="split", index=False))}))

    ours_port, mlflow_port = free_port(), free_port()
    server_env = {**os.environ, "DOJO_SERVING_PORT": str(ours_port),
                  "DOJO_SERVING_RATE_LIMIT_PER_S": "0", "DOJO_LOG_LEVEL": "WARNING"}
    ours = subprocess.Popen([str(Path(sys.executable).with_name("dojo")), "serve"],
                            env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(ours)
    venv_bin = str(Path(sys.executable).parent)  # MLflow starts `uvicorn` by name
    mlflow_env = {**os.environ, "MLFLOW_TRACKING_URI": settings.tracking_uri,
                  "PATH": os.pathsep.join([venv_bin, os.environ.get("PATH", "")])}
    served = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "models", "serve", "-m",
         f"models:/{settings.registered_model}@champion", "--env-manager", "local",
         "--host", "127.0.0.1", "-p", str(mlflow_port), "--workers", "1"],
        env=mlflow_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    procs.append(served)
    ours_url, mlflow_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{mlflow_port}"
    wait_http(f"{ours_url}/ready")
    wait_http(f"{mlflow_url}/ping")
    answer = httpx.post(f"{ours_url}/predict", content=ours_body.read_bytes(),
                        headers={"content-type": "application/json"}).json()
    assert answer["model_version"] == version and not answer["degraded"], answer
    reference = httpx.post(f"{mlflow_url}/invocations", content=mlflow_body.read_bytes(),
                           headers={"content-type": "application/json"}).json()
    assert abs(reference["predictions"][0][1] - answer["score"]) < 1e-9, (reference, answer)

    for url, body in ((f"{ours_url}/predict", ours_body), (f"{mlflow_url}/invocations",
                                                           mlflow_body)):
        hey(url, body, 4, None, seconds=3)  # warm-up
    results: dict[tuple[str, str], dict] = {}
    for name, connections, rate in SCENARIOS:
        results[("ours", name)] = hey(f"{ours_url}/predict", ours_body, connections, rate)
        results[("mlflow", name)] = hey(f"{mlflow_url}/invocations", mlflow_body, connections,
                                        rate)
    noop = hey(f"{ours_url}/health", None, 1, None, seconds=5)
    bare = bare_predict_ms(settings, frame)
    memory_mb = psutil.Process(ours.pid).memory_info().rss / 1e6
    return rows_of(results, bare, noop, memory_mb)


def bare_predict_ms(settings, frame: pd.DataFrame) -> float:
    import mlflow

    model = mlflow.sklearn.load_model(f"models:/{settings.registered_model}@champion")
    for _ in range(50):
        model.predict_proba(frame)
    samples = []
    for _ in range(500):
        started = time.perf_counter()
        model.predict_proba(frame)
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def rows_of(results: dict, bare_ms: float, noop: dict, memory_mb: float) -> list[dict]:
    rows = []
    for name, _, _ in SCENARIOS:
        ours, theirs = results[("ours", name)], results[("mlflow", name)]
        for who, r in (("/predict", ours), ("mlflow models serve", theirs)):
            rows.append({"measure": f"{who} throughput, {name}", "value": r["rps"],
                         "unit": "requests/s", "ratio": r["rps"] / theirs["rps"]})
            rows.append({"measure": f"{who} p50, {name}", "value": r["p50"], "unit": "ms",
                         "ratio": r["p50"] / theirs["p50"]})
            rows.append({"measure": f"{who} p99, {name}", "value": r["p99"], "unit": "ms",
                         "ratio": r["p99"] / theirs["p99"]})
            rows.append({"measure": f"{who} non-200 responses, {name}",
                         "value": float(r["errors"]), "unit": "responses"})
    floor = bare_ms + noop["p50"]
    saturated = results[("ours", "8 connections")]["rps"] / results[("mlflow", "8 connections")][
        "rps"]
    rows += [
        {"measure": "throughput vs mlflow models serve (8 connections)", "value": saturated,
         "unit": "x", "ratio": saturated},
        {"measure": "floor: bare predict_proba p50 + no-op round trip p50", "value": floor,
         "unit": "ms"},
        {"measure": "floor: bare predict_proba of one row p50", "value": bare_ms, "unit": "ms"},
        {"measure": "floor: no-op endpoint (/health) round trip p50", "value": noop["p50"],
         "unit": "ms"},
        {"measure": "/predict p50 vs the floor (1 connection)",
         "value": results[("ours", "1 connection")]["p50"] / floor, "unit": "x"},
        {"measure": "model server memory (RSS, one worker, champion loaded)", "value": memory_mb,
         "unit": "MB"},
    ]
    return rows


if __name__ == "__main__":
    main()
