"""Which components `dojo up` leaves to their first use, and what `dojo status` says of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from dojo.cli.stack import on_demand_note
from dojo.runtime.components import build_components
from dojo.runtime.stack import ON_DEMAND, ComponentState
from dojo.settings import Settings

AIRFLOW = {"airflow", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}


def _on_demand(settings: Settings) -> set[str]:
    return {c.name for c in build_components(settings, Path("/nonexistent/tansu"))
            if c.on_demand}


def test_airflow_is_on_demand_by_default_and_with_stack_starts_it_with_the_rest() -> None:
    assert _on_demand(Settings()) == AIRFLOW
    assert _on_demand(Settings(airflow_start="with-stack")) == set()


def test_a_bad_start_mode_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOJO_AIRFLOW_START", "lazy")
    with pytest.raises(ValueError, match="airflow_start"):
        Settings()


def test_status_says_which_components_wait_for_their_first_use() -> None:
    states = [ComponentState("mlflow", "MLflow", "http://x", "healthy", ""),
              ComponentState("airflow", "Airflow", "http://y", ON_DEMAND, "")]
    note = on_demand_note(states)
    assert "airflow" in note and "mlflow" not in note and "dojo train" in note
    assert on_demand_note(states[:1]) == ""
