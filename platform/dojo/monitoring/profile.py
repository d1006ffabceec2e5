"""What the reference side of every drift check needs, computed once per champion.

Why precompute: the reference (the champion's training snapshot) does not change until the
champion alias moves, yet a drift library recomputes its bins, quantiles and category counts
on every run. Here they are computed once, stored next to the reference sample, and each run
only bins the current window: PSI per feature, the value ranges for out-of-range checks and
the known categories for the new-category check.

PSI (population stability index) = sum over bins of (cur - ref) * ln(cur / ref). The usual
reading, used by credit-risk teams for decades: below 0.1 stable, 0.1 to 0.2 a moderate
shift worth a look, above 0.2 a major shift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

PSI_BINS = 10
# An empty bin would make ln(cur / ref) infinite; a tiny floor keeps PSI finite and still large.
PSI_FLOOR = 1e-4
PSI_MODERATE, PSI_MAJOR = 0.1, 0.2


def psi_band(value: float) -> str:
    if value >= PSI_MAJOR:
        return "major"
    return "moderate" if value >= PSI_MODERATE else "stable"


@dataclass
class NumericProfile:
    edges: list[float]  # inner bin edges (quantiles of the reference)
    shares: list[float]  # reference share per bin (len(edges) + 1 bins)
    low: float
    high: float


@dataclass
class CategoryProfile:
    shares: dict[str, float]


@dataclass
class Profile:
    numeric: dict[str, NumericProfile] = field(default_factory=dict)
    categorical: dict[str, CategoryProfile] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Profile:
        return cls({k: NumericProfile(**v) for k, v in data["numeric"].items()},
                   {k: CategoryProfile(**v) for k, v in data["categorical"].items()})


def _numeric_bins(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(1, counts.sum())


def build_profile(frame: pd.DataFrame, numeric: list[str], categorical: list[str]) -> Profile:
    """Quantile bins, shares and ranges of the reference (missing values left out)."""
    profile = Profile()
    for column in numeric:
        values = pd.to_numeric(frame[column], errors="coerce").dropna().to_numpy(float)
        if values.size == 0:
            continue
        edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        profile.numeric[column] = NumericProfile(
            edges=edges.tolist(), shares=_numeric_bins(values, edges).tolist(),
            low=float(values.min()), high=float(values.max()))
    for column in categorical:
        shares = frame[column].dropna().astype(str).value_counts(normalize=True)
        profile.categorical[column] = CategoryProfile({str(k): float(v) for k, v in shares.items()})
    return profile


def psi(ref_shares: np.ndarray, cur_shares: np.ndarray) -> float:
    ref = np.maximum(ref_shares, PSI_FLOOR)
    cur = np.maximum(cur_shares, PSI_FLOOR)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def psi_per_feature(profile: Profile, current: pd.DataFrame) -> dict[str, float]:
    """PSI of every profiled feature present in ``current`` (categories unseen in the
    reference count as one extra bin whose reference share is the floor)."""
    result: dict[str, float] = {}
    for column, num in profile.numeric.items():
        if column not in current:
            continue
        values = pd.to_numeric(current[column], errors="coerce").dropna().to_numpy(float)
        if values.size:
            result[column] = psi(np.asarray(num.shares),
                                 _numeric_bins(values, np.asarray(num.edges)))
    for column, cat in profile.categorical.items():
        if column not in current:
            continue
        shares = current[column].dropna().astype(str).value_counts(normalize=True)
        known = list(cat.shares)
        ref = np.array([cat.shares[k] for k in known] + [0.0])
        cur = np.array([shares.get(k, 0.0) for k in known]
                       + [float(shares[~shares.index.isin(known)].sum())])
        result[column] = psi(ref, cur)
    return result


def quality(profile: Profile, current: pd.DataFrame) -> dict[str, dict[str, object]]:
    """Per feature: share missing, share outside the reference range, unseen categories."""
    report: dict[str, dict[str, object]] = {}
    for column, num in profile.numeric.items():
        if column not in current:
            report[column] = {"missing_share": 1.0, "out_of_range_share": 0.0}
            continue
        values = pd.to_numeric(current[column], errors="coerce")
        present = values.dropna()
        outside = ((present < num.low) | (present > num.high)).sum()
        report[column] = {"missing_share": float(values.isna().mean()) if len(values) else 0.0,
                          "out_of_range_share": float(outside / max(1, len(present)))}
    for column, cat in profile.categorical.items():
        if column not in current:
            report[column] = {"missing_share": 1.0, "new_categories": []}
            continue
        values = current[column]
        seen = set(values.dropna().astype(str))
        report[column] = {"missing_share": float(values.isna().mean()) if len(values) else 0.0,
                          "new_categories": sorted(seen - set(cat.shares))}
    return report
