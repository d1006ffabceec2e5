"""A misbehaving upstream for the `amount-in-cents` drill: checkout gateway v2.

Its new release reads the amount from the card network's message, which carries minor units,
and forgets to divide by 100: a payment of 40.29 EUR is sent as `"amount": 4029.0`. Every event
is valid (the contract only asks for a positive number below 1,000,000), so nothing is
dead-lettered; the features of its customers are simply a hundred times too large. The events
are the generator's own (realistic users, merchants, categories), under the id prefix
`web-v2-`, stamped with the send time. Run as
`python -m dojo.teaching.drills._checkout_v2 --bootstrap HOST:PORT`; it runs until killed.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from kafka import KafkaProducer

from dojo.contracts import TRANSACTION_FIELDS, TRANSACTIONS_TOPIC

PREFIX = "web-v2-"
ID_COLUMNS = ("transaction_id", "user_id", "card_id", "device_id", "merchant_id")
ROWS = 2000  # events generated once, then replayed with fresh ids
MAX_AMOUNT = 999_999.0  # the contract's bound is < 1,000,000: the gateway stays valid


def events(seed: int = 7) -> Iterator[tuple[bytes, bytes]]:
    """(key, value) pairs forever: generator events, amounts in cents, ids under the prefix."""
    from dojo.synthetic.generator import generate_live

    frame = generate_live(ROWS, seed=seed)
    records = frame[list(TRANSACTION_FIELDS)].drop(columns="ts").to_dict("records")
    run = int(time.time())
    number = 0
    while True:
        for record in records:
            event = {**record, "ts": datetime.now(UTC).isoformat(),
                     "amount": min(round(float(record["amount"]) * 100, 2), MAX_AMOUNT)}
            for column in ID_COLUMNS:
                event[column] = f"{PREFIX}{event[column]}"
            event["transaction_id"] = f"{PREFIX}{run}-{number}"
            number += 1
            yield str(event["user_id"]).encode(), json.dumps(event).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of the Kafka broker")
    parser.add_argument("--rate", type=float, default=8.0, help="events per second")
    args = parser.parse_args()
    running = True

    def stop(_signum: int, _frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    # batch_size=0: one record per batch keeps the local broker's end offsets exact (lab 17).
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="checkout-gateway-v2",
                             acks="all", batch_size=0)
    started = time.monotonic()
    for sent, (key, value) in enumerate(events(), start=1):
        if not running:
            break
        producer.send(TRANSACTIONS_TOPIC, key=key, value=value)
        time.sleep(max(0.0, started + sent / args.rate - time.monotonic()))  # steady rate
    producer.close(timeout=5)


if __name__ == "__main__":
    main()
