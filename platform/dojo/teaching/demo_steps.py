"""The steps of the interview demo (`dojo demo`), each a function of the DemoContext.

Why these call the platform's functions rather than the CLI: the evidence (an offset, a
version, a drift share) comes back as values to print in one line, not as tables to parse.
Each step raises StepFailed with what to show instead when it cannot show its point.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from dojo.teaching.demo_runner import DemoContext, StepFailed, StepResult

if TYPE_CHECKING:
    from dojo.settings import Settings

URL_COMPONENTS = ("mlflow", "prometheus", "airflow", "grafana")
ALERT_NAME = "DojoDataDrift"
ALERT_WAIT_S = 240.0  # the rule's `for: 1m`, Prometheus' 5 s evaluation, Alertmanager's group wait
TRIGGER_WAIT_S = 90.0
TRAINING_WAIT_S = 900.0
ROLLOUT_SETTINGS = {"rollout_shares": "0.5", "rollout_min_samples": 300}  # lab 20, step 10
ROLLOUT_STEP_S, ROLLOUT_TRAFFIC = 20.0, 40.0
TRACED_MERCHANT = "m000412"


def _server(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.serving_port}"


# ---------------------------------------------------------------------------- 1. stack
def stack_up(ctx: DemoContext) -> StepResult:
    """Start the stack if needed, check every component, make sure a champion exists."""
    from dojo.runtime.stack import Stack, StackError

    stack = Stack(ctx.settings)
    states = stack.status()
    started = ""
    if not stack.is_up() or any(s.state in {"stopped", "unhealthy"} for s in states):
        ctx.progress("starting the stack (about a minute)")
        try:
            states = stack.up(progress=ctx.progress)
        except StackError as error:
            raise StepFailed(f"the stack did not start: {error}",
                             "show `dojo doctor` and `dojo logs <component>`") from None
        started = " (started it just now)"
    try:  # the tour shows every component, Airflow included (it starts on demand otherwise)
        if stack.start_on_demand(ctx.progress):
            states = stack.status()
    except StackError as error:
        raise StepFailed(f"Airflow did not start: {error}",
                         "show `dojo doctor` and `dojo logs airflow-scheduler`") from None
    bad = [s.name for s in states if s.state in {"stopped", "unhealthy"}]
    if bad:
        raise StepFailed(f"not healthy: {', '.join(bad)}",
                         "show `dojo status` and `dojo doctor`, which say where to look")
    running = [s for s in states if s.state != "planned"]
    urls = [f"{s.name}: {s.url}" for s in running if s.name in URL_COMPONENTS]
    champion, trained = _ensure_champion(ctx)
    evidence = [f"{len(running)} components healthy: {', '.join(s.name for s in running)}",
                *urls, f"champion: {ctx.settings.registered_model} v{champion}{trained}"]
    return StepResult(f"Every component of the stack is healthy{started}; each passed its own "
                      "health check, not just an open port.", evidence)


def _ensure_champion(ctx: DemoContext) -> tuple[str, str]:
    """The champion's version; on a fresh stack, train one first (history + Airflow, ~1 min)."""
    from dojo.training.tracking import CHAMPION, alias_version, client

    settings = ctx.settings
    found = alias_version(client(settings), settings.registered_model, CHAMPION)
    if found:
        return found, ""
    ctx.progress("no champion in the registry: training one through Airflow first (~1-2 min)")
    dojo = [sys.executable, "-m", "dojo.cli"]
    for args in (["generate", "history", "--days", "21", "--rows", "24000", "--seed", "7",
                  "--start-date", "2025-01-01"],
                 ["train", "--start", "2025-01-19", "--end", "2025-01-20", "--rerun", "--force",
                  "--timeout", str(int(TRAINING_WAIT_S))]):
        done = subprocess.run([*dojo, *args], capture_output=True, text=True,
                              timeout=TRAINING_WAIT_S + 60, check=False)
        if done.returncode:
            raise StepFailed(f"`dojo {' '.join(args[:2])}` failed: {done.stderr.strip()[-300:]}",
                             "train one by hand: `make lab-08`, then run the demo again")
    found = alias_version(client(settings), settings.registered_model, CHAMPION)
    if not found:
        raise StepFailed("the first training run registered no champion (the gates?)",
                         "show the run in Airflow's UI and `dojo model list`")
    return found, " (trained just now: the stack was fresh)"


