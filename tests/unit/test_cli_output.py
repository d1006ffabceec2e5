"""`dojo` output does not depend on the width of whoever runs it (issue 10, defect 2).

Why: a lab check reads a command's table; Rich used to take $COLUMNS or fall back to 80
columns when there is no terminal, so `make lab-02` passed in a wide terminal and failed in an
80-column one or in CI.
"""

from __future__ import annotations

import io

import pytest

from dojo.cli.common import PIPED_WIDTH, make_console, output_width


@pytest.mark.parametrize("columns", ["40", "80", "300"])
def test_piped_output_has_one_width_whatever_columns_says(
    columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr("sys.stdout", io.StringIO())  # not a terminal, as in CI or a lab step
    monkeypatch.setattr("sys.stderr", io.StringIO())
    assert make_console().width == PIPED_WIDTH
    assert make_console(stderr=True).width == PIPED_WIDTH


def test_a_wide_table_keeps_one_line_per_row_when_piped(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.table import Table

    monkeypatch.setenv("COLUMNS", "80")
    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    table = Table("algorithm", "PR-AUC", "ROC-AUC", "recall@P", "fit s", "p95 ms", "MB", "run id")
    table.add_row("random_forest", "0.923", "0.998", "0.837", "1.066", "14.573", "1.410",
                  "96009a3bf0034b7daa1dbc4a0123")
    make_console().print(table)
    assert len(out.getvalue().splitlines()) == 5  # top, header, rule, row, bottom


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_its_own_width() -> None:
    assert output_width(_Terminal()) is None  # Rich asks the terminal, as people expect
    assert output_width(io.StringIO()) == PIPED_WIDTH
