"""Names the training code, the DAG file, the CLI and the tests must agree on, defined once.

Why a module of its own: the DAG file is parsed by Airflow every 30 s and must import nothing
heavy, yet it has to use the same DAG id that `dojo train` triggers and the tests run.
"""

from __future__ import annotations

DAG_ID = "fraud_training"
# One seed for every random draw in training (model init, label shuffling, plot samples), so
# the same data gives the same model and the same metrics on every machine.
SEED = 0
