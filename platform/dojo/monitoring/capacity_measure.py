"""Measure the running stack for a capacity plan: one replica's knee, a request's stages, the
stream's parallelism.

Why against the running stack and not a model in a spreadsheet: a design answer defends its
numbers, and the only defensible ones come from the system itself. Each load step scrapes the
model server's /metrics before and after, so the stages are the server's own histograms over
exactly that step (Prometheus' scrape interval would blur a five-second step). The stream part
sends a burst to `transactions` and reads the processor's batch histograms: events per second
of batch time is what one consumer sustains, and the group's assignment shows that consumers
beyond the partition count get nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import numpy as np
from kafka.errors import KafkaError

from dojo.contracts import TRANSACTIONS_TOPIC
from dojo.ingestion.kafka_inspect import group_lag
from dojo.monitoring.capacity import (
    Measurements,
    Step,
    delta_mean,
    find_knee,
    owned_partitions,
    stages_between,
)
from dojo.runtime.kafka_admin import admin_client
from dojo.serving.load_generator import payloads, run_load
from dojo.settings import Settings

Progress = Callable[[str], None]
# Distinct payloads cycled through the load: enough users to spread over the online store,
# few enough to generate in a second.
PAYLOADS = 400
CONCURRENCY = 16


class StackNotReady(RuntimeError):
    """A component the measurement needs does not answer (one line for the CLI)."""


def scrape(url: str) -> str:
    """The text of a /metrics page, or StackNotReady naming the URL."""
    try:
        response = httpx.get(url, timeout=5.0)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise StackNotReady(f"cannot read {url} ({type(error).__name__}): is the stack up? "
                            "`dojo status`") from None
    return response.text


def serving_url(settings: Settings) -> str:
    return f"http://{settings.host}:{settings.serving_port}"


def check_ready(settings: Settings) -> None:
    """A knee of a server without a model would measure its 503s: refuse instead."""
    url = f"{serving_url(settings)}/ready"
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as error:
        raise StackNotReady(f"the model server does not answer at {url} "
                            f"({type(error).__name__}): `dojo up`") from None
    if response.status_code != 200:
        raise StackNotReady(f"the model server is not ready ({url}: {response.text[:160]}); "
                            "it needs a champion: `dojo model show champion`")


def measure_serving(settings: Settings, rates: list[float], seconds: float, seed: int,
                    progress: Progress) -> list[Step]:
    """Step the load up through ``rates``; stop after the first step past the objective."""
    check_ready(settings)
    url = serving_url(settings)
    bodies = payloads(PAYLOADS, seed)
    # Warm-up, not counted: first requests pay for connections and lazy imports.
    asyncio.run(run_load(url, rates[0], 1.0, CONCURRENCY, bodies))
    steps = []
    for rate in rates:
        before = scrape(f"{url}/metrics")
        result = asyncio.run(run_load(url, rate, seconds, CONCURRENCY, bodies))
        stages = stages_between(before, scrape(f"{url}/metrics"))
        p50, p99 = _percentiles(result.latencies_s)
        step = Step(offered_rps=rate, achieved_rps=round(result.sent / result.elapsed_s, 1),
                    sent=result.sent, ok=result.ok, p50_s=p50, p99_s=p99, stages=stages)
        steps.append(step)
        why = step.why_past(settings.slo_latency_target_s)
        verdict = "within the objective" if why is None else f"PAST the objective ({why})"
        progress(f"  {rate:g}/s for {seconds:g} s: {result.summary()} -> {verdict}")
        if why is not None:
            break
    return steps


def _percentiles(latencies: list[float]) -> tuple[float | None, float | None]:
    """p50 and p99 as the load generator's summary line computes them."""
    if not latencies:
        return None, None
    p50, p99 = np.percentile(np.array(latencies), [50, 99])
    return round(float(p50), 6), round(float(p99), 6)


def group_members(settings: Settings) -> list[str]:
    """The member ids of the stream group, from the group coordinator.

    Why not their assignment too: the local broker leaves it out of DescribeGroups, so which
    partitions a processor owns is read from its own lag gauges instead (`owned_partitions`).
    """
    admin = admin_client(settings)
    # The local broker answers authorized_operations with a bit set kafka-python cannot map
    # to its enum (ValueError); nothing here needs them, so they are passed through as is.
    admin._process_acl_operations = lambda obj: obj  # type: ignore[method-assign]
    try:
        described = admin.describe_groups([settings.stream_group_id])
    finally:
        admin.close()
    group = described.get(settings.stream_group_id) or {}
    return sorted(m["member_id"] for m in group.get("members", []))


def send_burst(settings: Settings, events: int, seed: int) -> None:
    """``events`` valid transactions to `transactions` as fast as the producer goes."""
    from dojo.synthetic.generator import generate_live
    from dojo.synthetic.producer import connect_producer, encode_event, plan_events

    planned = plan_events(generate_live(events, seed), 0.0, seed)
    producer = connect_producer(settings.bootstrap_servers)
    try:
        for event in planned:
            producer.send(TRANSACTIONS_TOPIC, key=event.key,
                          value=encode_event(event, datetime.now(UTC)))
        producer.flush(timeout=30)
    finally:
        producer.close()


