"""A misbehaving upstream for the drills: a legacy card-terminal gateway with one defect.

It sends card transactions to `transactions` a few times a second, like the generator, except
for its defect (`--defect`):
- `comma` (the `poison-messages` drill): it formats the amount the way its terminals print it
  ("12,50"), a string with a decimal comma;
- `renamed` (the `schema-renamed-field` drill): its new release renamed `amount` to
  `amount_eur`, the kind of "harmless" rename an upstream team ships without telling anyone.
The stream processor rejects every one of them with a reason naming the field. Run as
`python -m dojo.teaching.drills._legacy_pos --bootstrap HOST:PORT [--defect renamed]`; it runs
until killed.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from datetime import UTC, datetime

from kafka import KafkaProducer

from dojo.contracts import TRANSACTIONS_TOPIC

DEFECTS = ("comma", "renamed")


def legacy_event(number: int, defect: str = "comma") -> tuple[bytes, bytes]:
    """(key, value) of the gateway's n-th event: valid in every field but the amount."""
    user = f"u-pos-{number % 7:04d}"
    cents = 250 + (number * 137) % 9000
    event = {
        "transaction_id": f"pos-legacy-{int(time.time())}-{number}",
        "ts": datetime.now(UTC).isoformat(), "user_id": user, "card_id": f"c-{user}",
        "merchant_id": "m-pos-legacy", "merchant_category": "grocery",
        "amount": f"{cents // 100},{cents % 100:02d}",  # "12,50": the defect
        "currency": "EUR", "country": "DE", "device_id": "pos-legacy-terminal-01",
        "channel": "pos",
    }
    if defect == "renamed":
        del event["amount"]
        event["amount_eur"] = cents / 100
    return user.encode(), json.dumps(event).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True, help="host:port of the Kafka broker")
    parser.add_argument("--rate", type=float, default=4.0, help="events per second")
    parser.add_argument("--defect", choices=DEFECTS, default="comma",
                        help="what is wrong with its events")
    args = parser.parse_args()
    running = True

    def stop(_signum: int, _frame: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    # batch_size=0: one record per batch keeps the local broker's end offsets exact (lab 17).
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, client_id="legacy-pos-gateway",
                             acks="all", batch_size=0)
    number = 0
    started = time.monotonic()
    while running:
        key, value = legacy_event(number, args.defect)
        producer.send(TRANSACTIONS_TOPIC, key=key, value=value)
        number += 1
        time.sleep(max(0.0, started + number / args.rate - time.monotonic()))  # steady rate
    producer.close(timeout=5)


if __name__ == "__main__":
    main()
