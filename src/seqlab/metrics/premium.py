"""The sequencer risk premium: what ordering costs a position, as a yearly rate.

For one seed, the harm a design does to each account (its value under the baseline
minus under the design, same seed) is split between the account's long and short
exposure in proportion to the USD·years it held each way under the baseline, and
summed by position type — direction × the account's leverage. Divided by the type's
USD·years of exposure it is a cost per dollar of notional per year; × 10,000 it is the
annualised premium in basis points of notional a fair price must carry. Over seeds it
gets a mean and a 95 % confidence interval.
"""
from __future__ import annotations

import numpy as np

from seqlab.experiments.stats import mean_ci


def position_types(leverage: np.ndarray) -> list[str]:
    """Type names for the leverage buckets present, both directions."""
    return [f"{side} {lev:g}x" for lev in np.unique(leverage) for side in ("long", "short")]


def premium_bps(harm: np.ndarray, long_years: np.ndarray, short_years: np.ndarray,
                leverage: np.ndarray) -> dict[str, float]:
    """Annualised premium (bps of notional) per position type for one seed."""
    total = long_years + short_years
    with np.errstate(invalid="ignore", divide="ignore"):
        share_long = np.where(total > 0, long_years / total, 0.0)
    out = {}
    for lev in np.unique(leverage):
        members = leverage == lev
        for side, share, years in (("long", share_long, long_years),
                                   ("short", 1 - share_long, short_years)):
            exposure = float(years[members].sum())
            cost = float((harm[members] * np.where(total[members] > 0, share[members], 0)).sum())
            out[f"{side} {lev:g}x"] = cost / exposure * 1e4 if exposure > 0 else 0.0
    return out


def group_premium_bps(harm: np.ndarray, usd_years: np.ndarray) -> float:
    """One group's premium: its total harm per USD·year of exposure, in bps."""
    exposure = float(usd_years.sum())
    return float(harm.sum()) / exposure * 1e4 if exposure > 0 else 0.0


def premium_summary(per_seed: list[dict[str, float]]) -> dict[str, dict]:
    """Mean and 95 % interval of each type's premium over seeds."""
    out = {}
    for key in per_seed[0] if per_seed else []:
        mean, ci = mean_ci([s[key] for s in per_seed])
        out[key] = {"mean_bps": round(mean, 4), "ci95_bps": [round(x, 4) for x in ci]}
    return out
