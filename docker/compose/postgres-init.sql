-- Airflow's metadata database, next to MLflow's (POSTGRES_DB); runs once on an empty volume.
CREATE DATABASE airflow OWNER dojo;
