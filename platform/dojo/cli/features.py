"""`dojo features apply|materialize|get|freshness|parity|compact`: the feature store from the
terminal."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table

from dojo.cli.common import console, fail, settings_or_exit

app = typer.Typer(
    name="features",
    help="Feast feature store: register definitions, build and materialize, read, check age.",
    no_args_is_help=True,
)


def _quiet_feast() -> None:
    from dojo.features.store import quiet_feast_warnings  # imports Feast: only when used

    quiet_feast_warnings()


@app.command()
def apply() -> None:
    """Register the feature repo's definitions (entities, views, service) in the registry."""
    _quiet_feast()
    from dojo.features.store import apply_definitions

    settings = settings_or_exit()
    store = apply_definitions(settings)
    console.print(f"applied feature repo [bold]{settings.feature_repo}[/] "
                  f"(project {store.project}, online store {settings.online_store})")


@app.command()
def materialize(
    incremental: Annotated[bool, typer.Option(
        "--incremental", help="Continue from the previous materialization instead of all rows.",
    )] = False,
    skip_build: Annotated[bool, typer.Option(
        "--skip-build", help="Use the existing feature tables; do not rebuild them.",
    )] = False,
) -> None:
    """Rebuild the feature tables from the offline store, then load them into the online store."""
    _quiet_feast()
    from dojo.features.batch import build_feature_tables
    from dojo.features.batch import materialize as run_materialize
    from dojo.features.store import apply_definitions

    settings = settings_or_exit()
    if not skip_build:
        report = build_feature_tables(settings)
        if report.raw_events == 0:
            raise fail("the offline store has no transactions: run `dojo generate history` first")
        console.print(f"built feature tables from {report.raw_events:,} raw events: "
                      f"{report.user_rows:,} user rows, {report.merchant_rows:,} merchant rows")
    store = apply_definitions(settings)
    start, end = run_materialize(store, incremental=incremental)
    console.print(f"materialized {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC into "
                  f"the {settings.online_store} online store")


@app.command()
def get(
    user_id: Annotated[str, typer.Argument(help="The user to read features for.")],
    merchant_id: Annotated[str | None, typer.Option(
        "--merchant-id", help="Also read this merchant's features.")] = None,
    amount: Annotated[float | None, typer.Option(
        "--amount", help="Transaction amount, to compute the on-demand ratio too.")] = None,
) -> None:
    """Read a user's online features (with --merchant-id and --amount: the whole fraud_model)."""
    _quiet_feast()
    from dojo.features import spec
    from dojo.features.store import open_store

    settings = settings_or_exit()
    store = open_store(settings)
    row: dict[str, object] = {spec.USER_ENTITY_KEY: user_id}
    if merchant_id is not None and amount is not None:
        features: object = store.get_feature_service(spec.FEATURE_SERVICE)
        row.update({spec.MERCHANT_ENTITY_KEY: merchant_id, "amount": amount})
    else:
        features = spec.user_feature_refs()
        if merchant_id is not None:
            row[spec.MERCHANT_ENTITY_KEY] = merchant_id
            features += [f"{spec.MERCHANT_FEATURE_VIEW}:{n}" for n in spec.MERCHANT_FEATURES]
    values = store.get_online_features(features=features, entity_rows=[row]).to_dict()
    table = Table(title=f"online features of {user_id}")
    table.add_column("feature")
    table.add_column("value", justify="right")
    missing = 0
    known = [*row, *spec.USER_FEATURES, *spec.MERCHANT_FEATURES]
    order = sorted(values, key=lambda n: known.index(n) if n in known else len(known))
    for name in order:
        value = values[name][0]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            missing += name not in row
            value = "[dim]missing[/]"
        table.add_row(name, str(value))
    console.print(table)
    if missing and missing >= len(values) - len(row):
        raise fail(f"no online features for {user_id}: is `dojo stream` running, or was "
                   "`dojo features materialize` run?")


@app.command()
def freshness() -> None:
    """How old the newest online row of each feature view is, next to the batch tables."""
    _quiet_feast()
    from dojo.features.freshness import view_freshness
    from dojo.features.store import open_store

    settings = settings_or_exit()
    now = datetime.now(UTC)
    table = Table(title="feature freshness (UTC)")
    table.add_column("view", no_wrap=True)
    for column in ("entities", "newest online", "age", "newest batch", "materialized to"):
        table.add_column(column)
    for item in view_freshness(settings, open_store(settings)):
        age = item.age_s(now)
        table.add_row(
            item.view,
            "?" if item.online_entities is None else f"{item.online_entities:,}",
            _stamp(item.newest_online), "?" if age is None else _duration(age),
            _stamp(item.newest_offline), _stamp(item.last_materialized_to),
        )
        if item.note:
            console.print(f"[dim]{item.view}: {item.note}[/]")
    console.print(table)


@app.command()
def parity(
    sample: Annotated[int, typer.Option(
        "--sample", min=1, max=10_000, help="How many of the most recently active users.")] = 200,
) -> None:
    """Online rows vs features recomputed from the offline store, for recently active users."""
    _quiet_feast()
    from dojo.features.parity import online_vs_offline
    from dojo.features.store import open_store

    settings = settings_or_exit()
    result = online_vs_offline(settings, open_store(settings), sample=sample)
    if result.mismatches:
        table = Table(title="online differs from offline (first 10)")
        for column in ("user", "feature", "online", "recomputed"):
            table.add_column(column)
        for item in result.mismatches[:10]:
            table.add_row(item.user_id, item.feature, f"{item.online:g}", f"{item.offline:g}")
        console.print(table)
        raise fail(f"training/serving skew: {len(result.differing_users)} of {result.compared} "
                   "users differ (features recomputed from the offline store with the shared "
                   "transform). Look for another writer of the online store.")
    if not result.compared:
        raise fail(f"nothing to compare: none of the {result.skipped} most recently active users "
                   "has an online row at its newest event (is `dojo stream` running?)")
    console.print(f"online equals offline for {result.compared} recently active users "
                  f"({result.skipped} skipped: no online row yet, or one newer than the offline "
                  "store). Next: `dojo features freshness`.")


@app.command()
def compact() -> None:
    """Merge the stream's per-batch offline files of each day the windows no longer see."""
    from dojo.features.state_rebuild import compact_closed_days

    settings = settings_or_exit()
    done = compact_closed_days(settings.offline_dir, settings.stream_allowed_lateness_s)
    for item in done:
        console.print(f"{item.day}: {len(item.inputs):,} files, {item.rows_in:,} rows -> "
                      f"{item.output} ({item.rows_out:,} rows)")
    console.print(f"compacted {len(done)} day(s); days inside the state horizon "
                  "(longest window + allowed lateness) are left as they are")


def _stamp(value: object) -> str:
    return "-" if value is None else f"{value:%m-%d %H:%M:%S}"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"
