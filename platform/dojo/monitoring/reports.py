"""Every monitor run's report on disk, an index of them, and the newest one.

Layout under `$DOJO_HOME/monitor/reports/`:
  <run_id>/summary.json    the run's numbers (what `dojo monitor report` prints)
  <run_id>/summary.html    one page: drift with PSI bands, quality, performance
  <run_id>/evidently.html  Evidently's own report (self-contained, no external scripts)
  index.html               every kept run, newest first, linking to both pages

Why a page of our own next to Evidently's: Evidently's report has no PSI bands and no
comparison with the training metrics; the summary puts the numbers a reviewer asks for on one
page and links to Evidently's plots for the detail. Only the newest `monitor_reports_kept`
runs are kept (Evidently's page is a few MB).
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

from dojo.monitoring.analysis import RunResult
from dojo.settings import Settings

SUMMARY_JSON, SUMMARY_HTML, EVIDENTLY_HTML, INDEX = (
    "summary.json", "summary.html", "evidently.html", "index.html")


def reports_dir(settings: Settings) -> Path:
    return settings.home / "monitor" / "reports"


def run_dir(settings: Settings, run_id: str) -> Path:
    return reports_dir(settings) / run_id


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _summary_html(data: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f"<tr class='{'drift' if f['drifted'] else ''}'><td>{e(f['feature'])}</td>"
        f"<td>{e(f['method'])}</td><td>{_fmt(f['score'])}</td>"
        f"<td>{'DRIFT' if f['drifted'] else 'ok'}</td><td>{_fmt(f['psi'])}</td>"
        f"<td>{e(f['psi_band'] or '-')}</td></tr>"
        for f in [*data["features"], *([data["prediction"]] if data["prediction"] else [])])
    quality = "".join(
        f"<tr><td>{e(name)}</td><td>{_fmt(q.get('missing_share'))}</td>"
        f"<td>{_fmt(q.get('out_of_range_share'))}</td>"
        f"<td>{e(', '.join(q.get('new_categories', [])) or '-')}</td></tr>"
        for name, q in data["quality"].items())
    perf = data.get("performance") or {}
    performance = (
        f"<p>{perf.get('labelled', 0)} labelled predictions ({perf.get('positives', 0)} frauds)."
        f" PR-AUC {_fmt(perf.get('pr_auc'))} (training {_fmt(perf.get('training_pr_auc'))});"
        f" recall at the operating precision {_fmt(perf.get('recall_at_precision'))} (training "
        f"{_fmt(perf.get('training_recall_at_precision'))}). {e(perf.get('note', ''))}"
        f"{' <b>PERFORMANCE DROP</b>' if perf.get('dropped') else ''}</p>")
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>drift report {e(data['run_id'])}</title><style>
body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:3px 8px}} tr.drift{{background:#fdd}}</style></head><body>
<h1>Drift report {e(data['run_id'])}</h1>
<p>champion v{e(str(data['champion_version']))}, {data['rows']} predictions in the window,
status: {e(data['status'])}. Drifted features: <b id="drifted">{e(', '.join(data['drifted'])
or 'none')}</b> (share {data['drift_share']:.2f}).
<a href="{EVIDENTLY_HTML}">Evidently's report</a> | <a href="../{INDEX}">all runs</a></p>
<h2>Drift per feature (PSI: &lt;0.1 stable, 0.1-0.2 moderate, &gt;0.2 major)</h2>
<table><tr><th>feature</th><th>method</th><th>score</th><th>drift</th><th>PSI</th>
<th>band</th></tr>{rows}</table>
<h2>Data quality</h2><table><tr><th>feature</th><th>missing</th><th>out of range</th>
<th>new categories</th></tr>{quality}</table>
<h2>Performance</h2>{performance}</body></html>"""


def save(settings: Settings, result: RunResult) -> Path:
    """Write the run's summary (the Evidently page is already there), refresh the index."""
    directory = run_dir(settings, result.run_id)
    directory.mkdir(parents=True, exist_ok=True)
    data = result.to_dict()
    (directory / SUMMARY_JSON).write_text(json.dumps(data, indent=1))
    (directory / SUMMARY_HTML).write_text(_summary_html(data))
    runs = sorted((p for p in reports_dir(settings).iterdir() if (p / SUMMARY_JSON).exists()),
                  reverse=True)
    for old in runs[settings.monitor_reports_kept:]:
        shutil.rmtree(old, ignore_errors=True)
    _write_index(settings, runs[:settings.monitor_reports_kept])
    return directory


def _write_index(settings: Settings, runs: list[Path]) -> None:
    lines = []
    for run in runs:
        data = json.loads((run / SUMMARY_JSON).read_text())
        perf = data.get("performance") or {}
        evidently = (f"<a href='{run.name}/{EVIDENTLY_HTML}'>Evidently</a>"
                     if (run / EVIDENTLY_HTML).exists() else "-")
        lines.append(
            f"<tr><td><a href='{run.name}/{SUMMARY_HTML}'>{run.name}</a></td>"
            f"<td>v{html.escape(str(data['champion_version']))}</td><td>{data['rows']}</td>"
            f"<td>{data['drift_share']:.2f}</td>"
            f"<td>{html.escape(', '.join(data['drifted']) or '-')}</td>"
            f"<td>{_fmt(perf.get('pr_auc'))}</td><td>{html.escape(data['status'])}</td>"
            f"<td>{evidently}</td></tr>")
    (reports_dir(settings) / INDEX).write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>drift reports</title></head>"
        "<body><h1>Drift monitor runs</h1><table border=1><tr><th>run</th><th>champion</th>"
        "<th>rows</th><th>drift share</th><th>drifted</th><th>PR-AUC</th><th>status</th>"
        f"<th>detail</th></tr>{''.join(lines)}</table></body></html>")


def newest(settings: Settings) -> dict[str, Any] | None:
    """The newest run's summary (with its directory under `dir`), or None before any run."""
    root = reports_dir(settings)
    if not root.is_dir():
        return None
    runs = sorted((p for p in root.iterdir() if (p / SUMMARY_JSON).exists()), reverse=True)
    if not runs:
        return None
    return {**json.loads((runs[0] / SUMMARY_JSON).read_text()), "dir": str(runs[0])}
