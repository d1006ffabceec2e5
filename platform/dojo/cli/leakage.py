"""`dojo leakage`: train the same model on a naive join and on a point-in-time join, print AUCs."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit


def leakage(
    test_fraction: Annotated[float, typer.Option(
        "--test-fraction", min=0.1, max=0.5,
        help="Newest share of labelled rows (by time) held out for the AUC.")] = 0.3,
    max_rows: Annotated[int | None, typer.Option(
        "--max-rows", min=100, help="Use only the newest N labelled rows (default: all).",
    )] = None,
) -> None:
    """Show what a join that ignores time does to offline AUC (lab 18)."""
    from dojo.features.store import quiet_feast_warnings

    quiet_feast_warnings()
    from dojo.features.batch import build_feature_tables
    from dojo.features.leakage import compare
    from dojo.features.store import apply_definitions

    settings = settings_or_exit()
    report_build = build_feature_tables(settings)
    if report_build.raw_events == 0:
        raise fail("the offline store has no transactions: run `dojo generate history` first")
    store = apply_definitions(settings)
    try:
        report = compare(settings, store, test_fraction=test_fraction, max_rows=max_rows)
    except ValueError as error:
        raise fail(str(error)) from None
    console.print(
        f"{report.rows:,} labelled transactions ({report.frauds:,} fraud); logistic regression "
        f"trained on the oldest {report.train_rows:,}, ROC AUC on the newest "
        f"{report.rows - report.train_rows:,}. Naive join = each key's newest row as of "
        f"{report.built_as_of:%Y-%m-%d %H:%M} UTC.", soft_wrap=True,
    )
    table = Table(title="offline AUC: naive join vs point-in-time join")
    table.add_column("features")
    table.add_column("naive join", justify="right")
    table.add_column("point-in-time join", justify="right")
    table.add_column("naive model on point-in-time rows", justify="right")
    for row in report.aucs:
        table.add_row(f"{row.features} ({row.columns})", f"{row.naive_offline:.3f}",
                      f"{row.pit_offline:.3f}", f"{row.naive_on_pit:.3f}")
    console.print(table)
    naive_rate, pit_rate = report.frauds_with_rate
    differs = ", ".join(f"{name} {share:.0%}" for name, share in report.differs.items())
    console.print(f"rows where the naive value differs from the point-in-time value: {differs}",
                  soft_wrap=True)
    console.print(f"fraud rows with merchant_fraud_rate > 0: naive {naive_rate:,} of "
                  f"{report.frauds:,}, point-in-time {pit_rate:,} of {report.frauds:,}",
                  soft_wrap=True)
    gaps = ", ".join(f"{row.features} {row.naive_offline - row.naive_on_pit:+.3f}"
                     for row in report.aucs)
    console.print(f"naive offline AUC minus the same model's AUC on point-in-time rows: {gaps}",
                  soft_wrap=True)


if __name__ == "__main__":  # `python -m dojo.cli.leakage` until `dojo leakage` is wired in main.py
    typer.run(leakage)
