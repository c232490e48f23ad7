"""Noise traders: Poisson order flow, drawn as arrays before the run.

Their orders do not depend on the state (they are noise), so the whole flow (times,
accounts, sides, sizes) is one vectorised draw from the ``traders`` stream, identical
under every sequencer design. Close and reduce orders are relative to the position at
execution, as reduce-only orders are on real venues.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.scenario.schema import Traders
from seqlab.txs import Kind


@dataclass(frozen=True)
class Accounts:
    """Per-account endowments and preferences."""

    collateral_usd: np.ndarray
    wallet_usd: np.ndarray
    leverage: np.ndarray


def draw_accounts(cfg: Traders, rng: np.random.Generator) -> Accounts:
    """Collateral is lognormal around its median; leverage preference from the weights."""
    n = cfg.accounts
    collateral = np.round(cfg.collateral_median_usd * np.exp(cfg.collateral_sigma
                                                             * rng.standard_normal(n)), 2)
    weights = np.asarray(cfg.leverage_weights, dtype=np.float64)
    leverage = rng.choice(np.asarray(cfg.leverage), size=n, p=weights / weights.sum())
    return Accounts(collateral, np.round(collateral * cfg.wallet_multiple, 2), leverage)


def arrival_times(rate_per_s: float, duration_us: int, max_txs: int | None,
                  rng: np.random.Generator) -> np.ndarray:
    """Poisson arrival times (integer µs): ``max_txs`` of them, or all within ``duration``."""
    mean_gap_us = 1e6 / rate_per_s
    if max_txs is not None:
        gaps = rng.exponential(mean_gap_us, max_txs)
        return np.rint(np.cumsum(gaps)).astype(np.int64)
    expected = int(duration_us / mean_gap_us)
    n = expected + 10 * int(np.sqrt(expected)) + 10
    times = np.rint(np.cumsum(rng.exponential(mean_gap_us, n))).astype(np.int64)
    return times[times < duration_us]


@dataclass(frozen=True)
class Flow:
    """A batch of orders ready for the transaction store."""

    submit_us: np.ndarray
    account: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    tip: np.ndarray | int = 0
    b: np.ndarray | int = 0


def perp_order_flow(cfg: Traders, accounts: Accounts, duration_us: int,
                    rng: np.random.Generator) -> Flow:
    """Trades, reduces and closes for the perps protocol."""
    t = arrival_times(cfg.rate_per_s, duration_us, cfg.max_txs, rng)
    n = len(t)
    who = rng.integers(0, cfg.accounts, n)
    u = rng.random(n)
    kind = np.full(n, Kind.TRADE, dtype=np.int8)
    kind[u < cfg.close_probability + cfg.reduce_probability] = Kind.REDUCE
    kind[u < cfg.close_probability] = Kind.CLOSE
    side = np.where(rng.random(n) < 0.5, -1, 1)
    frac = rng.uniform(cfg.trade_fraction[0], cfg.trade_fraction[1], n)
    notional = accounts.leverage[who] * accounts.collateral_usd[who] * frac
    a = np.where(kind == Kind.TRADE, side * np.round(notional * 1e6), 0).astype(np.int64)
    a[kind == Kind.REDUCE] = 5_000  # reduce half the position
    tip = np.rint(cfg.tip_usd * 1e6 * np.exp(cfg.tip_sigma * rng.standard_normal(n)))
    return Flow(t, who, kind, a, tip.astype(np.int64))


def position_flow(cfg: Traders, duration_us: int, max_qty: int,
                  rng: np.random.Generator) -> Flow:
    """Orders for the benchmark positions protocol: a signed quantity each."""
    t = arrival_times(cfg.rate_per_s, duration_us, cfg.max_txs, rng)
    n = len(t)
    who = rng.integers(0, cfg.accounts, n)
    qty = rng.integers(-max_qty, max_qty + 1, n)
    return Flow(t, who, np.full(n, Kind.POSITION, dtype=np.int8), qty.astype(np.int64))


def option_flow(rate_per_s: float, buyers: int, qty_median: float, expiry_us: np.ndarray,
                duration_us: int, rng: np.random.Generator, min_life_us: int = 60_000_000
                ) -> Flow:
    """Option buys: Poisson arrivals, a random buyer, a random series that still has at
    least ``min_life_us`` to run (series are sorted by expiry), lognormal quantity."""
    t = arrival_times(rate_per_s, duration_us, None, rng)
    first = np.searchsorted(expiry_us, t + min_life_us, side="right")
    u = rng.random(len(t))
    who = rng.integers(0, buyers, len(t))
    qty = np.rint(qty_median * 1e6 * np.exp(0.7 * rng.standard_normal(len(t)))).astype(np.int64)
    keep = first < len(expiry_us)
    series = (first + np.floor(u * (len(expiry_us) - first))).astype(np.int64)
    return Flow(t[keep], who[keep], np.full(int(keep.sum()), Kind.OPT_BUY, dtype=np.int8),
                qty[keep], b=series[keep])