# ---------------------------------------------------------------------------- 2. one event
def _user_features(settings: Settings, user_id: str) -> dict[str, Any]:
    from dojo.features import spec
    from dojo.features.store import open_store, quiet_feast_warnings

    quiet_feast_warnings()
    store = open_store(settings)
    values = store.get_online_features(features=spec.user_feature_refs(),
                                       entity_rows=[{spec.USER_ENTITY_KEY: user_id}]).to_dict()
    return {name: value[0] for name, value in values.items() if name != spec.USER_ENTITY_KEY}


def _transaction(user_id: str, amount: float, tx_id: str) -> dict[str, Any]:
    suffix = user_id.rsplit("-", 1)[-1]
    return {"transaction_id": tx_id, "ts": datetime.now(UTC).isoformat(), "user_id": user_id,
            "card_id": f"demo-c{suffix}", "merchant_id": TRACED_MERCHANT,
            "merchant_category": "electronics", "amount": amount, "currency": "EUR",
            "country": "DE", "device_id": f"demo-d{suffix}", "channel": "ecom"}


def one_transaction(ctx: DemoContext) -> StepResult:
    """Send one transaction to `transactions`; read its user's online features before/after."""
    from dojo.contracts import TRANSACTIONS_TOPIC
    from dojo.runtime.waiting import wait_until
    from dojo.synthetic.producer import connect_producer

    settings = ctx.settings
    stamp = datetime.now(UTC).strftime("%H%M%S")
    user_id = f"demo{stamp}-u0001"
    before = _user_features(settings, user_id)
    event = _transaction(user_id, 749.0, f"tx_demo_{stamp}")
    producer = connect_producer(settings.bootstrap_servers)
    try:
        sent = producer.send(TRANSACTIONS_TOPIC, key=user_id.encode(),
                             value=json.dumps(event).encode()).get(timeout=30)
    finally:
        producer.close()
    ctx.found.update(user_id=user_id, event=event)
    ctx.progress("waiting for the stream processor to update the online store")
    after = wait_until(lambda: _user_features(settings, user_id), 60, first_pause_s=0.5,
                       max_pause_s=2.0, done=lambda f: f.get("txn_count_10m") not in (None, 0))
    if not after.ok:
        raise StepFailed(f"{user_id}'s features did not appear in the online store in 60 s",
                         "show `dojo logs stream` and the stream's /metrics (events, DLQ)")
    shown = ("txn_count_10m", "amount_sum_1h")
    return StepResult(
        "One card transaction goes to Kafka; the stream processor validates it and updates its "
        "user's windowed features in the online store within a second or two.",
        [f"{TRANSACTIONS_TOPIC} partition {sent.partition} offset {sent.offset}: "
         f"{event['transaction_id']} of {user_id}, {event['amount']} EUR",
         "before: " + ", ".join(f"{k}={_plain(before.get(k))}" for k in shown),
         "after:  " + ", ".join(f"{k}={_plain(after.value.get(k))}" for k in shown)])


