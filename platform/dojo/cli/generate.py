"""`dojo generate history|stream|replay`: synthetic card transactions for the offline store
and Kafka."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit
from dojo.contracts import LABELS_TOPIC, TRANSACTIONS_TOPIC
from dojo.synthetic.drift import NEW_CATEGORIES, DriftConfig

if TYPE_CHECKING:  # heavy imports stay inside the commands, so `dojo --help` starts fast
    import pandas as pd

    from dojo.monitoring.replay import ReplayPlan, ReplayStats
    from dojo.synthetic.generator import HistoryConfig
    from dojo.synthetic.producer import StreamStats

app = typer.Typer(
    help="Generate synthetic card transactions: history into the offline store, live events "
         "into Kafka. Same seed and options give the same data.",
    no_args_is_help=True,
)

# --- options shared by both commands (one spelling for one idea)
Users = Annotated[int, typer.Option(min=10, help="Customers in the population.")]
Merchants = Annotated[int, typer.Option(min=80, help="Merchants in the population.")]
WorldSeed = Annotated[int, typer.Option(
    min=0, help="Seed of the population (users, cards, devices, merchants); keep it the same "
                "for history and stream so both see the same customers.")]
FraudRate = Annotated[float, typer.Option(min=0.0, max=0.2, help="Share of fraudulent rows.")]
AmountShift = Annotated[float, typer.Option(
    min=0.01, max=100.0, help="Drift: multiply every amount (covariate shift); 1 = none.")]
NewCategories = Annotated[int, typer.Option(
    min=0, max=len(NEW_CATEGORIES),
    help=f"Drift: how many unseen merchant categories appear ({', '.join(NEW_CATEGORIES)}).")]
ConceptDrift = Annotated[bool, typer.Option(
    "--concept-drift", help="Drift: account takeovers and high-amount fraud become ATM "
                            "cash-outs at home (P(fraud | x) changes).")]

# The ids a prefix applies to: every key a feature, a label or a dedup is computed on.
ID_COLUMNS: tuple[str, ...] = ("transaction_id", "user_id", "card_id", "device_id", "merchant_id")
_ID_PREFIX = re.compile(r"[A-Za-z0-9_-]*")


def _id_prefix(value: str) -> str:
    if not _ID_PREFIX.fullmatch(value):
        raise typer.BadParameter("use letters, digits, '-' and '_' only")
    return value


def _drift(amount_shift: float, new_categories: int, concept_drift: bool,
           start: datetime | None = None) -> DriftConfig:
    return DriftConfig(amount_shift=amount_shift, new_categories=new_categories,
                       concept_drift=concept_drift, start=start)


@app.command()
def history(
    rows: Annotated[int, typer.Option(min=1, max=50_000_000, help="Rows in total.")] = 200_000,
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days the rows spread over.")] = 30,
    start_date: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"],
        help="First day (UTC). Default: the DAYS days ending yesterday. Pass it for data that "
             "does not depend on the day you run it.")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the transactions.")] = 42,
    users: Users = 10_000,
    merchants: Merchants = 2_000,
    world_seed: WorldSeed = 0,
    fraud_rate: FraudRate = 0.015,
    amount_shift: AmountShift = 1.0,
    new_categories: NewCategories = 0,
    concept_drift: ConceptDrift = False,
    drift_start: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Drift applies from this day on; default: every day.")] = None,
    clean: Annotated[bool, typer.Option(
        "--clean", help="First remove all earlier generated history (other writers' files "
                        "stay).")] = False,
) -> None:
    """Write DAYS days of history to the offline store (re-running replaces, never duplicates)."""
    from dojo.ingestion.offline_store import remove_writer_files, write_transactions
    from dojo.synthetic.generator import HistoryConfig, generate_history

    settings = settings_or_exit()
    today = datetime.now(UTC).date()
    first = start_date.date() if start_date else today - timedelta(days=days)
    if first + timedelta(days=days) > today + timedelta(days=1):
        raise fail(f"--start-date {first} with --days {days} reaches past today ({today}); "
                   "future events would be rejected by the validator")
    config = HistoryConfig(
        rows=rows, days=days, start_date=first, seed=seed, users=users, merchants=merchants,
        world_seed=world_seed, fraud_rate=fraud_rate,
        drift=_drift(amount_shift, new_categories, concept_drift, drift_start),
    )
    started = time.monotonic()
    with _progress() as progress:
        task = progress.add_task(f"generating {rows:,} rows", total=1)
        frame = generate_history(config)
        progress.update(task, completed=1)
        removed = remove_writer_files(settings.offline_dir) if clean else 0
        replaced = _existing_history_files(settings.offline_dir, frame["event_date"].unique())
        partitions = frame["event_date"].nunique()
        task = progress.add_task("writing day partitions", total=partitions)
        result = write_transactions(frame, settings.offline_dir,
                                    on_partition=lambda _day, _n: progress.advance(task))
    _print_history_summary(frame, result.path, result.partitions, removed, replaced,
                           time.monotonic() - started, config)


@app.command()
def stream(
    count: Annotated[int, typer.Option(min=1, max=10_000_000, help="Events to send.")] = 200,
    rate: Annotated[float, typer.Option(
        min=0.0, help="Events per second; 0 = as fast as possible.")] = 20.0,
    seed: Annotated[int | None, typer.Option(
        min=0, help="Seed of the events; default: a fresh one (printed, to replay).")] = None,
    malformed_fraction: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Share of events sent broken on purpose (go to the DLQ).")] = 0.0,
    label_delay_s: Annotated[float, typer.Option(
        min=0.0, max=3600.0, help="Seconds until each event's label is sent to `labels`.")] = 5.0,
    users: Users = 10_000,
    merchants: Merchants = 2_000,
    world_seed: WorldSeed = 0,
    fraud_rate: FraudRate = 0.015,
    amount_shift: AmountShift = 1.0,
    new_categories: NewCategories = 0,
    concept_drift: ConceptDrift = False,
    id_prefix: Annotated[str, typer.Option(
        callback=_id_prefix,
        help="Put this in front of every id (transaction, user, card, device, merchant), e.g. "
             "`lab01-`: the same events for a set of customers of their own, whose features "
             "no other stream touches. Each lab streams under its own prefix.")] = "",
    connect_timeout_s: Annotated[float, typer.Option(
        min=0.0, help="How long to keep retrying an unreachable broker.")] = 15.0,
) -> None:
    """Send COUNT live events to `transactions` (keyed by user_id), their labels to `labels`."""
    import numpy as np
    from kafka.errors import KafkaError

    from dojo.runtime.kafka_admin import ensure_topics
    from dojo.synthetic import producer as wire
    from dojo.synthetic.generator import generate_live

    settings = settings_or_exit()
    if seed is None:
        seed = int(np.random.SeedSequence().entropy % 1_000_000)
    span_s = count / rate if rate > 0 else 60.0
    frame = generate_live(count, seed, span_s=span_s, users=users, merchants=merchants,
                          world_seed=world_seed, fraud_rate=fraud_rate,
                          drift=_drift(amount_shift, new_categories, concept_drift))
    for column in ID_COLUMNS if id_prefix else ():
        frame[column] = id_prefix + frame[column].astype(str)
    events = wire.plan_events(frame, malformed_fraction, seed)
    address = settings.bootstrap_servers
    try:
        with console.status(f"connecting to Kafka at {address}…"):
            producer = wire.connect_producer(address, timeout_s=connect_timeout_s,
                                             options=settings.kafka_producer_kwargs())
    except wire.BrokerUnavailable as error:
        hint = "`make up` starts it" if settings.uses_local_broker else "check DOJO_KAFKA_BOOTSTRAP"
        raise fail(f"{error}; {hint}") from None
    try:
        ensure_topics(settings)
        valid = sum(1 for e in events if not e.malformed)
        with _progress() as progress:
            sent = progress.add_task(f"events → {TRANSACTIONS_TOPIC}", total=count)
            labels = progress.add_task(f"labels → {LABELS_TOPIC} (+{label_delay_s:g} s)",
                                       total=valid)

            def update(stats: wire.StreamStats) -> None:
                progress.update(sent, completed=stats.sent)
                progress.update(labels, completed=stats.labels)

            stats = wire.stream_events(producer, events, rate=rate, label_delay_s=label_delay_s,
                                       on_progress=update)
    except KafkaError as error:
        raise fail(f"Kafka at {address} failed mid-stream: {type(error).__name__}: {error}"
                   ) from None
    except KeyboardInterrupt:
        raise fail("interrupted; events already handed to the producer may or may not have "
                   "been delivered", code=130) from None
    finally:
        producer.close(timeout=5)
    _print_stream_summary(stats, seed, address, label_delay_s)
    if stats.failed:
        raise fail(f"{stats.failed} sends failed, first: {stats.first_error}")


@app.command()
def replay(
    days: Annotated[int, typer.Option(
        min=1, max=30, help="Days to score, after the cohort's past.")] = 2,
    warm_up_days: Annotated[int, typer.Option(
        min=0, max=60, help="Days of the cohort's past, streamed first (not scored) so the "
                            "stream processor builds their windows.")] = 21,
    rows_per_day: Annotated[int, typer.Option(
        min=10, max=100_000, help="Transactions per day: the labs' history has 1,142.")] = 1142,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the events.")] = 7,
    cohort: Annotated[str | None, typer.Option(
        callback=lambda v: v if v is None else _id_prefix(v),
        help="Id prefix of the cohort's customers; default: a fresh one (printed).")] = None,
    score: Annotated[bool, typer.Option(
        help="Score each transaction with the model server once its features are in.")] = True,
    users: Users = 10_000,
    merchants: Merchants = 2_000,
    world_seed: WorldSeed = 0,
    fraud_rate: FraudRate = 0.015,
    amount_shift: AmountShift = 1.0,
    new_categories: NewCategories = 0,
    concept_drift: ConceptDrift = False,
) -> None:
    """Replay a fresh cohort of customers at the history's pace and event times: their past to
    `transactions`, then DAYS scored by the model server, labels to `labels` (lab 20)."""
    from dojo.monitoring.replay import Replayer, ReplayError, ReplayPlan, new_cohort

    settings = settings_or_exit()
    plan = ReplayPlan(cohort=cohort or new_cohort(), warm_up_days=warm_up_days, score_days=days,
                      rows_per_day=rows_per_day, seed=seed, users=users, merchants=merchants,
                      world_seed=world_seed, fraud_rate=fraud_rate,
                      drift=_drift(amount_shift, new_categories, concept_drift))
    with _progress() as progress:
        tasks: dict[str, object] = {}

        def update(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                label = ("the cohort's past → transactions" if phase == "past" else
                         "days to score → transactions, /predict, labels")
                tasks[phase] = progress.add_task(label, total=total)
            progress.update(tasks[phase], completed=done)  # type: ignore[arg-type]

        try:
            stats = Replayer(settings, on_progress=update).run(plan, score=score)
        except ReplayError as error:
            raise fail(str(error)) from None
    _print_replay_summary(plan, stats)


def _print_replay_summary(plan: ReplayPlan, stats: ReplayStats) -> None:
    end = plan.first_scored_day + timedelta(days=plan.score_days - 1)
    table = Table(title=f"replay of cohort {plan.cohort}", show_header=False)
    table.add_row("past", f"{stats.warm_up_sent:,} events, {plan.start} … "
                          f"{plan.first_scored_day - timedelta(days=1)} (not scored)")
    table.add_row("scored days", f"{stats.scored_sent:,} events, {plan.first_scored_day} … {end}")
    answers = ", ".join(f"{code}: {n:,}" for code, n in sorted(stats.statuses.items()))
    table.add_row("/predict answers", f"{answers or 'none (--no-score)'}; degraded "
                                      f"{stats.degraded:,}")
    table.add_row("labels", f"{stats.labels_sent:,} to {LABELS_TOPIC}")
    table.add_row("drift", _describe_drift(plan.drift))
    table.add_row("waited for the stream", f"{stats.stream_wait_s:.1f} s")
    table.add_row("took", f"{stats.seconds:.1f} s")
    console.print(table)
    console.print("Next: `dojo monitor run` compares these predictions with the champion's "
                  "training snapshot; `dojo monitor reset` first starts a clean window.")


def _existing_history_files(offline_dir: Path, days: Iterable[str]) -> int:
    """How many of these days already hold a history file (the write replaces each one)."""
    from dojo.ingestion.offline_store import HISTORY_WRITER, partition_dir

    return sum((partition_dir(offline_dir, str(day)) / f"{HISTORY_WRITER}.parquet").exists()
               for day in days)


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                    MofNCompleteColumn(), console=console)


def _describe_drift(drift: DriftConfig) -> str:
    if not drift.active:
        return "none"
    parts = [f"amount x{drift.amount_shift:g}"] if drift.amount_shift != 1.0 else []
    if drift.new_categories:
        parts.append(f"{drift.new_categories} new categories")
    if drift.concept_drift:
        parts.append("concept drift")
    since = f" from {drift.start.date()}" if drift.start else ""
    return ", ".join(parts) + since


def _print_history_summary(frame: pd.DataFrame, path: Path, partitions: tuple[str, ...],
                           removed: int, replaced: int, seconds: float,
                           config: HistoryConfig) -> None:
    table = Table(title="history written", show_header=False)
    table.add_row("rows", f"{len(frame):,}")
    patterns = frame["fraud_pattern"].value_counts().to_dict()
    detail = ", ".join(f"{name} {n:,}" for name, n in sorted(patterns.items()))
    table.add_row("fraud rate", f"{frame['is_fraud'].mean():.2%} ({detail or 'none'})")
    span = f"event_date={partitions[0]} … {partitions[-1]}"
    table.add_row("partitions", f"{len(partitions)} ({span})")
    table.add_row("path", str(path))
    table.add_row("seed / start / days", f"{config.seed} / {config.start_date} / {config.days}")
    table.add_row("drift", _describe_drift(config.drift))
    if removed:
        table.add_row("removed first", f"{removed} earlier history files (--clean)")
    if replaced:
        table.add_row("replaced", f"{replaced} earlier history files of the same days")
    table.add_row("took", f"{seconds:.1f} s")
    console.print(table)
    console.print(
        f"Next: look at one day with `ls {path}/event_date={partitions[-1]}`, read it with "
        "`dojo.ingestion.offline_store.read_transactions`, or send live events with "
        "`dojo generate stream`."
    )


def _print_stream_summary(stats: StreamStats, seed: int, address: str, delay: float) -> None:
    table = Table(title=f"stream sent to {address}", show_header=False)
    per_s = stats.sent / max(stats.events_s, 1e-3)
    table.add_row("events", f"{stats.sent:,} to {TRANSACTIONS_TOPIC} in {stats.events_s:.1f} s "
                            f"({per_s:,.0f}/s)")
    table.add_row("malformed", f"{stats.malformed:,} (should end up in transactions.dlq)")
    table.add_row("labels", f"{stats.labels:,} to {LABELS_TOPIC}, {delay:g} s after each event")
    for topic, parts in sorted(stats.partitions.items()):
        table.add_row(f"partitions {topic}", ", ".join(map(str, sorted(parts))))
    table.add_row("failed", str(stats.failed))
    table.add_row("seed", f"{seed} (pass --seed {seed} to replay the same transaction ids)")
    console.print(table)
    console.print("Next: watch them with `dojo topics`; the stream processor validates and "
                  "scores them.")


