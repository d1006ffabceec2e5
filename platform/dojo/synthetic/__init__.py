"""The synthetic fraud world: vocabulary, population, fraud patterns, drift knobs, generator
and the producer that streams generated events to Kafka.

Owns: every generated transaction and label. Imports: settings, contracts and runtime only;
nothing in ingestion, features, training, serving, monitoring, teaching or the CLI.
Inside, imports point one way: vocabulary <- world <- fraud_patterns, drift <- generator.
"""
