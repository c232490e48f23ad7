"""The sequencer risk premium's estimators: harm split by position type, ratios pooled
over seeds, and the event-based yearly premium.

For one seed, the harm a design does to each account (its direct ordering cost against
the baseline, same seed) is split between the account's long and short exposure in
proportion to the USD·years it held each way under the baseline, and summed by position
type — direction × the account's leverage (:func:`premium_parts`).

A run lasts hours, and its ordering costs cluster in the stress events it happens to
contain, so its cost per USD·year is not a yearly rate: the yearly premium is the calm
cost (its execution part per dollar traded times a calendar's turnover, the rest per
USD·year) plus the cost per stress event of each class times a calendar's events per
year (:func:`event_premium`; the method is in docs/premium.md).

Over seeds every rate is a ratio of totals, Σ harm / Σ exposure, not a mean of per-seed
ratios: a seed with little exposure of some type (a short run, few 20x accounts) would
otherwise weigh as much as one with plenty, and its ratio is mostly noise. The 95 %
interval comes from the delta method over the independent seeds (the residuals
``harm_k − R·exposure_k``), with Student-t quantiles; a design that harms no one gets
exactly 0 with a zero-width interval.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

Parts = tuple[float, float]  # (harm USD, exposure USD·years) of one type in one seed


def premium_parts(harm: np.ndarray, long_years: np.ndarray, short_years: np.ndarray,
                  leverage: np.ndarray) -> dict[str, Parts]:
    """Harm (USD) and exposure (USD·years) per position type for one seed."""
    total = long_years + short_years
    with np.errstate(invalid="ignore", divide="ignore"):
        share_long = np.where(total > 0, long_years / total, 0.0)
    out = {}
    for lev in np.unique(leverage):
        members = leverage == lev
        for side, share, years in (("long", share_long, long_years),
                                   ("short", 1 - share_long, short_years)):
            held = total[members] > 0
            cost = float((harm[members] * np.where(held, share[members], 0)).sum())
            out[f"{side} {lev:g}x"] = (cost, float(years[members].sum()))
    for group in ("long", "short"):  # every leverage together: the pooled estimate
        parts = [v for k, v in out.items() if k.startswith(group + " ")]
        out[f"{group} (all)"] = (sum(c for c, _ in parts), sum(y for _, y in parts))
    out["perps (all)"] = (out["long (all)"][0] + out["short (all)"][0],
                          out["long (all)"][1] + out["short (all)"][1])
    return out


def group_parts(harm: np.ndarray, usd_years: np.ndarray) -> Parts:
    """One group's total harm and exposure."""
    return float(harm.sum()), float(usd_years.sum())


def pooled_ratio_ci(harm: list[float], years: list[float]) -> tuple[float, list[float]]:
    """Σ harm / Σ years (× 10,000) and its 95 % interval over independent seeds: one
    ratio on its own (:func:`combined_ratio_ci` with one term gives the same).

    Delta method for a ratio estimator: with ``R = Σh/Σy`` and residuals
    ``d_k = h_k − R·y_k``, ``SE(R) = sqrt(Σd² / (K(K−1))) / mean(y)``; the interval uses
    the t quantile with K − 1 degrees of freedom. One seed gives a point.
    """
    h, y = np.asarray(harm, dtype=np.float64), np.asarray(years, dtype=np.float64)
    total = float(y.sum())
    if total <= 0:
        return 0.0, [0.0, 0.0]
    ratio = float(h.sum()) / total
    k = len(h)
    resid = h - ratio * y
    if k < 2 or not np.any(resid):
        return ratio * 1e4, [ratio * 1e4, ratio * 1e4]
    se = math.sqrt(float((resid ** 2).sum()) / (k * (k - 1))) / (total / k)
    half = float(stats.t.ppf(0.975, k - 1)) * se
    return ratio * 1e4, [(ratio - half) * 1e4, (ratio + half) * 1e4]


