"""The L2 spot venue where liquidations are hedged, and the volatility it shows.

When a liquidation closes a position, the protocol's pool takes over the exposure and
hedges it on an L2 venue, a constant-product pool of ``depth_usd`` (both sides): closing
q units of a long sells q, closing a short buys q. Arbitrageurs pull the venue back
toward the reference price, closing half the gap every ``arb_half_life``. The venue's
price path is rebuilt from the run's liquidation log on the price grid; its realized
volatility against the reference's, on one-minute returns, is the "volatility
distortion" that non-competitive or bunched liquidations put into an L2 market. The
venue is a price model: its trades move no value in the ledger.
"""
from __future__ import annotations

import numpy as np

MINUTES_PER_YEAR = 525_600.0


def venue_path(t_us: np.ndarray, reference: np.ndarray, liq_t_us: np.ndarray,
               liq_units: np.ndarray, depth_usd: float, half_life_us: int) -> np.ndarray:
    """Venue price on the grid ``t_us``; ``liq_units`` > 0 sells (a long was closed).

    The venue is the reference times ``exp(gap)``: each hedge moves the gap by its
    constant-product impact, and arbitrage halves the gap every ``half_life_us``; with
    no liquidations the venue is the reference exactly.
    """
    out = np.empty(len(t_us))
    gap = 0.0
    order = np.argsort(liq_t_us, kind="stable")
    liq_t, units = liq_t_us[order], liq_units[order].astype(np.float64)
    j = 0
    for k in range(len(t_us)):
        if k:
            gap *= 0.5 ** ((t_us[k] - t_us[k - 1]) / half_life_us)
        while j < len(liq_t) and liq_t[j] <= t_us[k]:
            price = reference[k] * np.exp(gap)
            x = depth_usd / 2 / price  # asset-side reserve at the current price
            if x + units[j] > 0:
                gap += 2 * np.log(x / (x + units[j]))
            j += 1
        out[k] = reference[k] * np.exp(gap)
    return out


def realized_vol(t_us: np.ndarray, price: np.ndarray, every_us: int = 60_000_000) -> float:
    """Annualised realized volatility of ``price`` sampled every minute."""
    grid = np.arange(t_us[0], t_us[-1] + 1, every_us)
    if len(grid) < 3:
        return 0.0
    sampled = np.interp(grid, t_us, price)
    returns = np.diff(np.log(sampled))
    return float(returns.std(ddof=1) * np.sqrt(MINUTES_PER_YEAR * 60e6 / every_us))
