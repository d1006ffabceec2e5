"""Ingestion: getting events in and keeping them. Kafka clients with retry, the dead-letter
queue, the offline store (hive-partitioned parquet) and its one reader, the raw-event sink,
and Kafka inspection (lag, offsets, DLQ) for the labs and drills.

Imports: settings, contracts, runtime. Never features, training, serving, monitoring,
teaching or the CLI: the stream processor that computes features lives in `dojo.features`.
"""
