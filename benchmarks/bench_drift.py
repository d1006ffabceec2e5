"""One drift-monitor run on 50,000 and 200,000 rows x the model's 14 features (+ the score).

Baseline (same run, same columns, same rows): numpy/scipy computing the same per-column
statistics the run reports: normed Wasserstein distance for numbers, Jensen-Shannon distance
for categories, and PSI. The ratio is what Evidently costs on top of the statistics themselves.

Measured separately, because they are separate costs: Evidently's computation (`Report.run`),
writing its HTML page, and the whole monitor run (`dojo.monitoring.analysis.analyse`: Evidently,
PSI from the precomputed profile, quality, performance, the HTML). And the monitor's default:
the reference side sampled to DOJO_MONITOR_REFERENCE_ROWS (5,000) rows while the window is used
whole. Peak memory is traced (tracemalloc, which numpy reports to) in a second pass, so tracing
does not slow the timed pass. Budget from the issue: at most 3x the baseline's time, and 200k
rows in under 10 s on 2 cores.
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon
from scipy.stats import wasserstein_distance

from _report import report
from dojo.features import spec
from dojo.features.windows import compute_user_features
from dojo.monitoring import analysis
from dojo.monitoring.profile import build_profile, psi_per_feature
from dojo.monitoring.reference import SCORE, Reference, build_reference
from dojo.synthetic.drift import DriftConfig
from dojo.synthetic.generator import generate_history
from dojo.training.dataset import CATEGORICAL, LABEL, REQUEST_COLUMNS

FEATURES = [*REQUEST_COLUMNS, *spec.USER_FEATURES]
SIZES = (50_000, 200_000)
SAMPLED_REFERENCE = 5_000  # DOJO_MONITOR_REFERENCE_ROWS
WINDOW_SAMPLE = 50_000  # DOJO_MONITOR_EVIDENTLY_MAX_ROWS
REPEATS = 2


def featured(rows: int, seed: int, drift: DriftConfig | None = None) -> pd.DataFrame:
    events = generate_history(rows=rows, days=7, seed=seed, users=rows // 10,
                              drift=drift or DriftConfig())
    feats = compute_user_features(events, one_row_per_instant=False)
    events = events.sort_values(["user_id", "ts"], kind="stable").reset_index(drop=True)
    frame = events[[*REQUEST_COLUMNS, LABEL]].copy()
    for name in spec.USER_FEATURES:
        frame[name] = feats[name].to_numpy()
    # a score with the spread of a fraud model's (most near 0, a tail towards 1)
    z = np.log1p(frame["amount"].to_numpy()) * 0.8 + frame["txn_count_10m"].to_numpy() * 0.5
    frame[SCORE] = 1.0 / (1.0 + np.exp(-(z - 8.0)))
    return frame


def baseline(reference: pd.DataFrame, current: pd.DataFrame) -> dict[str, float]:
    """The same per-column statistics with numpy/scipy only (bins computed here, each time)."""
    out: dict[str, float] = {}
    numeric = [c for c in [*FEATURES, SCORE] if c not in CATEGORICAL]
    for column in numeric:
        ref = reference[column].to_numpy(float)
        cur = current[column].to_numpy(float)
        std = ref.std() or 1.0
        out[column] = wasserstein_distance(ref, cur) / std  # Evidently's "normed" variant
        edges = np.unique(np.quantile(ref, np.linspace(0, 1, 11)[1:-1]))
        r = np.bincount(np.searchsorted(edges, ref, side="right"), minlength=len(edges) + 1)
        c = np.bincount(np.searchsorted(edges, cur, side="right"), minlength=len(edges) + 1)
        r, c = np.maximum(r / r.sum(), 1e-4), np.maximum(c / c.sum(), 1e-4)
        out[f"psi:{column}"] = float(np.sum((c - r) * np.log(c / r)))
    for column in CATEGORICAL:
        keys = sorted(set(reference[column]) | set(current[column]))
        r = reference[column].value_counts(normalize=True).reindex(keys, fill_value=0.0)
        c = current[column].value_counts(normalize=True).reindex(keys, fill_value=0.0)
        out[column] = float(jensenshannon(r.to_numpy(), c.to_numpy()))
    return out


def make_reference(frame: pd.DataFrame, sample_rows: int) -> Reference:
    return build_reference("1", "bench", frame, FEATURES, frame[SCORE].to_numpy(),
                           {"pr_auc": 0.9, "recall_at_precision": 0.7}, sample_rows)


def timed(fn: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEATS):
        gc.collect()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_mb(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def measure(n: int) -> tuple[list[dict], str]:
    """Every row of one size, and its one-line note."""
    ref_frame = featured(n, seed=1)
    cur_frame = featured(n, seed=2, drift=DriftConfig(amount_shift=1.5))
    full = make_reference(ref_frame, n)
    sampled = make_reference(ref_frame, SAMPLED_REFERENCE)
    current = analysis._coerce(full, cur_frame)
    window = cur_frame.assign(**{LABEL: cur_frame[LABEL].astype(float)})
    numeric = [c for c in FEATURES if c not in CATEGORICAL]
    with tempfile.TemporaryDirectory() as tmp:
        def run(ref: Reference, max_rows: int | None = None) -> None:
            analysis.analyse(ref, window, min_rows=100, min_labelled=100,
                             precision_target=0.9, report_dir=Path(tmp),
                             evidently_max_rows=max_rows)

        base_s = timed(lambda: baseline(ref_frame, cur_frame))
        evidently_s = timed(lambda: analysis._evidently(full, current))
        snapshot, _ = analysis._evidently(full, current)
        html_s = timed(lambda: snapshot.save_html(str(Path(tmp) / "x.html")))
        html_mb = (Path(tmp) / "x.html").stat().st_size / 1e6
        run_s = timed(lambda: run(full))
        sampled_s = timed(lambda: run(sampled))
        default_s = timed(lambda: run(sampled, WINDOW_SAMPLE))
        psi_s = timed(lambda: psi_per_feature(full.profile, current))
        profile_s = timed(lambda: build_profile(ref_frame, numeric, list(CATEGORICAL)))
        base_mb = peak_mb(lambda: baseline(ref_frame, cur_frame))
        evidently_mb = peak_mb(lambda: analysis._evidently(full, current))
        sampled_mb = peak_mb(lambda: run(sampled))
        default_mb = peak_mb(lambda: run(sampled, WINDOW_SAMPLE))
    k = f"{n // 1000}k rows"
    rows = [
        {"measure": f"{k}: numpy/scipy baseline (same statistics)", "value": base_s,
         "unit": "s", "ratio": 1.0},
        {"measure": f"{k}: Evidently Report.run (full reference)", "value": evidently_s,
         "unit": "s", "ratio": evidently_s / base_s},
        {"measure": f"{k}: Evidently save_html", "value": html_s, "unit": "s",
         "ratio": html_s / base_s},
        {"measure": f"{k}: whole monitor run, full reference", "value": run_s, "unit": "s",
         "ratio": run_s / base_s},
        {"measure": f"{k}: whole monitor run, reference sampled to 5k (default)",
         "value": sampled_s, "unit": "s", "ratio": sampled_s / base_s},
        {"measure": f"{k}: whole monitor run as configured by default (reference 5k, "
                    f"Evidently on at most {WINDOW_SAMPLE // 1000}k window rows)",
         "value": default_s, "unit": "s", "ratio": default_s / base_s},
        {"measure": f"{k}: PSI from the precomputed profile", "value": psi_s, "unit": "s",
         "ratio": psi_s / base_s},
        {"measure": f"{k}: profile build (once per champion)", "value": profile_s,
         "unit": "s", "ratio": profile_s / base_s},
        {"measure": f"{k}: peak memory, baseline", "value": base_mb, "unit": "MB",
         "ratio": 1.0},
        {"measure": f"{k}: peak memory, Evidently Report.run", "value": evidently_mb,
         "unit": "MB", "ratio": evidently_mb / base_mb},
        {"measure": f"{k}: peak memory, monitor run (sampled reference)",
         "value": sampled_mb, "unit": "MB", "ratio": sampled_mb / base_mb},
        {"measure": f"{k}: peak memory, monitor run as configured by default",
         "value": default_mb, "unit": "MB", "ratio": default_mb / base_mb},
        {"measure": f"{k}: Evidently HTML size", "value": html_mb, "unit": "MB"},
    ]
    note = (f"{k}: Evidently {evidently_s:.1f} s = {evidently_s / base_s:.1f}x the baseline; "
            f"its HTML {html_s:.1f} s more; whole run {run_s:.1f} s (sampled reference: "
            f"{sampled_s:.1f} s; as configured: {default_s:.1f} s)")
    return rows, note


def main() -> None:
    small = featured(2_000, 0)
    analysis.analyse(make_reference(small, 2_000), small, min_rows=10, min_labelled=10,
                     precision_target=0.9)  # warm Evidently's imports outside the timing
    rows, notes = [], []
    for n in SIZES:
        part, note = measure(n)
        rows += part
        notes.append(note)
    report("drift", "numpy/scipy per-column Wasserstein (normed), Jensen-Shannon and PSI on the "
           "same rows", rows, notes="\n".join(notes))


if __name__ == "__main__":
    main()
