"""The model server: FastAPI app, model loading and routing, prediction log, LRU cache, limiter.

Scores a transaction with the `champion` (and the `challenger` in shadow or canary mode) from
the MLflow registry on online features. May import: settings, contracts, runtime, ingestion,
features, and the registry side of training. Must not import monitoring, teaching or the CLI.
"""
