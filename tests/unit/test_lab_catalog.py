"""The lab catalog: lab.yaml validation, and the real labs/ folder kept in one piece with the
README text (every command the runner executes is printed verbatim in the lab's README)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dojo.teaching.labs.catalog import (
    LABS_DIR,
    CatalogError,
    Lab,
    find_lab,
    load_catalog,
    load_lab,
    normalise_id,
)

PLANNED_LAB_COUNT = 21
README_SECTIONS = (
    "In this lab you will", "## Prerequisites", "## Steps", "## What just happened",
    "## Verify", "## Break it", "## Interview questions", "## Clean up", "\nNext: [",
)


def write_lab(root: Path, folder: str, text: str) -> Path:
    path = root / folder
    path.mkdir(parents=True)
    (path / "lab.yaml").write_text(text)
    return path


VALID = """
id: "01"
title: Echo
needs: []
status: ready
steps:
  - name: say hi
    run: echo hi
    shows: a step prints
    expect: {output: "^hi$", within: 5, http: {url: "http://x/${DOJO_HOST}"}}
"""


def test_valid_lab_loads_with_defaults(tmp_path: Path) -> None:
    folder = write_lab(tmp_path, "01-echo", VALID)
    lab = load_lab(folder)
    assert (lab.id, lab.title, lab.ready, lab.path) == ("01", "Echo", True, folder)
    step = lab.steps[0]
    assert step.expect.exit == 0 and step.expect.http.status == 200
    assert step.expect.within == 5 and step.timeout == 120


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("id: '01'\ntitle: x\nstatus: ready\nsteps: []", "no steps"),
        ("id: '01'\ntitle: x\nneeds: [gpu]", "needs.0"),
        ("id: '01'\ntitle: x\nstatus: done", "status"),
        ("id: '01'\ntitle: x\nsteps: [{name: a, run: b, expect: {exitt: 1}}]", "exitt"),
        ("id: '01'\ntitle: x\nsteps: [{name: a, run: b, expect: {output: '(['}}]", "regex"),
        ("id: '02'\ntitle: x", "does not match the folder"),
        ("id: one\ntitle: x", "lab number"),
        ("- just a list", "expected a mapping"),
        ("id: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_lab_names_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    folder = write_lab(tmp_path, "01-bad", text)
    with pytest.raises(CatalogError, match=re.escape(message)) as caught:
        load_lab(folder)
    assert str(folder / "lab.yaml") in str(caught.value)


def test_find_lab_accepts_loose_numbers_and_lists_known(tmp_path: Path) -> None:
    write_lab(tmp_path, "01-echo", VALID)
    assert find_lab("1", tmp_path).id == "01"
    assert find_lab("lab-01", tmp_path).id == "01"
    with pytest.raises(CatalogError, match=r"no lab 07 .*labs: 01"):
        find_lab("07", tmp_path)
    with pytest.raises(CatalogError, match="not a lab number"):
        normalise_id("seven")


# --- the real labs/ folder ---------------------------------------------------------------
CATALOG = load_catalog(LABS_DIR)
READY = [lab for lab in CATALOG if lab.ready]


def test_every_lab_of_the_design_is_listed() -> None:
    assert [lab.id for lab in CATALOG] == [f"{n:02d}" for n in range(1, PLANNED_LAB_COUNT + 1)]
    assert READY, "at least lab 01 is ready"


def test_index_lists_every_lab_and_says_which_are_not_built() -> None:
    index = (LABS_DIR / "README.md").read_text()
    for lab in CATALOG:
        row = next((line for line in index.splitlines()
                    if line.startswith(f"| {lab.id} ") and lab.path.name in line), None)
        assert row is not None, f"labs/README.md has no row for {lab.path.name}"
        assert ("not built yet" in row) == (not lab.ready), row


def test_day_by_day_table_maps_each_plan_day_to_its_lab_with_its_status() -> None:
    index = (LABS_DIR / "README.md").read_text()
    rows = re.findall(r"^\| (\d{1,2}) \| [^|]+ \| \[(\d\d)\]\(([^)/]+)/\) \| ([^|]+) \|$",
                      index, flags=re.MULTILINE)
    assert [int(day) for day, *_ in rows] == list(range(1, PLANNED_LAB_COUNT + 1))
    for day, lab_id, folder, status in rows:
        lab = find_lab(lab_id, LABS_DIR)
        assert lab.path.name == folder and int(day) == int(lab_id)
        assert status.startswith("ready") == lab.ready, f"day {day}: {status}"


@pytest.mark.parametrize("lab", READY, ids=[lab.id for lab in READY])
def test_every_step_is_printed_verbatim_in_the_readme(lab: Lab) -> None:
    readme = lab.readme.read_text()
    for step in lab.steps:
        assert step.run.strip() in readme, f"step {step.name!r} of lab {lab.id} is not in README"


@pytest.mark.parametrize("lab", READY, ids=[lab.id for lab in READY])
def test_ready_readme_follows_the_template(lab: Lab) -> None:
    readme = lab.readme.read_text()
    positions = [readme.find(section) for section in README_SECTIONS]
    assert all(p >= 0 for p in positions), dict(zip(README_SECTIONS, positions, strict=True))
    assert positions == sorted(positions), "sections out of the template's order"
    assert "```text" in readme, "steps show their expected output in text blocks"


@pytest.mark.parametrize("lab", READY, ids=[lab.id for lab in READY])
def test_readme_links_point_at_real_files(lab: Lab) -> None:
    readme = lab.readme.read_text()
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme):
        if target.startswith("http"):
            continue
        assert (lab.path / target).resolve().exists(), f"broken link {target} in {lab.readme}"
