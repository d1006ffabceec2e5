"""Features: the stream processor and its windowed state, batch feature tables, the Feast
store (definitions, online reads, materialization, freshness), point-in-time training sets
and the leakage demonstration.

Imports: settings, contracts, runtime, ingestion. Never training, serving, monitoring,
teaching or the CLI.
"""
