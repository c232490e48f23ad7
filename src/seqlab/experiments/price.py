"""``seqlab price``: what the sequencer risk premium does to option prices.

``compare`` measures, per position type, the sequencer risk premium: the yearly cost a
design imposes on a position, in basis points of underlying notional. A writer who
carries that cost on the underlying for an option's whole life must charge it on top of
the Black-Scholes price::

    adjusted = BS + spot × (p / 1e4) × T        (p in bps per year, T in years)

A negative premium (the design helps the position) lowers the price, but never below
the lower no-arbitrage bound, ``max(w·(S − K·e^(−rT)), 0)`` (the intrinsic value of the
forward, which is the plain intrinsic value at ``r = 0``). The same is done at both ends
of the premium's 95 % interval.

The implied volatility of the adjusted price, minus the volatility the options were
priced at, is the *surface distortion*: how far the sequencer moves the volatility a
market would quote. It is given in vol points (1 point = 0.01 of annualised volatility,
i.e. one percentage point) and in basis points of volatility (1 point = 100 bps). It is
NaN where no volatility reproduces the adjusted price: at or above the upper
no-arbitrage bound (the spot for a call, the discounted strike for a put) or needing
more than :data:`seqlab.pricing.black_scholes.SIGMA_MAX`. A price floored at the lower
bound has implied volatility 0, so its shift is ``−sigma``.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.market.gbm import YEAR_US
from seqlab.pricing.black_scholes import SIGMA_MAX, black_scholes, implied_vol
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario, load_scenario
from seqlab.units import DAY

__all__ = ["price", "price_surface", "reference_spot_sigma", "surface_rows",
           "DEFAULT_STRIKES", "DEFAULT_EXPIRIES_US", "SURFACE_COLUMNS"]

DEFAULT_STRIKES: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
DEFAULT_EXPIRIES_US: tuple[int, ...] = (1 * DAY, 7 * DAY, 30 * DAY, 90 * DAY)
KINDS = ("call", "put")
VOL_POINT = 0.01  # one vol point: one percentage point of annualised volatility
SURFACE_COLUMNS = ("kind", "moneyness", "strike", "expiry_days", "bs_price", "adjusted_price",
                   "adjusted_lo", "adjusted_hi", "iv_shift", "iv_shift_lo", "iv_shift_hi",
                   "iv_shift_bps")

Progress = Callable[[int, int, str], None]


def _check_grid(strikes: Sequence[float], expiries_us: Sequence[int]) -> tuple[np.ndarray,
                                                                               np.ndarray]:
    try:
        m = np.asarray(list(strikes), dtype=float)
    except (TypeError, ValueError):
        raise SeqlabError(f"must be numbers, got {strikes!r}", field="--strikes") from None
    if m.ndim != 1 or m.size == 0 or not np.all(np.isfinite(m)) or np.any(m <= 0):
        raise SeqlabError(f"must be one or more positive moneyness values, got {list(strikes)}",
                          field="--strikes", allowed="e.g. 0.8,0.9,1,1.1,1.2")
    try:
        e = np.asarray(list(expiries_us), dtype=np.int64)
    except (TypeError, ValueError):
        raise SeqlabError(f"must be durations, got {expiries_us!r}", field="--expiries") from None
    if e.ndim != 1 or e.size == 0 or np.any(e <= 0):
        raise SeqlabError("must be one or more positive durations", field="--expiries",
                          allowed="e.g. 1d,7d,30d,90d")
    return m, e


def _position_premium(premium: dict[str, dict], position: str) -> tuple[float, list[float]]:
    if position not in premium:
        raise SeqlabError(f"unknown position type '{position}'", field="--position",
                          allowed=", ".join(premium) or "none (no position types in this run)")
    entry = premium[position]
    mean = float(entry["mean_bps"])
    ci = entry.get("ci95_bps") or [mean, mean]
    return mean, [float(ci[0]), float(ci[1])]


def price_surface(premium: dict[str, dict], position: str, spot: float, sigma: float,
                  r: float = 0.0, strikes: Sequence[float] = DEFAULT_STRIKES,
                  expiries_us: Sequence[int] = DEFAULT_EXPIRIES_US) -> Result:
    """Black-Scholes and premium-adjusted prices of calls and puts on a strike × expiry grid.

    ``premium`` is a compare risk-premium table (type → ``{"mean_bps", "ci95_bps"}``),
    ``position`` the type whose premium is charged, ``strikes`` moneyness (strike / spot)
    and ``expiries_us`` times to expiry in µs. Rows run kind-major, then moneyness, then
    expiry. Pure: no simulation is run.
    """
    mean, ci = _position_premium(premium, position)
    if not (math.isfinite(spot) and spot > 0):
        raise SeqlabError(f"must be a positive number, got {spot!r}", field="spot")
    if not (math.isfinite(sigma) and sigma >= 0):
        raise SeqlabError(f"must be a non-negative number, got {sigma!r}", field="sigma")
    m, e = _check_grid(strikes, expiries_us)
    kind, mon, exp = (a.ravel() for a in np.meshgrid(np.array(KINDS), m, e, indexing="ij"))
    strike = mon * spot
    t = exp / YEAR_US
    bs = np.asarray(black_scholes(kind, spot, strike, t, r, sigma), dtype=float)
    w = np.where(kind == "call", 1.0, -1.0)
    floor = np.maximum(w * (spot - strike * np.exp(-r * t)), 0.0)

    def adjusted(p_bps: float) -> np.ndarray:
        return np.maximum(bs + spot * (p_bps / 1e4) * t, floor)

    def shift(price_: np.ndarray) -> np.ndarray:
        # An unchanged price keeps sigma by definition: exactly 0, free of solver round-off
        # (and of a Black-Scholes price that underflowed to 0, whose implied vol is 0).
        iv = np.asarray(implied_vol(kind, price_, spot, strike, t, r), dtype=float)
        return np.where(price_ == bs, 0.0, (iv - sigma) / VOL_POINT)

    adj, lo, hi = adjusted(mean), adjusted(ci[0]), adjusted(ci[1])
    floored = (bs + spot * (mean / 1e4) * t) < floor
    iv, iv_lo, iv_hi = shift(adj), shift(lo), shift(hi)
    surface = {
        "kind": kind.astype(str), "moneyness": mon, "strike": strike,
        "expiry_days": exp / DAY, "bs_price": bs, "adjusted_price": adj,
        "adjusted_lo": lo, "adjusted_hi": hi, "iv_shift": iv, "iv_shift_lo": iv_lo,
        "iv_shift_hi": iv_hi, "iv_shift_bps": iv * (VOL_POINT * 1e4),
    }
    summary = {
        "position": position,
        "premium_bps": {"mean": mean, "ci95": ci},
        "spot": float(spot), "sigma": float(sigma), "r": float(r),
        "counts": {"kinds": len(KINDS), "strikes": int(m.size), "expiries": int(e.size),
                   "cells": int(kind.size), "floored": int(floored.sum()),
                   "iv_undefined": int(np.sum(np.isnan(iv)))},
        "units": {"premium_bps": "bps of underlying notional per year",
                  "iv_shift": "vol points (0.01 of annualised volatility)",
                  "iv_shift_bps": "bps of volatility",
                  "iv_nan": "adjusted price outside the no-arbitrage bounds (at or above "
                            f"the spot for a call, the discounted strike for a put) or "
                            f"implied volatility above {SIGMA_MAX:g}"},
    }
    return Result(summary, {"surface": surface})


def surface_rows(result: Result) -> list[dict]:
    """The surface table as a list of row dicts (NaN as None, so it is valid JSON)."""
    table = result.tables["surface"]
    n = len(table["kind"])
    rows = []
    for i in range(n):
        row = {}
        for col, values in table.items():
            v = values[i]
            if isinstance(v, (np.floating, float)):
                v = float(v)
                v = None if math.isnan(v) else v
            elif isinstance(v, np.generic):
                v = v.item()
            row[col] = v
        rows.append(row)
    return rows


def reference_spot_sigma(loaded: LoadedScenario) -> tuple[float, float, str]:
    """The scenario's initial reference price and the volatility to price options at.

    GBM: ``market.initial_price`` and ``market.volatility``. Replay: the first price of
    the replayed path and its realised volatility (annualised, 1-minute log returns).
    """
    market = loaded.scenario.market
    if market.model != "replay":
        return float(market.initial_price), float(market.volatility), "market.volatility"
    from seqlab.kernel import Simulation
    from seqlab.market import build_reference
    from seqlab.metrics.venue import realized_vol

    ref = build_reference(market, loaded.scenario.duration, Simulation(loaded.scenario.seed),
                          loaded.base_dir)
    return (float(ref.price[0]), realized_vol(ref.t_us, ref.price),
            "realised volatility of the replayed path (1-minute log returns)")


PRICE_FILES = ("price.json", "price.html")


def price(scenario: str | Path | LoadedScenario | None = None, design: str | None = None,
          baseline: str = "honest", seeds: int = 5, position: str = "option writers",
          strikes: Sequence[float] = DEFAULT_STRIKES,
          expiries: Sequence[int] = DEFAULT_EXPIRIES_US, out: str | Path | None = None,
          report: bool = True, progress: Progress | None = None, r: float = 0.0,
          backend: str = "inline", workers: int | None = None,
          address: str | None = None) -> Result:
    """Measure ``design``'s risk premium against ``baseline`` and price options with it.
    The simulations run on ``backend`` (inline, process, ray), as a compare's do.

    ``expiries`` are in µs. With ``out``, writes ``price.json`` and (unless ``report`` is
    false) ``price.html`` there; the summary gains their paths.
    """
    from seqlab.experiments.compare import compare
    from seqlab.sequencing import DESIGNS

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if design is None:
        raise SeqlabError("a design to price is required", field="--design",
                          allowed=", ".join(sorted(DESIGNS)))
    for field, name in (("--design", design), ("--baseline", baseline)):
        if name not in DESIGNS:
            raise SeqlabError(f"unknown design '{name}'", field=field,
                              allowed=", ".join(sorted(DESIGNS)))
    _check_grid(strikes, expiries)  # before minutes of simulation, not after
    if out is not None:
        from seqlab.experiments.store import check_out

        check_out(Path(out), PRICE_FILES)
    spot, sigma, sigma_source = reference_spot_sigma(loaded)
    cmp = compare(loaded, [baseline, design], baseline=baseline, seeds=seeds, report=False,
                  progress=progress, backend=backend, workers=workers, address=address)
    table = cmp.summary["designs"][design]["risk_premium"]
    result = price_surface(table, position, spot, sigma, r, strikes, expiries)
    s = result.summary
    result.summary = {
        "scenario": loaded.scenario.name, "design": design, "baseline": baseline,
        "seeds": cmp.summary["seeds"], **s, "sigma_source": sigma_source,
        "premium_table": table,
        "digests": cmp.summary["designs"][design]["digests"],
    }
    if out is not None:
        save_price(result, Path(out), report)
    return result


def save_price(result: Result, out: Path, report: bool = True) -> None:
    """``price.json`` (summary plus the surface as rows) and ``price.html`` in ``out``."""
    from seqlab.experiments.store import atomic_folder, write_json

    with atomic_folder(out, PRICE_FILES) as tmp:
        if report:
            from seqlab.report.price_html import write_price_report

            write_price_report(result, tmp / "price.html")
            result.summary["report"] = str(out / "price.html")
        result.summary["json"] = str(out / "price.json")
        write_json({**result.summary, "surface": surface_rows(result)}, tmp / "price.json")
