"""mlops-dojo: a runnable MLOps platform for real-time card-fraud scoring.

The packages, lowest first (each may import only the ones before it; a test checks this):
`settings` and `contracts` (the event schemas and topic names) → `runtime` → `synthetic` →
`ingestion` → `features` → `training` → `serving` → `monitoring` → `teaching` → `cli`.
See docs/architecture.md.
"""
