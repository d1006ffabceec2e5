"""Feast definitions of the fraud features: entities, sources, views, and the model's service.

Read by `feast apply` (this folder is a Feast feature repository) and by
`dojo.features.store.apply_definitions`. Column names and windows come from
`dojo.features.spec`, the module the batch builder and the stream processor also use, so the
definitions cannot drift from the code that fills them.

Paths: the parquet sources live under the offline store of the current settings (DOJO_HOME).
Feast stores the resolved path in the registry, and the registry lives under the same home,
so each home has a consistent pair.
"""

from datetime import timedelta

from feast import (
    Entity,
    FeatureService,
    FeatureView,
    Field,
    FileSource,
    PushSource,
    RequestSource,
    StreamFeatureView,
    ValueType,
)
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64

from dojo.features import spec
from dojo.features.store import definition_settings

_settings = definition_settings()

# [START entities]
# An entity is the key features are looked up by. `user` is the card holder: every windowed
# behaviour feature (velocity, spend, devices) describes one user's recent activity.
user = Entity(
    name="user",
    join_keys=[spec.USER_ENTITY_KEY],
    value_type=ValueType.STRING,
    description="Card holder; key of the per-user windowed features.",
)

# `merchant` is where the money goes: its reputation (share of confirmed fraud) is known only
# from labelled history, so it is a batch feature, not a streaming one.
merchant = Entity(
    name="merchant",
    join_keys=[spec.MERCHANT_ENTITY_KEY],
    value_type=ValueType.STRING,
    description="Merchant; key of the label-based reputation features.",
)
# [END entities]

# [START user_stream_features]
# The batch side of the user features: the table `dojo features materialize` rebuilds from the
# raw transactions with the same transform the stream processor runs. Feast reads it for
# training sets (point-in-time joins) and for materialization into the online store.
user_txn_batch_source = FileSource(
    name="user_txn_features_source",
    path=str(spec.user_features_path(_settings)),
    timestamp_field=spec.TIMESTAMP_COLUMN,
    created_timestamp_column=spec.CREATED_COLUMN,
    description="Per-user window features, one row per transaction instant.",
)

# A push source is Feast's entry point for rows computed outside Feast. The stream processor
# pushes each batch's newest row per user here (PushMode.ONLINE); the batch source above is
# where the same rows come from for history, since a push does not rewrite the parquet.
user_txn_push = PushSource(
    name=spec.USER_PUSH_SOURCE,
    batch_source=user_txn_batch_source,
    description="Fresh per-user window features from `dojo stream`.",
)

_user_schema = [Field(name=name, dtype=Int64) for name in spec.USER_COUNT_FEATURES] + [
    Field(name=name, dtype=Float64) for name in spec.USER_FLOAT_FEATURES
]

# A stream feature view: a feature view whose source is a stream (here the push source), so it
# is fed online by pushes and offline by the push source's batch source. The windows are
# computed in `dojo.features.windows` (not by Feast aggregations) so the stream and the batch
# build share one implementation.
# TTL 2 days: the longest window is 24 h; a row older than that plus a day of slack describes
# activity outside every window, so a training join returns null ("no recent activity")
# instead of an old burst count. (Online reads do not apply the TTL; `dojo features freshness`
# shows how old the online rows are.)
user_txn_features = StreamFeatureView(
    name=spec.USER_FEATURE_VIEW,
    entities=[user],
    ttl=timedelta(days=2),
    schema=_user_schema,
    source=user_txn_push,
    online=True,
    description="Per-user velocity, spend, diversity and device novelty on event time.",
    tags={"team": "fraud", "freshness": "stream"},
)
# [END user_stream_features]

# [START merchant_batch_features]
# Batch source of the merchant reputation table, rebuilt from labelled history.
merchant_label_source = FileSource(
    name="merchant_label_features_source",
    path=str(spec.merchant_features_path(_settings)),
    timestamp_field=spec.TIMESTAMP_COLUMN,
    description="Cumulative labelled count and fraud rate, one row per label arrival.",
)

# A batch feature view: materialized into the online store on a schedule.
# TTL 30 days: reputation moves slowly, but a merchant without a newly labelled transaction for
# a month has an estimate too stale to trust; null lets the model fall back to its prior.
merchant_label_features = FeatureView(
    name=spec.MERCHANT_FEATURE_VIEW,
    entities=[merchant],
    ttl=timedelta(days=30),
    schema=[
        Field(name="merchant_labelled_txn_count", dtype=Int64),
        Field(name="merchant_fraud_rate", dtype=Float64),
    ],
    source=merchant_label_source,
    online=True,
    description="Merchant fraud reputation from labels that had arrived by the row's time.",
    tags={"team": "fraud", "freshness": "batch"},
)
# [END merchant_batch_features]

# [START on_demand_features]
# Request data: values known only when a transaction is scored (not stored anywhere).
transaction_request = RequestSource(
    name="transaction_request",
    schema=[Field(name="amount", dtype=Float64)],
    description="The amount of the transaction being scored.",
)


# An on-demand feature view runs at read time, online and in training sets alike, so a ratio
# that needs the request's amount is computed by one function in both places. No TTL: it has
# no storage of its own and inherits the freshness of its inputs.
# mode="python" (plain lists, no DataFrame): an online read of the whole `fraud_model` service
# measured 0.42 ms p50 this way against 2.5 ms with mode="pandas"
# (benchmarks/bench_online_read.py), and the model server pays this on every request.
@on_demand_feature_view(
    sources=[user_txn_features, transaction_request],
    schema=[Field(name="amount_to_user_mean_24h", dtype=Float64)],
    mode="python",
    description="Transaction amount relative to the user's 24 h mean (NaN if unknown).",
)
def amount_vs_user_history(inputs: dict) -> dict:
    ratios = []
    for amount, mean in zip(inputs["amount"], inputs["amount_mean_24h"], strict=True):
        known = amount is not None and mean is not None and mean == mean and mean > 0
        ratios.append(float(amount) / float(mean) if known else float("nan"))
    return {"amount_to_user_mean_24h": ratios}
# [END on_demand_features]

# [START feature_service]
# A feature service is the versioned list of features one model consumes. Training
# (get_historical_features) and serving (get_online_features) both ask for `fraud_model`, so
# they cannot disagree on which features, in which views, the model sees.
fraud_model = FeatureService(
    name=spec.FEATURE_SERVICE,
    features=[user_txn_features, merchant_label_features, amount_vs_user_history],
    description="Features of the fraud model (training and serving).",
    tags={"model": "fraud"},
)
# [END feature_service]
