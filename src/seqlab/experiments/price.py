"""``seqlab price``: a term sheet of option prices that carry the sequencer risk premium.

For each design, against a baseline with paired seeds, the premium of every position type
is measured per stress event and annualised by a stated calendar
(:mod:`seqlab.experiments.premium_events`); the premium of the priced position type then
becomes a price add-on on a grid of strikes and expiries, by a model that puts the cost
where the position's risk sits:

- **option position types** (``option writers``, ``option buyers``): a Leland-style
  volatility adjustment (Leland 1985, "Option pricing and replication with transactions
  costs", Journal of Finance 40(5)). The ordering cost a writer pays (margin calls,
  liquidations, adverse fills) arises as the underlying moves, i.e. through the
  position's gamma, as Leland's rebalancing costs do; carrying an extra variance ``Δσ²``
  costs ``½ Γ S² Δσ²`` per unit per year (the Black-Scholes theta). Calibrating
  ``Δσ²`` so the scenario's own options book pays the measured premium
  (``½ Δσ² ⟨S Γ⟩ = premium``, ``⟨S Γ⟩`` averaged over its series and their lives) gives
  one adjusted volatility, ``σ_L = sqrt(σ² + Δσ²)``, at which every strike and expiry is
  priced: the add-on is largest where gamma is (at the money, short expiries) and
  vanishes in the wings, and the implied-volatility shift is the same everywhere. A
  writer charges it (``+Δσ²``); a buyer, who pays the cost, can pay that much less
  (``−Δσ²``).
- **perps position types**: the option writer's delta hedge, ``|Δ| · S`` of perps
  notional, pays the premium for the option's life: ``add-on = premium · S · ∫|Δ| dt``
  (the hedge-carry model).

Every priced grid is checked for static arbitrage (:mod:`seqlab.pricing.arbitrage`); a
cell that fails carries its flags and no price.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.experiments.paired import RunView
from seqlab.experiments.pairing import pair_all
from seqlab.experiments.premium_events import SeedPremium, measure_design, seed_premium
from seqlab.market.gbm import YEAR_US
from seqlab.metrics.events import Calendar, parse_calendar
from seqlab.pricing.arbitrage import arbitrage_flags
from seqlab.pricing.black_scholes import black_scholes, greeks, implied_vol
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario, load_scenario
from seqlab.units import DAY

__all__ = ["price", "price_surface", "reference_spot_sigma", "surface_rows", "book_gamma",
           "position_types", "DEFAULT_STRIKES", "DEFAULT_EXPIRIES_US", "SURFACE_COLUMNS",
           "CALM_FIGURES"]

DEFAULT_STRIKES: tuple[float, ...] = (0.8, 0.9, 1.0, 1.1, 1.2)
DEFAULT_EXPIRIES_US: tuple[int, ...] = (1 * DAY, 7 * DAY, 30 * DAY, 90 * DAY)
KINDS = ("call", "put")
OPTION_TYPES = {"option writers": 1.0, "option buyers": -1.0}  # who charges, who saves
VOL_POINT = 0.01  # one vol point: one percentage point of annualised volatility
SURFACE_COLUMNS = ("design", "kind", "moneyness", "strike", "expiry_days", "bs_price",
                   "add_on", "add_on_lo", "add_on_hi", "adjusted_price", "adjusted_lo",
                   "adjusted_hi", "iv_shift", "iv_shift_lo", "iv_shift_hi", "iv_shift_bps",
                   "flags")
#: The calm figures of each position type's premium entry: the calm total, its execution
#: part per year and per dollar traded, the rest, and the whole calm cost as measured.
CALM_FIGURES = ("calm_bps_per_year", "calm_execution_bps_per_year",
                "calm_execution_bps_per_traded", "calm_other_bps_per_year",
                "calm_measured_bps_per_year")
_HEDGE_STEPS = 16  # midpoints over an option's life for the hedge-carry integral

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
    return np.unique(m), np.unique(e)


def _position_premium(premium: dict[str, dict], position: str
                      ) -> tuple[float, list[float] | None]:
    if position not in premium:
        raise SeqlabError(f"unknown position type '{position}'", field="--position",
                          allowed=", ".join(premium) or "none (no position types in this run)")
    entry = premium[position]
    mean = float(entry["mean_bps"])
    if "ci95_bps" in entry and entry["ci95_bps"] is None:
        return mean, None  # unknown: the add-on is given at the mean, without an interval
    ci = entry.get("ci95_bps") or [mean, mean]
    return mean, [float(ci[0]), float(ci[1])]


def book_gamma(moneyness: Sequence[float], expiries_us: Sequence[int], sigma: float,
               horizon_us: int | None = None) -> float:
    """``⟨S·Γ⟩`` of a book: every series (moneyness × expiry, listed at the start and held
    to its expiry or ``horizon_us``) averaged over its life, then over the series.

    ``S·Γ`` depends on moneyness, time to expiry and volatility only, so no spot is needed.
    """
    values = []
    for e in expiries_us:
        held = min(int(e), int(horizon_us)) if horizon_us else int(e)
        age = (np.arange(_HEDGE_STEPS) + 0.5) / _HEDGE_STEPS * held
        tau = (int(e) - age) / YEAR_US
        for m in moneyness:
            values.append(float(np.mean(greeks("call", 1.0, m, tau, 0.0, sigma)["gamma"])))
    return float(np.mean(values)) if values else math.nan


def _adjusted(kind, spot, strike, t, r, sigma, p_bps, model: str, gamma_book: float,
              sign: float) -> np.ndarray:
    """The price with the premium ``p_bps`` (bps of notional per year) by ``model``."""
    p = p_bps / 1e4
    if model == "leland":
        var = max(sigma * sigma + sign * 2.0 * p / gamma_book, 0.0)
        return np.asarray(black_scholes(kind, spot, strike, t, r, math.sqrt(var)), dtype=float)
    frac = (np.arange(_HEDGE_STEPS) + 0.5) / _HEDGE_STEPS
    tau = t[:, None] * (1.0 - frac[None, :])
    delta = greeks(kind[:, None], spot, strike[:, None], tau, r, sigma)["delta"]
    carry = p * spot * np.abs(delta).mean(axis=1) * t
    return np.asarray(black_scholes(kind, spot, strike, t, r, sigma), dtype=float) + carry


def _flags(kind: np.ndarray, strike: np.ndarray, t: np.ndarray, prices: list[np.ndarray],
           spot: float, r: float) -> np.ndarray:
    """The no-arbitrage flags of each cell over several price grids (the premium and the
    ends of its interval). The cells left unflagged are checked again among themselves
    until none fails, so the prices that are quoted are arbitrage-free as a set."""
    flags = np.full(kind.size, "", dtype=object)
    while True:
        keep = np.flatnonzero(flags == "")
        new = False
        for grid in prices:
            found = arbitrage_flags(kind[keep], strike[keep], t[keep], grid[keep], spot, r)
            for i, f in zip(keep, found):
                if f:
                    joined = ", ".join(dict.fromkeys([*flags[i].split(", "), *f.split(", ")]))
                    flags[i] = joined.strip(", ")
                    new = True
        if not new or keep.size == 0:
            return flags


def price_surface(premium: dict[str, dict], position: str, spot: float, sigma: float,
                  r: float = 0.0, strikes: Sequence[float] = DEFAULT_STRIKES,
                  expiries_us: Sequence[int] = DEFAULT_EXPIRIES_US,
                  gamma_book: float | None = None, design: str = "") -> Result:
    """Black-Scholes price, premium add-on (with its 95 % interval), adjusted price,
    implied-volatility shift and no-arbitrage flags on a strike × expiry grid.

    ``premium`` is a table ``type → {"mean_bps", "ci95_bps"}`` (bps of notional per year),
    ``position`` the type whose premium is charged, ``strikes`` moneyness and
    ``expiries_us`` times to expiry in µs. Option types are priced by the Leland-style
    adjustment calibrated on ``gamma_book`` (``⟨S·Γ⟩`` of the book the premium was
    measured on: :func:`book_gamma`; default: the priced grid itself), perps types by the
    hedge-carry model. A cell failing a no-arbitrage check (at the mean or either end of
    the interval) has NaN prices and shift, and its ``flags`` say why. Pure: no
    simulation is run.
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
    model = "leland" if position in OPTION_TYPES else "hedge-carry"
    sign = OPTION_TYPES.get(position, 1.0)
    if model == "leland" and not gamma_book:
        gamma_book = book_gamma(m, e, sigma)
    prices = [bs if p == 0.0 else _adjusted(kind, spot, strike, t, r, sigma, p, model,
                                              gamma_book or 1.0, sign)
              for p in (mean, *(ci or ()))]
    flags = _flags(kind, strike, t, prices, spot, r)
    ok = flags == ""
    if ci is None:
        prices += [np.full(kind.size, np.nan)] * 2
    adj, lo, hi = (np.where(ok, q, np.nan) for q in prices)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)

    def shift(price_: np.ndarray) -> np.ndarray:
        # An unchanged price keeps sigma by definition: exactly 0, free of solver round-off.
        iv = np.asarray(implied_vol(kind, price_, spot, strike, t, r), dtype=float)
        return np.where(price_ == bs, 0.0, (iv - sigma) / VOL_POINT)

    iv, iv_lo, iv_hi = shift(adj), shift(lo), shift(hi)
    surface = {
        "design": np.full(kind.size, design, dtype=object), "kind": kind.astype(str),
        "moneyness": mon, "strike": strike, "expiry_days": exp / DAY, "bs_price": bs,
        "add_on": adj - bs, "add_on_lo": lo - bs, "add_on_hi": hi - bs,
        "adjusted_price": adj, "adjusted_lo": lo, "adjusted_hi": hi, "iv_shift": iv,
        "iv_shift_lo": np.minimum(iv_lo, iv_hi), "iv_shift_hi": np.maximum(iv_lo, iv_hi),
        "iv_shift_bps": iv * (VOL_POINT * 1e4), "flags": flags,
    }
    entry = premium[position]
    summary = {
        "position": position,
        "premium_bps": {"mean": mean, "ci95": ci,
                        **{k: entry[k] for k in ("significant", "seeds_needed") if k in entry}},
        "spot": float(spot), "sigma": float(sigma), "r": float(r),
        "model": {"name": model, **({"book_s_gamma": gamma_book,
                                     "variance_shift": sign * 2 * mean / 1e4 / gamma_book}
                                    if model == "leland" else {})},
        "counts": {"kinds": len(KINDS), "strikes": int(m.size), "expiries": int(e.size),
                   "cells": int(kind.size), "flagged": int((~ok).sum()),
                   "iv_undefined": int(np.sum(np.isnan(iv) & ok))},
        "units": {"premium_bps": "bps of underlying notional per year",
                  "add_on": "USD per option (one unit of the underlying)",
                  "iv_shift": "vol points (0.01 of annualised volatility)",
                  "iv_shift_bps": "bps of volatility",
                  "flags": "no-arbitrage checks failed (bounds, monotone, convex, calendar): "
                           "no price is given for such a cell"},
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


def position_types(loaded: LoadedScenario) -> list[str]:
    """The position types a run of the scenario reports a premium for, known before any
    run: perps long/short at each leverage traders use, both sides pooled, all perps,
    and the options market's writers and buyers when it is enabled."""
    sc = loaded.scenario
    tr = sc.agents.traders
    levs = sorted({float(v) for v, w in zip(tr.leverage, tr.leverage_weights) if w > 0})
    out = [f"{side} {lev:g}x" for lev in levs for side in ("long", "short")]
    out += ["long (all)", "short (all)", "perps (all)"]
    if sc.protocol.options.enabled:
        out += list(OPTION_TYPES)
    return out


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


def _designs(design: str | Sequence[str] | None) -> list[str]:
    if design is None:
        return []
    names = design.split(",") if isinstance(design, str) else list(design)
    return list(dict.fromkeys(n.strip() for n in names if n and n.strip()))


def check_price_args(loaded: LoadedScenario, designs: list[str], baseline: str, seeds: int,
                     position: str, strikes: Sequence[float], expiries: Sequence[int]) -> None:
    """Everything ``price`` can check before a simulation: that the scenario reports the
    position type at all (a perps-only scenario has no option writers), designs, seeds
    and the grid."""
    from seqlab.sequencing import DESIGNS, check_design

    types = position_types(loaded)
    if position not in types:
        why = (" (the scenario has no options market)" if position in OPTION_TYPES else "")
        raise SeqlabError(f"position type '{position}' is not in scenario "
                          f"'{loaded.scenario.name}'{why}", field="--position",
                          allowed=", ".join(types))
    if not designs:
        raise SeqlabError("a design to price is required", field="--design",
                          allowed=", ".join(sorted(DESIGNS)))
    for field, name in [*(("--design", d) for d in designs), ("--baseline", baseline)]:
        check_design(name, field)
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise SeqlabError(f"must be a whole number of at least 1, got {seeds!r}",
                          field="--seeds")
    _check_grid(strikes, expiries)


def price(scenario: str | Path | LoadedScenario | None = None,
          design: str | Sequence[str] | None = None, baseline: str = "honest", seeds: int = 5,
          position: str = "option writers", strikes: Sequence[float] = DEFAULT_STRIKES,
          expiries: Sequence[int] = DEFAULT_EXPIRIES_US, out: str | Path | None = None,
          report: bool = True, progress: Progress | None = None, r: float = 0.0,
          backend: str = "inline", workers: int | None = None,
          address: str | None = None, calendar: Calendar | str | None = None) -> Result:
    """A term sheet for each design (one name, a comma-separated list, or a list) against
    ``baseline``: the event-based premium of every position type, who pays, and the
    priced grid for ``position``. The simulations run on ``backend`` (inline, process,
    ray), as a compare's do, and only after every argument has been checked.

    ``expiries`` are in µs; ``calendar`` is a :class:`Calendar`, a ``--calendar`` string,
    or ``None`` for the shipped historical one. With ``out``, writes ``price.json`` and
    (unless ``report`` is false) ``price.html`` there; the summary gains their paths.
    """
    from seqlab.experiments.compare import run_stream

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    names = _designs(design)
    check_price_args(loaded, names, baseline, seeds, position, strikes, expiries)
    cal = calendar if isinstance(calendar, Calendar) else parse_calendar(calendar)
    if out is not None:
        from seqlab.experiments.store import check_out

        check_out(Path(out), PRICE_FILES)  # before minutes of simulation, not after
    spot, sigma, sigma_source = reference_spot_sigma(loaded)
    opts = loaded.scenario.protocol.options
    gamma_book = (book_gamma(opts.moneyness, opts.expiries, opts.vol,
                             loaded.scenario.duration) if opts.enabled else None)
    seed_list, finished = run_stream(loaded, [baseline, *names], baseline, seeds, progress,
                                     backend, workers, address)
    measured_runs = premium_pairs(finished, names, baseline, seed_list, cal)
    per_design, surfaces = {}, []
    for name in names:
        runs = [measured_runs[(name, seed)] for seed in seed_list]
        measured = measure_design(runs, cal)
        table = {k: {"mean_bps": v["annual_bps"]["mean_bps"],
                     "ci95_bps": v["annual_bps"]["ci95_bps"],
                     "significant": v["annual_bps"]["significant"],
                     "seeds_needed": v["annual_bps"]["seeds_needed"],
                     **{key: v[key] for key in CALM_FIGURES},
                     "stress_bps_per_year": v["stress_bps_per_year"],
                     "per_event_bps": v["per_event_bps"], "unobserved": v["unobserved"]}
                 for k, v in measured["premium"].items()}
        sheet = price_surface(table, position, spot, sigma, r, strikes, expiries, gamma_book,
                              design=name)
        surfaces.append(sheet.tables["surface"])
        per_design[name] = {
            "premium_bps": sheet.summary["premium_bps"], "premium_table": table,
            "model": sheet.summary["model"], "counts": sheet.summary["counts"],
            "events_seen": measured["events_seen"], "who_pays": measured["who_pays"],
            "digests": [run.digest for run in runs]}
    first = per_design[names[0]]
    summary = {
        "scenario": loaded.scenario.name, "design": names[0], "designs": names,
        "baseline": baseline, "seeds": seed_list, "position": position,
        "premium_bps": first["premium_bps"], "premium_table": first["premium_table"],
        "spot": float(spot), "sigma": float(sigma), "sigma_source": sigma_source,
        "r": float(r), "calendar": cal.as_dict(), "calendar_text": cal.describe(),
        "per_design": per_design, "units": sheet.summary["units"],
    }
    summary["reading"] = reading(summary)
    result = Result(summary, {"surface": {c: np.concatenate([sf[c] for sf in surfaces])
                                          for c in SURFACE_COLUMNS}})
    if out is not None:
        save_price(result, Path(out), report)
    return result


def premium_pairs(finished: Iterable[tuple[str, int, RunView]], designs: list[str],
                  baseline: str, seeds: list[int], calendar: Calendar
                  ) -> dict[tuple[str, int], SeedPremium]:
    """Each design's run on each seed reduced to its ``seed_premium`` against the seed's
    baseline as soon as both have finished (``pair_all``): what stays in memory is the
    runs of the seeds in flight, not every run of the experiment."""
    def pair(run: RunView, base: RunView) -> SeedPremium | None:
        if run is base and baseline not in designs:
            return None  # the baseline against itself: not asked for
        return seed_premium(run, base, calendar)

    return pair_all(finished, designs, baseline, seeds, pair)


def _fmt_figure(entry: dict, unit: str = "bps/yr") -> str:
    ci = entry["ci95"] if "ci95" in entry else entry["ci95_bps"]
    mean = entry["mean"] if "mean" in entry else entry["mean_bps"]
    if ci is None:
        return (f"{mean:,.2f} {unit} with no interval (a stress class seen in one seed "
                "only: more seeds needed)")
    text = f"{mean:,.2f} {unit} [{ci[0]:,.2f}, {ci[1]:,.2f}]"
    if not entry.get("significant"):
        text += " (0 in CI"
        needed = entry.get("seeds_needed")
        text += f"; ~{needed} seeds needed)" if needed else ")"
    return text


def reading(s: dict) -> str:
    """One paragraph a risk desk can read before the tables."""
    position = s["position"]
    parts = []
    for name, d in s["per_design"].items():
        p = d["premium_bps"]
        verdict = ("significant" if p.get("significant")
                   else "not distinguishable from zero" if p.get("ci95") is not None
                   else "not measured well enough to say")
        parts.append(f"{name}: {_fmt_figure(p)}, {verdict}")
    flagged = sum(d["counts"]["flagged"] for d in s["per_design"].values())
    cells = sum(d["counts"]["cells"] for d in s["per_design"].values())
    events = s["per_design"][s["design"]]["events_seen"]
    seen = ", ".join(f"{v} {k}" for k, v in events.items())
    return (f"Against {s['baseline']} over {len(s['seeds'])} paired seeds of "
            f"'{s['scenario']}', the yearly sequencer risk premium for {position} is "
            + "; ".join(parts) + ". It is the calm-market cost (its execution part per "
            "dollar traded times the calendar's turnover, the rest per year of notional "
            "scaled to the calendar's calm volatility) plus the cost per stress "
            f"event times the calendar's frequencies ({s['calendar_text']}); the runs saw "
            f"{seen} event(s) per design over all seeds. "
            + (f"{flagged} of {cells} priced cells fail a no-arbitrage check and are "
               "reported without a price." if flagged else
               f"All {cells} priced cells pass the no-arbitrage checks."))


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
