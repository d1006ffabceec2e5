"""Online feature reads: Feast `get_online_features` vs a raw SQLite read of the same keys.

Baseline (same run, same SQLite file, same keys): a prepared `SELECT` by primary key on the
table Feast writes, with the entity key serialised the way Feast does it. A second raw row also
decodes the values (protobuf), which is the fair floor for "give me the numbers". The ratio is
what Feast's request handling (registry lookup, response building) costs per read.
One request = one user, the model server's access pattern.
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import sys
import tempfile
import time
import warnings
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feast.infra.key_encoding_utils import serialize_entity_key
from feast.protos.feast.types.EntityKey_pb2 import EntityKey
from feast.protos.feast.types.Value_pb2 import Value

from _report import report
from dojo.features import spec
from dojo.features.batch import build_feature_tables, materialize
from dojo.features.store import apply_definitions, quiet_feast_warnings
from dojo.ingestion import offline_store
from dojo.settings import load_settings
from dojo.synthetic.generator import generate_history

USERS, ROWS, READS, WARMUP = 5_000, 100_000, 2_000, 200


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def timed(fn, keys: list[str]) -> list[float]:
    for key in keys[:WARMUP]:
        fn(key)
    samples = []
    for key in keys:
        started = time.perf_counter()
        fn(key)
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    warnings.simplefilter("ignore")
    quiet_feast_warnings()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp))
        history = generate_history(rows=ROWS, users=USERS, days=7,
                                   start_date=date.today() - timedelta(days=8))
        offline_store.write_transactions(history, settings.offline_dir)
        build_feature_tables(settings)
        store = apply_definitions(settings)
        materialize(store)
        users = sorted(history["user_id"].unique())
        keys = random.Random(1).choices(users, k=READS)
        refs = spec.user_feature_refs()
        service = store.get_feature_service(spec.FEATURE_SERVICE)
        merchant = history["merchant_id"].iloc[0]

        def feast_read(user: str) -> None:
            store.get_online_features(features=refs, entity_rows=[{"user_id": user}]).to_dict()

        def feast_service_read(user: str) -> None:
            store.get_online_features(
                features=service,
                entity_rows=[{"user_id": user, "merchant_id": merchant, "amount": 42.0}],
            ).to_dict()

        version = store.config.entity_key_serialization_version
        table = f"{store.config.project}_{spec.USER_FEATURE_VIEW}"
        conn = sqlite3.connect(store.config.online_store.path, check_same_thread=False)
        query = f'SELECT feature_name, value, event_ts FROM "{table}" WHERE entity_key = ?'

        def key_bytes(user: str) -> bytes:
            key = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user)])
            return serialize_entity_key(key, entity_key_serialization_version=version)

        def raw_read(user: str) -> None:
            conn.execute(query, (key_bytes(user),)).fetchall()

        def raw_decoded_read(user: str) -> None:
            out = {}
            for name, blob, _ts in conn.execute(query, (key_bytes(user),)).fetchall():
                value = Value()
                value.ParseFromString(blob)
                out[name] = getattr(value, value.WhichOneof("val"))

        # Materialization also stores the join key as a "feature" row: 11 features + user_id.
        assert len(conn.execute(query, (key_bytes(keys[0]),)).fetchall()) >= len(refs)
        results = {name: percentiles(timed(fn, keys)) for name, fn in (
            ("raw", raw_read), ("raw_decoded", raw_decoded_read),
            ("feast", feast_read), ("feast_service", feast_service_read),
        )}
        conn.close()
    base_p50, base_p99 = results["raw"]
    rows = []
    labels = {"raw": "raw SQLite SELECT by key", "raw_decoded": "raw SQLite + protobuf decode",
              "feast": "Feast get_online_features (11 user features)",
              "feast_service": "Feast fraud_model service (user+merchant+on-demand)"}
    for name, (p50, p99) in results.items():
        rows.append({"measure": f"{labels[name]} p50", "value": p50 * 1e3, "unit": "ms",
                     "ratio": p50 / base_p50})
        rows.append({"measure": f"{labels[name]} p99", "value": p99 * 1e3, "unit": "ms",
                     "ratio": p99 / base_p99})
    report("online_read", "raw SQLite SELECT of the same keys", rows,
           notes=f"{READS:,} single-user reads after {WARMUP} warm-up reads, {USERS:,} users "
                 "in the SQLite online store, one process, no network.")


if __name__ == "__main__":
    main()
