"""The local runtime: the supervised stack of processes and what it needs to run them.

Owns: the component table, supervisord, health checks, ports, the side-by-side sandbox, the
broker binary, Kafka topic administration, the Airflow process configuration, the Prometheus
and Alertmanager configs with their alert rules (`templates/`), the doctor, the launch
commands of the broker and MLflow, and the one poll-until-deadline helper.

Imports: `dojo.settings` and `dojo.contracts` only. It never imports a domain package
(synthetic, ingestion, features, training, serving, monitoring) nor the teaching layer: those
run *on* the runtime. The Airflow scheduler's preload list is derived from the DAG files'
source (`runtime.airflow.preload_modules`), so no training module is named here either.
"""