def combined_ratio_ci(parts: dict[str, tuple[list[float], list[float]]],
                      weights: dict[str, float]) -> tuple[float, list[float] | None]:
    """``Σ_j w_j · (Σ_k h_jk / Σ_k y_jk)`` and its 95 % interval over independent seeds.

    The joint delta method: each ratio's residuals ``(h_jk − R_j y_jk) / mean(y_j)`` are
    weighted and summed *per seed* before the variance is taken, so ratios measured on the
    same seeds (a calm rate and the cost per event of each class, from the same runs) are
    combined with their correlation, not as if independent. A ratio with no denominator
    (no exposure, no event of that class in any seed) contributes 0: it was not observed.
    A ratio with a cost seen in fewer than two seeds (one crash in one seed) has no spread
    to measure: the interval is ``None``, unknown, not a zero-width point.
    """
    total, resid, k, unknown = 0.0, None, 0, False
    for name, (h, y) in parts.items():
        w = weights.get(name, 0.0)
        h_a, y_a = np.asarray(h, dtype=np.float64), np.asarray(y, dtype=np.float64)
        k = len(h_a)
        if w == 0.0 or y_a.sum() <= 0:
            continue
        unknown |= bool(np.any(h_a)) and int(np.sum(y_a > 0)) < 2
        ratio = float(h_a.sum() / y_a.sum())
        total += w * ratio
        r = w * (h_a - ratio * y_a) / (y_a.sum() / k)
        resid = r if resid is None else resid + r
    if unknown:
        return total * 1e4, None
    if resid is None or k < 2 or not np.any(resid):
        return total * 1e4, [total * 1e4, total * 1e4]
    se = math.sqrt(float((resid ** 2).sum()) / (k * (k - 1)))
    half = float(stats.t.ppf(0.975, k - 1)) * se
    return total * 1e4, [(total - half) * 1e4, (total + half) * 1e4]


def event_premium(per_seed: list[dict[str, Parts]], per_year: dict[str, float], *,
                  turnover: float) -> dict:
    """Calm parts, cost per event of each class and the calendar-weighted yearly premium.

    ``per_seed`` holds, for every seed, ``"calm_execution" → (execution cost USD, dollars
    traded)`` in calm time, ``"calm" → (the rest of the calm cost USD, calm exposure
    USD·years)`` (scaled to the calendar's calm market; ``"calm_measured"``, if given, the
    whole calm cost as measured) and ``class → (cost USD in that class's events, average
    notional USD × events)``; ``per_year`` the calendar's events per year of each class
    and ``turnover`` its dollars traded per dollar of open interest per year. All figures
    are in bps: the calm execution cost per dollar traded, and per year of notional
    (``× turnover``), the rest of the calm cost per year, a class's cost per event, the
    stress premium ``Σ f_c · E_c`` and the yearly premium ``calm execution + calm other +
    stress`` (events last minutes, so the calm rates run over the whole year), each with
    its 95 % interval. ``calm_bps_per_year`` is the calm total, both calm parts.
    """
    keys = list(dict.fromkeys(k for seed in per_seed for k in seed))
    parts = {k: ([s.get(k, (0.0, 0.0))[0] for s in per_seed],
                 [s.get(k, (0.0, 0.0))[1] for s in per_seed]) for k in keys}
    classes = [k for k in keys if not k.startswith("calm")]

    def figure(weights: dict[str, float]) -> dict:
        mean, ci = combined_ratio_ci(parts, weights)
        return {"mean_bps": round(mean, 4),
                "ci95_bps": None if ci is None else [round(x, 4) for x in ci]}

    def harm(key: str) -> float:
        return round(sum(parts.get(key, ([], []))[0]), 2)

    per_event = {}
    for c in classes:
        entry = figure({c: 1.0})
        observed = sum(parts[c][1]) > 0
        entry.update(harm_usd=round(sum(parts[c][0]), 2), observed=observed,
                     seeds_seen=int(sum(y > 0 for y in parts[c][1])))
        per_event[c] = entry
    stress = {c: per_year.get(c, 0.0) for c in classes}
    calm = {"calm_execution": turnover, "calm": 1.0}
    return {"calm_bps_per_year": figure(calm),
            "calm_execution_bps_per_year": {**figure({"calm_execution": turnover}),
                                            "harm_usd": harm("calm_execution")},
            "calm_execution_bps_per_traded": {
                **figure({"calm_execution": 1.0}),
                "traded_usd": round(sum(parts.get("calm_execution", ([], []))[1]), 2)},
            "calm_other_bps_per_year": figure({"calm": 1.0}),
            "calm_measured_bps_per_year": {**figure({"calm_measured": 1.0}),
                                           "harm_usd": harm("calm_measured")},
            "per_event_bps": per_event,
            "stress_bps_per_year": figure(stress),
            "annual_bps": figure({**calm, **stress}),
            "unobserved": [c for c in classes if not per_event[c]["observed"]
                           and per_year.get(c, 0.0) > 0]}
