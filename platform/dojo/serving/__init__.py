"""Model serving (the FastAPI model server, its routing, prediction log, model cache and rate
limiter) arrives with the serving issue.

Will own: scoring a transaction with the `champion` (and `challenger`) from the MLflow
registry on online features. May import: settings, contracts, runtime, ingestion, features,
and the registry side of training. Must not import monitoring, teaching or the CLI.
"""
