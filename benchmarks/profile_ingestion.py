"""Where a stream-processor batch spends its time, on the ingestion benchmark's workload.

Same set-up as `bench_ingestion.py` (its own broker, the same history and live events), then one
processor run with each stage timed by the wall clock: validation, window update, feature rows,
offline (parquet) append, Feast push, DLQ, commit. Prints each stage's share of the time spent
in batches (validation to commit), the batch sizes, and the time in polls between batches.
Why wall-clock wrappers and not cProfile's numbers: cProfile slows pure-Python code (validation,
the windows) far more than C code (SQLite, arrow), which skews the shares; `--top N` adds a
cProfile listing of the hottest functions.
Run alone: `python benchmarks/profile_ingestion.py [--top N]`.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feast import FeatureStore

from bench_ingestion import HISTORY_ROWS, MERCHANTS, USERS, produce
from dojo.contracts import DLQ_TOPIC, TRANSACTIONS_TOPIC
from dojo.features import stream_processor
from dojo.features.batch import build_feature_tables, materialize
from dojo.features.store import apply_definitions, quiet_feast_warnings
from dojo.features.stream_processor import StreamProcessor
from dojo.ingestion import offline_store
from dojo.runtime.launch import standalone_broker
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_history

# (stage, where the timed callable lives, its attribute name)
STAGES = (
    ("validation", "module", "validate_transaction"),
    ("window update", "state", "apply"),
    ("feature rows", "state", "latest_rows"),
    ("parquet append", "module", "append_transactions"),
    ("Feast push", "store", "push"),
    ("DLQ", "processor", "_send_dlq"),
    ("commit", "processor", "_commit"),
)


def timed(seconds: dict[str, float], stage: str, call: Callable) -> Callable:
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            seconds[stage] += time.perf_counter() - started

    return wrapper


def instrument(processor: StreamProcessor, store: FeatureStore) -> tuple[dict, list[int]]:
    """Wrap each stage (and the whole batch) in a timer; returns the totals and batch sizes."""
    seconds = dict.fromkeys([stage for stage, _where, _name in STAGES] + ["batch", "polls"],
                            0.0)
    owners = {"module": stream_processor, "state": processor.state, "store": store,
              "processor": processor}
    for stage, where, name in STAGES:
        owner = owners[where]
        setattr(owner, name, timed(seconds, stage, getattr(owner, name)))
    sizes: list[int] = []
    handle = processor._handle

    def batch(records, stop) -> None:
        # Polls count once a batch follows them: the join before the first batch and the idle
        # wait after the last are outside the benchmark's clock.
        pending = seconds.pop("polls since the last batch", 0.0)
        if sizes:
            seconds["polls"] += pending
        sizes.append(sum(len(messages) for messages in records.values()))
        handle(records, stop)

    processor._handle = timed(seconds, "batch", batch)  # type: ignore[method-assign]
    make = stream_processor.make_consumer

    def make_consumer(*args, **kwargs):
        """Time the polls between the first and the last batch."""
        consumer = make(*args, **kwargs)
        poll = consumer.poll

        def counted_poll(*poll_args, **poll_kwargs):
            started = time.perf_counter()
            try:
                return poll(*poll_args, **poll_kwargs)
            finally:
                pending = seconds.get("polls since the last batch", 0.0)
                seconds["polls since the last batch"] = pending + time.perf_counter() - started

        consumer.poll = counted_poll
        return consumer

    stream_processor.make_consumer = make_consumer
    return seconds, sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--top", type=int, default=0,
                        help="also run under cProfile and list the top N functions")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    quiet_feast_warnings()
    profile = cProfile.Profile() if args.top else None
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        with standalone_broker(tmp / "broker", {TRANSACTIONS_TOPIC: 3, DLQ_TOPIC: 1}) as address:
            settings = load_settings(home=tmp / "home", kafka_bootstrap=address)
            history = generate_history(rows=HISTORY_ROWS, users=USERS, merchants=MERCHANTS,
                                       days=7, start_date=date.today() - timedelta(days=8))
            offline_store.write_transactions(history, settings.offline_dir)
            build_feature_tables(settings)
            store = apply_definitions(settings)
            materialize(store)
            produce(address)
            processor = StreamProcessor(settings, store=store, group_id="profile")
            seconds, sizes = instrument(processor, store)
            if profile:
                profile.enable()
            totals = processor.run(threading.Event(), until_idle_s=2)
            if profile:
                profile.disable()
    seconds.pop("polls since the last batch", None)
    batch_s, polls_s = seconds.pop("batch"), seconds.pop("polls")
    print(f"{totals.applied:,} applied, {totals.dlq:,} to the DLQ, {len(sizes)} batches "
          f"(sizes {min(sizes)}..{max(sizes)}, median {statistics.median(sizes):.0f}), "
          f"{batch_s:.2f} s in batches (validation to commit)")
    print(f"{'stage':<16}{'seconds':>10}{'share':>8}")
    for stage, value in seconds.items():
        print(f"{stage:<16}{value:>10.3f}{value / batch_s:>8.0%}")
    rest = batch_s - sum(seconds.values())
    print(f"{'other':<16}{rest:>10.3f}{rest / batch_s:>8.0%}")
    print(f"and {polls_s:.2f} s in polls between the first and the last batch (incl. top-ups)")
    if profile:
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
