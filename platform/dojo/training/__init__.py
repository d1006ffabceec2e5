"""Training: the steps of the `fraud_training` DAG (inputs, validation, training set, models,
evaluation, gates, publishing), MLflow tracking and the model registry, the algorithm sweep,
and the Airflow REST client `dojo train` uses.

Imports: settings, contracts, runtime, ingestion, features. Never serving, monitoring,
teaching or the CLI.
"""
