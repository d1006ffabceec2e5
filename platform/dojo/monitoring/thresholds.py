"""The numbers the model alerts fire on, in a module with no heavy imports.

Why their own module: `dojo doctor` reports the drift share and the PR-AUC ratio against the
same thresholds as the `DojoDataDrift` and `DojoPerformanceDrop` rules
(`dojo/runtime/templates/rules/monitoring.yml`), and the doctor must start fast, so it cannot
import the analysis module (pandas, numpy, Evidently) to learn two numbers. A unit test
(tests/unit/test_alert_rules.py) holds the rule file to these values.
"""

from __future__ import annotations

# Share of the model's features flagged as drifted at which DojoDataDrift fires (>=): one
# drifted feature out of eight is a look, a quarter of them a retrain.
DRIFT_SHARE_ALERT = 0.25
# Live PR-AUC below this share of the training PR-AUC counts as a performance drop
# (DojoPerformanceDrop fires on the exported ratio with the same number, <).
PERFORMANCE_DROP_RATIO = 0.8