def measure_stream(settings: Settings, events: int, seed: int, deadline_s: float,
                   progress: Progress) -> tuple[int, float, float | None]:
    """(events sent, seconds until the group caught up, events/s of batch time)."""
    metrics_url = f"http://{settings.host}:{settings.stream_metrics_port}/metrics"
    before = scrape(metrics_url)
    started = time.monotonic()
    send_burst(settings, events, seed)
    progress(f"  sent {events}; waiting for group {settings.stream_group_id} to consume them")
    while sum(row.lag for row in group_lag(settings, settings.stream_group_id)) > 0:
        if time.monotonic() - started > deadline_s:
            raise StackNotReady(f"the stream processor did not catch up within {deadline_s:g} s: "
                                "`dojo doctor`")
        time.sleep(0.5)
    drain_s = time.monotonic() - started
    after = scrape(metrics_url)
    batch_s, batches = delta_mean(before, after, "dojo_stream_batch_duration_seconds")
    rows, _ = delta_mean(before, after, "dojo_stream_batch_events")
    busy = rows / batch_s if batch_s > 0 and batches else None
    return events, round(drain_s, 3), (round(busy, 1) if busy else None)


def measure(settings: Settings, rates: list[float], seconds: float, stream_events: int,
            progress: Progress) -> Measurements:
    """The whole measurement: serving steps, then the stream's partitions, group and rate."""
    seed = int(time.time()) % 1_000_000  # fresh transaction ids: duplicates are skipped
    progress(f"serving: one replica at {serving_url(settings)}, stepping through "
             f"{', '.join(f'{r:g}' for r in rates)} requests/s")
    steps = measure_serving(settings, rates, seconds, seed, progress)
    knee = find_knee(steps, settings.slo_latency_target_s)
    progress(f"stream: partitions and group {settings.stream_group_id}"
             + (f", then a burst of {stream_events} transactions" if stream_events else ""))
    try:
        partitions = len(group_lag(settings, settings.stream_group_id))
        members = group_members(settings)
    except KafkaError as error:
        raise StackNotReady(f"the broker at {settings.bootstrap_servers} does not answer "
                            f"({type(error).__name__}): `dojo doctor`") from None
    owned: list[int] = []
    sent, drain_s, busy = (0, 0.0, None)
    notes = []
    # The serving numbers stand on their own: a stream processor that does not answer is
    # reported in the file and the table, not a reason to throw the serving steps away.
    try:
        owned = owned_partitions(
            scrape(f"http://{settings.host}:{settings.stream_metrics_port}/metrics"))
        if stream_events:
            sent, drain_s, busy = measure_stream(settings, stream_events, seed, 60.0, progress)
    except StackNotReady as error:
        notes.append(f"stream not measured: {error}")
    if members and len(members) < partitions:
        notes.append(f"{len(members)} consumer(s) for {partitions} partitions: up to "
                     f"{partitions} can share the load")
    return Measurements(
        latency_target_s=settings.slo_latency_target_s, steps=steps,
        knee_rps=knee.offered_rps if knee else None, partitions=partitions,
        group=settings.stream_group_id, members=members, processor_partitions=owned,
        stream_events=sent,
        stream_drain_s=drain_s, stream_busy_eps=busy, notes=notes)


def join_consumers(settings: Settings, consumers: int, deadline_s: float = 60.0,
                   progress: Progress | None = None) -> dict[str, list[int]]:
    """Start ``consumers`` members of a throwaway group on `transactions`; return each one's
    partitions once the assignment covers every partition and holds still for 2 s.

    Why a throwaway group: the stream processor's group keeps its members and offsets; these
    consumers never commit, and the group is deleted afterwards. Each member polls on its own
    thread, as separate processes would, so one join does not wait for another's poll.
    """
    import threading

    from kafka import KafkaConsumer

    group = f"dojo-design-{int(time.time() * 1000)}"
    stop = threading.Event()
    owned: dict[str, list[int]] = {}
    lock = threading.Lock()
    members = [KafkaConsumer(TRANSACTIONS_TOPIC, group_id=group, client_id=f"consumer-{i + 1}",
                             enable_auto_commit=False, **settings.kafka_consumer_kwargs())
               for i in range(consumers)]

    def run(name: str, consumer: KafkaConsumer) -> None:
        while not stop.is_set():
            consumer.poll(timeout_ms=200, max_records=1)
            with lock:
                owned[name] = sorted(tp.partition for tp in consumer.assignment())

    threads = [threading.Thread(target=run, args=(f"consumer-{i + 1}", c), daemon=True)
               for i, c in enumerate(members)]
    partitions = len(group_lag(settings, settings.stream_group_id))
    if progress:
        progress(f"{consumers} consumers join group {group} on `transactions` "
                 f"({partitions} partitions)")
    started = time.monotonic()
    for thread in threads:
        thread.start()
    stable, since = None, 0.0
    try:
        while time.monotonic() - started < deadline_s:
            with lock:
                now = {name: list(parts) for name, parts in owned.items()}
            covered = sorted(p for parts in now.values() for p in parts)
            if len(now) == consumers and covered == list(range(partitions)):
                if now != stable:
                    stable, since = now, time.monotonic()
                elif time.monotonic() - since >= 2.0:
                    return dict(sorted(stable.items(), key=lambda kv: int(kv[0].split("-")[1])))
            time.sleep(0.2)
        raise StackNotReady(f"the group's assignment did not settle within {deadline_s:g} s")
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for consumer in members:
            consumer.close()
        _delete_group(settings, group)


def _delete_group(settings: Settings, group: str) -> None:
    """Best effort: an empty throwaway group left behind costs nothing but a line in a list."""
    admin = admin_client(settings)
    try:
        admin.delete_groups([group])
    except Exception:  # cleanup must not hide the result, whatever the broker says
        pass
    finally:
        admin.close()
