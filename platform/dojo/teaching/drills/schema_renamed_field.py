"""Drill: an upstream release renamed a field of the event. Its events all go to the DLQ.

Why this fault: schemas change upstream more often than anything else in a data platform, and
a rename is the change that looks harmless to the team that makes it (`amount` becomes
`amount_eur`, "more explicit"). A strict contract turns it into a loud, contained failure: every
event is dead-lettered with both halves of the rename in its reason, nothing wrong reaches the
features. The opposite change, `amount` in cents instead of units, would pass the contract
(same name, a valid number) and can only be caught by range and drift checks on the data.

Same mechanics as `poison-messages` (a gateway process next to the platform's producer; the
check waits until the DLQ is quiet and the processor caught up); a different defect to read.
"""

from __future__ import annotations

from dojo.teaching.drills.poison_messages import PoisonMessages


class SchemaRenamedField(PoisonMessages):
    name = "schema-renamed-field"
    title = "An upstream release renamed a field of the transaction event"
    symptom = (
        "Since a few minutes, every transaction from the card-terminal gateway lands in the "
        "dead-letter queue: `dojo_stream_dlq_total` rises, the gateway team says they only "
        "shipped 'a small cleanup', and the stream processor is healthy."
    )
    hints = (
        "Read the newest DLQ messages and their `dlq.reason` header (the runbook has the "
        "reader): which fields does the reason name?",
        "Two problems per event: `amount` is missing and `amount_eur` is unknown. That is a "
        "rename, not bad data: the gateway's new release sends the amount under a new name. "
        "Find the gateway with `pgrep -af legacy_pos`.",
        "Stop the producer that breaks the contract (`kill <PID>`, in production: roll back "
        "its release), then agree on the change: a new optional field first, consumers "
        "updated, the old one removed last.",
    )
    runbook = "labs/drills/schema-renamed-field.md"
    defect = "renamed"
