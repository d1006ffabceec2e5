"""Write one benchmark's result as JSON and show it as a table (shared by every bench_*.py)."""

from __future__ import annotations

import json
import platform as pyplatform
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS = Path(__file__).resolve().parent / "results"


def report(name: str, baseline: str, rows: list[dict[str, Any]], notes: str = "",
           extra: dict[str, Any] | None = None) -> Path:
    """rows: {"measure", "value", "unit", "ratio" (vs the baseline, optional)}; ``extra``:
    more top-level keys for the JSON (e.g. a scaling table), not shown in the table."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "benchmark": name,
        "baseline": baseline,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": pyplatform.python_version(), "cpus": __import__("os").cpu_count()},
        "rows": rows,
        "notes": notes,
        **(extra or {}),
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2))
    table = Table(title=f"{name} (baseline: {baseline})")
    for column in ("measure", "value", "unit", "ratio vs baseline"):
        table.add_column(column, justify="right" if column != "measure" else "left")
    for row in rows:
        ratio = row.get("ratio")
        table.add_row(row["measure"], f"{row['value']:,.3f}", row.get("unit", ""),
                      "" if ratio is None else f"{ratio:,.2f}x")
    console = Console()
    console.print(table)
    if notes:
        console.print(notes)
    console.print(f"written to {path}")
    return path
