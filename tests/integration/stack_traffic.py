"""Put the session stack to work: a champion in its registry, scoring traffic on its server."""

from __future__ import annotations

import collections
from datetime import date

import httpx
import typer
from typer.testing import CliRunner

from dojo.ingestion.offline_store import write_transactions
from dojo.runtime.waiting import wait_until
from dojo.settings import Settings
from dojo.synthetic.generator import generate_history, generate_live
from dojo.training import tracking


def champion(settings: Settings) -> str | None:
    return tracking.alias_version(tracking.client(settings), settings.registered_model,
                                  tracking.CHAMPION)


def write_june_history(settings: Settings) -> None:
    """Three weeks of June 2025 (no other test writes those dates); rewriting is idempotent."""
    write_transactions(generate_history(rows=24_000, days=21, seed=6,
                                        start_date=date(2025, 6, 1)), settings.offline_dir)


def ensure_champion(settings: Settings, start: str, end: str) -> str:
    """The registry's champion; trains the interval [start, end) of the June history through
    Airflow if none exists (the first version that passes the gates becomes champion)."""
    from dojo.cli.train import train

    write_june_history(settings)
    if champion(settings) is None:
        app = typer.Typer()
        app.command()(train)
        result = CliRunner().invoke(app, ["--start", start, "--end", end, "--timeout", "900"],
                                    catch_exceptions=False)
        assert champion(settings) is not None, result.output
    found = champion(settings)
    assert found is not None
    return found


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/ready", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def score(settings: Settings, count: int, seed: int, prefix: str) -> dict[int, int]:
    """POST ``count`` live transactions to /predict; answers by status code."""
    base = f"http://{settings.host}:{settings.serving_port}"
    # a champion trained a moment ago is loaded at the server's next alias poll
    ready = wait_until(lambda: _ready(base), 120, first_pause_s=0.5, max_pause_s=2.0)
    assert ready.ok, f"the model server at {base} did not become ready"
    url = f"{base}/predict"
    rows = generate_live(count, seed=seed).drop(columns=["is_fraud", "fraud_pattern"])
    rows["transaction_id"] = prefix + rows["transaction_id"]
    statuses: dict[int, int] = collections.Counter()
    with httpx.Client(timeout=30) as client:
        for event in rows.to_dict("records"):
            event["ts"] = event["ts"].isoformat()
            statuses[client.post(url, json=event).status_code] += 1
    return dict(statuses)
