"""The progress file: records survive, writes are atomic, a corrupt file is a readable error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dojo.settings import Settings
from dojo.teaching.progress import (
    ProgressError,
    load_progress,
    record_drill,
    record_interview,
    record_lab,
)


def test_missing_file_is_empty_progress(tmp_path: Path) -> None:
    assert load_progress(tmp_path / "none.json") == {"labs": {}, "drills": {}, "interview": {}}


def test_records_accumulate_and_are_plain_json(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "progress.json"
    record_lab(path, "01", 12.345)
    record_drill(path, "broker-down", 30)
    record_interview(path, "01", 2)
    data = json.loads(path.read_text())
    assert data["labs"]["01"]["seconds"] == 12.3
    assert data["labs"]["01"]["verified_at"].endswith("+00:00")
    assert set(data["drills"]) == {"broker-down"} and set(data["interview"]) == {"01/Q2"}
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]  # no temp files left


@pytest.mark.parametrize("content", ["{not json", "[1, 2]"])
def test_corrupt_file_names_the_file(tmp_path: Path, content: str) -> None:
    path = tmp_path / "progress.json"
    path.write_text(content)
    with pytest.raises(ProgressError, match=str(path)):
        load_progress(path)


def test_progress_command_summarises_and_prints_json(isolated_env: Settings) -> None:
    import typer
    from typer.testing import CliRunner

    from dojo.cli.progress import progress

    app = typer.Typer()
    app.command()(progress)
    record_lab(isolated_env.progress_path, "01", 3.0)
    record_drill(isolated_env.progress_path, "broker-down", 40.0)
    shown = CliRunner().invoke(app, [])
    assert shown.exit_code == 0, shown.output
    assert "01 The whole pipeline" in shown.output and "fixed in 40.0 s" in shown.output
    assert "labs 1/" in shown.output
    raw = CliRunner().invoke(app, ["--json"])
    assert json.loads(raw.output)["labs"]["01"]["seconds"] == 3.0
