"""Lab 12's stream measurements against the local broker and stream processor: extra consumers
get no partition, the stream group is described, a burst is consumed and timed."""

from __future__ import annotations

from dojo.monitoring.capacity import owned_partitions
from dojo.monitoring.capacity_measure import (
    group_members,
    join_consumers,
    measure_stream,
    scrape,
)
from dojo.settings import Settings


def test_consumers_beyond_the_partition_count_get_nothing(healthy_stack: Settings) -> None:
    partitions = healthy_stack.kafka_transactions_partitions
    owned = join_consumers(healthy_stack, partitions + 2)
    assert len(owned) == partitions + 2
    assert sorted(p for parts in owned.values() for p in parts) == list(range(partitions))
    assert sum(1 for parts in owned.values() if not parts) == 2


def test_the_stream_group_and_a_burst_are_measured(healthy_stack: Settings) -> None:
    assert len(group_members(healthy_stack)) >= 1  # the stack's stream processor
    page = scrape(f"http://{healthy_stack.host}:{healthy_stack.stream_metrics_port}/metrics")
    assert owned_partitions(page) == list(range(healthy_stack.kafka_transactions_partitions))
    lines: list[str] = []
    sent, drain_s, busy = measure_stream(healthy_stack, 300, seed=12_345, deadline_s=120,
                                         progress=lines.append)
    assert sent == 300 and drain_s > 0
    assert busy is not None and busy > 0
    assert any("sent 300" in line for line in lines)
