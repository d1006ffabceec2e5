"""How `make test` splits the suite over its two xdist workers (`work_unit` in tests/conftest)."""

from __future__ import annotations

from conftest import work_unit


def test_a_module_is_one_unit_whatever_its_parameters() -> None:
    assert work_unit("tests/integration/test_drills.py::test_drill[broker-down]") == \
        work_unit("tests/integration/test_drills.py::test_other") == \
        "tests/integration/test_drills.py"


def test_labs_alternate_between_two_chains_and_a_rerun_stays_with_its_lab() -> None:
    chains = {lab: work_unit(f"tests/labs/test_labs.py::test_lab_runs_green[{lab}]")
              for lab in ("01", "02", "20", "21")}
    assert chains["01"] == chains["21"] != chains["02"] == chains["20"]
    assert work_unit("tests/labs/test_labs.py::test_lab_runs_green[01-again]") == chains["01"]
