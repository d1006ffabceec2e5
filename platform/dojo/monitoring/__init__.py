"""Model monitoring: the drift monitor, its Prometheus metrics, the retrain webhook, SLOs.

Owns everything that watches predictions and late labels. May import every package below it,
serving included; must not import teaching or the CLI. Alert rules for Prometheus live with
its config in `dojo/runtime/templates/rules/`, where the runtime loads them.

The data path: intake_loop (Kafka) -> window (SQLite) -> analysis (Evidently, PSI from
profile, quality, performance; reference from MLflow) -> reports + metrics, in service.
retrain handles Alertmanager's webhook; slo reads SLOs from Prometheus.
"""
