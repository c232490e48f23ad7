"""Small statistics shared by compare, sweep and premium figures."""
from __future__ import annotations

import math

import numpy as np
from scipy import stats

Domain = tuple[float, float]
ANY: Domain = (-math.inf, math.inf)
SHARE: Domain = (0.0, 1.0)
NON_NEGATIVE: Domain = (0.0, math.inf)

# The one place that says which figure lives in which domain (matched on the last dotted part
# of the name): every interval computed for these names is clipped to it.
_SHARE_NAMES = {"operator_bonus_share", "same_block_liquidation_share"}
_COUNT_NAMES = {"forced_liquidations", "liquidations", "txs", "blocks", "rollups_halted",
                "liquidations_after_restart", "failed_legs", "reverted_bundles", "p50", "p90",
                "p99", "latency_p50_ms", "latency_p99_ms", "max_censorship_delay_ms",
                "oracle_to_liquidation_ms", "bad_debt_usd", "held_liquidated",
                "recourse_actions", "recourse_inbox", "liquidation_gap_p50_s",
                "liquidation_gap_p90_s", "oracle_error_mean_bps", "oracle_error_max_bps"}


def domain_of(name: str) -> Domain:
    """Where the figure called ``name`` can lie: shares in [0, 1], counts and durations
    (latencies, delays) and bad debt at or above 0, anything else unbounded."""
    last = name.rsplit(".", 1)[-1]
    if last in _SHARE_NAMES or last.endswith("_share"):
        return SHARE
    if last in _COUNT_NAMES:
        return NON_NEGATIVE
    return ANY


def clip_interval(low: float, high: float, domain: Domain = ANY) -> list[float]:
    """``[low, high]`` cut to ``domain``."""
    lo, hi = domain
    return [min(max(low, lo), hi), min(max(high, lo), hi)]


def mean_ci(values: list[float], domain: Domain = ANY) -> tuple[float, list[float]]:
    """Mean and 95 % confidence interval (Student t; a point with one sample).

    The interval is clipped to ``domain`` (see :func:`domain_of`), and the clipped interval is
    what callers store and show. A t-interval is symmetric about the mean by construction, so
    on a bounded quantity with few seeds it can leave the quantity's domain (a share above 1,
    a count below 0); values there are impossible, so clipping is the honest reading of what
    the seeds say. The mean itself is never clipped (it is inside the domain already).
    """
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if len(arr) < 2 or np.all(arr == arr[0]):
        return mean, [mean, mean]
    half = float(stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / np.sqrt(len(arr)))
    return mean, clip_interval(mean - half, mean + half, domain)


def significance(mean: float, interval: list[float] | None, seeds: int) -> dict:
    """Whether a figure's 95 % interval excludes zero, and a power estimate: how many
    seeds the spread seen over ``seeds`` would need for the interval to exclude zero
    (the smallest ``n`` with ``t(n−1) · s / √n < |mean|``, ``s`` the per-seed standard
    deviation implied by the interval). ``None`` where it cannot be said: one seed (no
    spread seen), an unknown interval (``None``) or a mean of exactly zero (nothing to
    detect)."""
    if interval is None or seeds < 2:  # unknown, or one seed: no spread seen, nothing said
        return {"significant": False, "seeds_needed": None}
    lo, hi = interval
    significant = bool(lo > 0.0 or hi < 0.0)
    needed = None
    if seeds >= 2 and mean != 0.0 and hi > lo:
        spread = (hi - lo) / 2 / float(stats.t.ppf(0.975, seeds - 1)) * math.sqrt(seeds)
        ratio = (spread / abs(mean)) ** 2
        n = max(2, math.ceil(1.96 ** 2 * ratio))
        while float(stats.t.ppf(0.975, n - 1)) ** 2 * ratio >= n:
            n += 1
        needed = n
    elif significant:
        needed = seeds
    return {"significant": significant, "seeds_needed": needed}
