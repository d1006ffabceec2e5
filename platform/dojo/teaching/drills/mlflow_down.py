"""Drill: the MLflow tracking server is stopped. Training cannot log; serving cannot load."""

from __future__ import annotations

from dojo.teaching.drills._component_down import ComponentDown


class MlflowDown(ComponentDown):
    name = "mlflow-down"
    title = "The MLflow tracking server is down"
    component = "mlflow"
    symptom = (
        "The MLflow UI does not load, and `curl ${DOJO_TRACKING_URI}/health` gets no answer: "
        "training runs cannot log and the model registry is unreachable."
    )
    hints = (
        "Run `dojo doctor`: which line is red, and what does it say about the process?",
        "The tracking server's process is not running. `dojo logs mlflow` shows its last "
        "lines: did it crash on start (a database or port problem) or was it stopped?",
        "It was stopped, not broken: `dojo up` starts it again, health-gated. Then "
        "`curl ${DOJO_TRACKING_URI}/health` should answer OK.",
    )
    runbook = "labs/drills/mlflow-down.md"
