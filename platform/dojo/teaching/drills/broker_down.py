"""Drill: the Kafka broker is stopped. Producers time out; consumers stop making progress."""

from __future__ import annotations

from dojo.teaching.drills._component_down import ComponentDown


class BrokerDown(ComponentDown):
    name = "broker-down"
    title = "The Kafka broker is down"
    component = "broker"
    symptom = (
        "New transactions are not arriving: `dojo generate stream --count 10` fails "
        "instead of producing events."
    )
    hints = (
        "Start where every incident starts: `dojo doctor` checks each component in order.",
        "One component's process is not running. `dojo status` shows its state and "
        "`dojo logs broker` shows how it ended (a crash, or a clean stop?).",
        "The broker was stopped cleanly, nothing is wrong with its configuration: start what "
        "is stopped with `dojo up`, then check that events flow again.",
    )
    runbook = "labs/drills/broker-down.md"
