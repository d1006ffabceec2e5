"""Model monitoring (the Evidently drift monitor, its Prometheus metrics, the alert webhook
and drift-triggered retraining) arrives with the monitoring issue.

Will own: everything that watches predictions and late labels. May import every package
below it, serving included; must not import teaching or the CLI. Alert rules for Prometheus
live with its config in `dojo/runtime/templates/rules/`, where the runtime loads them.
"""