def _plain(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "missing"
    return f"{value:g}" if isinstance(value, float) else str(value)


# ---------------------------------------------------------------------------- 3. scoring
def champion_scores(ctx: DemoContext) -> StepResult:
    """POST the traced transaction to /predict; find its record on `predictions`."""
    from dojo.contracts import PREDICTIONS_TOPIC
    from dojo.runtime.waiting import wait_until

    settings = ctx.settings
    event = ctx.found.get("event") or _transaction(
        f"demo{datetime.now(UTC):%H%M%S}-u0001", 749.0, f"tx_demo_{time.time_ns()}")
    base = _server(settings)
    ready = wait_until(lambda: _ready(base), 120, first_pause_s=0.5, max_pause_s=2.0)
    if not ready.ok:
        raise StepFailed(f"the model server at {base} is not ready",
                         "show `curl $SERVER/ready` and `dojo logs model-server`")
    started = time.monotonic()
    response = httpx.post(f"{base}/predict", json=event, timeout=30)
    latency_ms = (time.monotonic() - started) * 1000
    if response.status_code != 200:
        raise StepFailed(f"/predict answered {response.status_code}: {response.text[:200]}",
                         "show `dojo logs model-server` and `dojo model show champion`")
    body = response.json()
    ctx.progress("looking for its record on the predictions topic")
    found = wait_until(lambda: _find_prediction(settings, PREDICTIONS_TOPIC,
                                                event["transaction_id"]), 30,
                       first_pause_s=1.0, max_pause_s=3.0)
    evidence = [f"/predict: score {body['score']:.4f} -> {body['decision']} (threshold "
                f"{body['threshold']:.3f}), {body['model_name']} v{body['model_version']} "
                f"({body['variant']}), {latency_ms:.0f} ms round trip, degraded "
                f"{str(body['degraded']).lower()}"]
    if not found.ok:
        raise StepFailed(f"scored ({evidence[0]}), but no record on {PREDICTIONS_TOPIC} in 30 s",
                         "show `dojo topics` (the predictions count) and the server's logs")
    partition, offset = found.value
    evidence.append(f"{PREDICTIONS_TOPIC} partition {partition} offset {offset}: the "
                    "prediction with the features it used (the drift monitor reads these)")
    return StepResult("The champion scores it with the online features; the decision, the "
                      "version and the features are logged to Kafka for monitoring.", evidence)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _find_prediction(settings: Settings, topic: str, tx_id: str) -> tuple[int, int] | None:
    """(partition, offset) of the prediction of ``tx_id``, reading each partition's tail."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers,
                             consumer_timeout_ms=2000, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        for tp, end in consumer.end_offsets(parts).items():
            consumer.seek(tp, max(0, end - 500))
        for message in consumer:
            if tx_id.encode() in message.value and \
                    json.loads(message.value).get("transaction_id") == tx_id:
                return message.partition, message.offset
    finally:
        consumer.close()
    return None


# ---------------------------------------------------------------------------- 4. drift
def drift_to_challenger(ctx: DemoContext) -> StepResult:
    """Replay a cohort with amounts x3, run the checks, wait for the alert and the retrain."""
    from dojo.monitoring.replay import Replayer, ReplayPlan, new_cohort
    from dojo.synthetic.drift import DriftConfig

    settings = ctx.settings
    since = datetime.now(UTC)
    monitor = f"http://{settings.host}:{settings.monitor_port}"
    httpx.post(f"{monitor}/window/reset", timeout=60).raise_for_status()
    plan = ReplayPlan(cohort=new_cohort(), score_days=1, drift=DriftConfig(amount_shift=3.0))
    last = [0.0]

    def replayed(phase: str, done: int, total: int) -> None:
        if time.monotonic() - last[0] >= 10 or done == total:
            last[0] = time.monotonic()
            ctx.progress(f"replay ({'past' if phase == 'past' else 'scored day, amounts x3'}): "
                         f"{done:,}/{total:,}")

    stats = Replayer(settings, on_progress=replayed).run(plan)
    ctx.progress("running the drift checks")
    run = httpx.post(f"{monitor}/run", timeout=300)
    run.raise_for_status()
    summary = run.json()
    evidence = [f"replayed cohort {plan.cohort}: {stats.scored_sent:,} scored events with "
                f"amounts x3 (/predict {dict(stats.statuses)})",
                f"drift share {summary['drift_share']:.2f}; drifted: "
                f"{', '.join(summary['drifted']) or 'none'}"]
    alert, firing_since = _wait_for_alert(ctx)
    if alert is None:
        raise StepFailed(f"{evidence[1]}; but {ALERT_NAME} did not reach Alertmanager within "
                         f"{ALERT_WAIT_S / 60:.0f} min",
                         "show `dojo monitor report` and the drifted features, then the rule "
                         "in Prometheus' /alerts page")
    evidence.append(alert)
    # An alert still firing from an earlier demo is not sent again for an hour: its record is
    # the one it caused when it started, before this step.
    evidence.extend(_retrain_evidence(ctx, min(since, firing_since)))
    if firing_since < since:
        return StepResult("Shifted amounts drift the amount features again; the drift alert "
                          "was still firing from an earlier run (Alertmanager repeats it "
                          "hourly), so this is the retrain it started then, and its gates.",
                          evidence)
    return StepResult("Shifted amounts drift the amount features; Prometheus fires the drift "
                      "alert, Alertmanager calls the retrain webhook, and Airflow trains a "
                      "challenger that must pass the gates.", evidence)


def _wait_for_alert(ctx: DemoContext) -> tuple[str | None, datetime]:
    """The alert's line from Alertmanager once it is active and since when it has been, or
    (None, now) after ALERT_WAIT_S."""
    from dojo.runtime.waiting import wait_until

    settings = ctx.settings
    url = f"http://{settings.host}:{settings.alertmanager_port}/api/v2/alerts"
    started = time.monotonic()
    said = [0.0]

    def active() -> list[dict[str, Any]]:
        if time.monotonic() - said[0] >= 15:
            said[0] = time.monotonic()
            ctx.progress(f"waiting for {ALERT_NAME} (rule `for: 1m`): "
                         f"{time.monotonic() - started:.0f} s")
        try:
            alerts = httpx.get(url, params={"filter": f'alertname="{ALERT_NAME}"'},
                               timeout=5).json()
        except (httpx.HTTPError, ValueError):
            return []
        return [a for a in alerts if a.get("status", {}).get("state") == "active"]

    found = wait_until(active, ALERT_WAIT_S, first_pause_s=2.0, max_pause_s=5.0)
    if not found.ok:
        return None, datetime.now(UTC)
    alert = found.value[0]
    summary = alert.get("annotations", {}).get("summary", "")
    starts = alert.get("startsAt", "")[:19]
    try:  # Alertmanager writes up to nanoseconds, more than fromisoformat reads
        firing_since = datetime.fromisoformat(starts).replace(tzinfo=UTC) - timedelta(seconds=5)
    except ValueError:
        firing_since = datetime.now(UTC)
    return (f"Alertmanager: {ALERT_NAME} {alert['status']['state']} since {starts or '?'} "
            f"({summary}), after {time.monotonic() - started:.0f} s"), firing_since


def _retrain_evidence(ctx: DemoContext, since: datetime) -> list[str]:
    """The webhook's record (triggered or cooling down), the run behind it, the challenger."""
    from dojo.monitoring.retrain import COOLING_DOWN, TRIGGERED, read_records
    from dojo.runtime.waiting import wait_until

    settings = ctx.settings
    ctx.progress("waiting for the retrain webhook's record")
    waited = wait_until(lambda: [r for r in read_records(settings)
                                 if datetime.fromisoformat(r.at) >= since], TRIGGER_WAIT_S,
                        first_pause_s=1.0, max_pause_s=3.0)
    if not waited.ok:
        raise StepFailed("the alert fired but no record reached the retrain webhook",
                         "show `dojo monitor triggers` and `amtool alert query`")
    record = waited.value[-1]
    lines = [f"webhook: {', '.join(record.alerts)} -> {record.outcome} at {record.at[:19]}"
             + (f" ({record.detail})" if record.detail else "")]
    run_id = record.dag_run_id
    if record.outcome == COOLING_DOWN:
        triggered = [r for r in read_records(settings) if r.outcome == TRIGGERED]
        if not triggered:
            raise StepFailed(f"held back by the cool-down ({record.detail}), no earlier run",
                             "show `dojo monitor triggers` and explain the cool-down")
        run_id = triggered[-1].dag_run_id
        lines.append(f"the cool-down holds it back: the run that holds it started at "
                     f"{triggered[-1].at[:19]}: {run_id}")
    elif record.outcome != TRIGGERED or run_id is None:
        raise StepFailed(f"the webhook could not start a run: {record.detail}",
                         "show `dojo monitor triggers` and `dojo logs drift-monitor`")
    lines.extend(_training_run(ctx, str(run_id)))
    return lines


def _training_run(ctx: DemoContext, run_id: str) -> list[str]:
    """Wait for the Airflow run; its state, the version it registered and the gate verdict."""
    from dojo.runtime.waiting import wait_until
    from dojo.training.airflow_api import AirflowApi
    from dojo.training.names import DAG_ID
    from dojo.training.tracking import GATE_REASON_TAG, GATE_TAG, client

    settings = ctx.settings
    started = time.monotonic()
    said = [0.0]
    with AirflowApi(settings) as api:
        def finished() -> str | None:
            state = api.get_run(DAG_ID, run_id)["state"]
            if time.monotonic() - said[0] >= 15:
                said[0] = time.monotonic()
                ctx.progress(f"training run {run_id}: {state}, "
                             f"{time.monotonic() - started:.0f} s")
            return state if state in ("success", "failed") else None

        state = wait_until(finished, TRAINING_WAIT_S, first_pause_s=2.0, max_pause_s=5.0).value
        if state is None:
            raise StepFailed(f"training run {run_id} still running after "
                             f"{TRAINING_WAIT_S / 60:.0f} min",
                             f"show it in Airflow's UI: http://{settings.host}:"
                             f"{settings.airflow_port}/dags/{DAG_ID}")
        published = api.xcom(DAG_ID, run_id, "publish") or {}
    lines = [f"Airflow {DAG_ID} / {run_id}: {state}"]
    if state != "success":
        raise StepFailed(lines[0], "show the failed task's log in Airflow's UI")
    mlflow_run = published.get("run_id")
    if mlflow_run:
        tags = client(settings).get_run(mlflow_run).data.tags
        lines.append(f"gate verdict: {tags.get(GATE_TAG, '?')} "
                     f"({tags.get(GATE_REASON_TAG, '')[:160]})")
    version = published.get("version")
    if version:
        ctx.found["challenger"] = str(version)
        lines.append(f"registry: {settings.registered_model} v{version} registered, aliases "
                     f"then {published.get('aliases', {})}")
    else:
        lines.append("registry: no new version (the gates refused it or the interval was "
                     "already trained)")
    return lines


# ---------------------------------------------------------------------------- 5. canary
def canary(ctx: DemoContext) -> StepResult:
    """Roll the challenger out: shadow, 50 % canary, full; both outcomes are a good demo."""
    from dojo.delivery.rollout import PROMOTED_EXIT, Rollout, RolloutError
    from dojo.delivery.server_api import ServerApi
    from dojo.delivery.traffic import Traffic
    from dojo.training.tracking import client

    settings = ctx.settings.model_copy(update=ROLLOUT_SETTINGS)
    url = _server(settings)
    said: list[str] = []

    def say(line: str) -> None:
        said.append(line)
        ctx.progress(line.strip())

    candidate = _candidate(ctx)
    if candidate is None:
        return _earlier_rollout(ctx)
    with ServerApi(url, settings.serving_admin_token) as server:
        rollout = Rollout(settings, client(settings), server, say, ROLLOUT_STEP_S)
        try:
            state = rollout.prepare(candidate)
        except RolloutError as error:
            raise StepFailed(f"no rollout: {error}",
                             "show `dojo model list` and `dojo model compare champion "
                             "challenger`") from None
        load = Traffic(url, ROLLOUT_TRAFFIC).start()
        try:
            code = rollout.run(state)
        finally:
            load.stop()
    gates = [line.strip() for line in said if "gate" in line or line.startswith("step full")
             or line.startswith("rolled back")]
    verdict = (f"promoted v{state.version} to champion" if code == PROMOTED_EXIT else
               f"rolled v{state.version} back: champion v{state.champion} kept")
    return StepResult(f"The canary {verdict}; the gates compare error rate, p99 latency and "
                      "the score distribution with the champion's after each step.",
                      [*gates, f"traffic: {load.summary()}"])


# ---------------------------------------------------------------------------- 6. the end
def stack_healthy_after(ctx: DemoContext) -> StepResult:
    """Check the stack once more and say where to look next."""
    from dojo.runtime.stack import Stack

    states = Stack(ctx.settings).status()
    bad = [s.name for s in states if s.state in {"stopped", "unhealthy"}]
    if bad:
        raise StepFailed(f"not healthy after the tour: {', '.join(bad)}",
                         "show `dojo doctor`: it names the likely cause for each")
    settings = ctx.settings
    return StepResult(
        "The stack is healthy after the tour: one event traced end to end, drift caught and "
        "retrained, the challenger judged by a canary.",
        [f"{sum(s.state != 'planned' for s in states)} components healthy",
         f"next: MLflow {settings.tracking_uri} (runs, registry), `dojo monitor report --open`,"
         " `dojo rollout status`, `dojo monitor triggers`, the labs (`dojo lab list`)"])


def _candidate(ctx: DemoContext) -> str | None:
    """The version to roll out: the one step 4 produced, else the `challenger` alias; None
    when neither is newer than the champion (step 4's run was rolled out already)."""
    from dojo.training.tracking import CHALLENGER, CHAMPION, alias_version, client

    settings = ctx.settings
    mlflow_client = client(settings)
    champion = alias_version(mlflow_client, settings.registered_model, CHAMPION)
    for version in (ctx.found.get("challenger"),
                    alias_version(mlflow_client, settings.registered_model, CHALLENGER)):
        if version and str(version) != str(champion) and not _rolled_out(ctx, str(version)):
            return str(version)
    return None


def _rolled_out(ctx: DemoContext, version: str) -> bool:
    from dojo.delivery import rollout_state as rs

    last = rs.load(ctx.settings.home)
    return last is not None and last.version == version and last.status != rs.RUNNING


def _earlier_rollout(ctx: DemoContext) -> StepResult:
    """Within the retrain cool-down there is no new challenger: show the canary that judged
    the one the cool-down holds (a second demo within the hour), from its recorded state."""
    from dojo.delivery import rollout_state as rs

    last = rs.load(ctx.settings.home)
    if last is None or last.status == rs.RUNNING:
        raise StepFailed("no challenger newer than the champion to roll out",
                         "show `dojo model list` and `dojo model compare champion challenger`")
    gates = [f"{step.name}: gate {step.status}: "
             + "; ".join(str(g.get("message", "")) for g in step.gates)
             for step in last.steps if step.gates]
    return StepResult(f"No challenger newer than the last canary (the retrain was held back "
                      f"or already rolled out), so this is the canary that judged "
                      f"v{last.version} at {last.started[:19]}: {last.status}.",
                      [*gates, f"outcome: {last.message}"])
