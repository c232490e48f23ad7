"""The event-based sequencer risk premium and who pays it, from paired runs.

For every seed, the direct ordering cost a design adds over the baseline (penalties,
execution, option sales: :func:`seqlab.experiments.paired.direct_harm`) is placed in
time: a cost inside a stress event of the seed's reference path (:mod:`seqlab.metrics.
events`), or up to ``after_us`` past its end, is that event's; the rest is calm-market
cost. The penalties are placed by their own time, trades by their submit time (the same
in both runs). What the ledger books without a time (a partial liquidation's fee, the
remainder a pool keeps, an auction's take) is placed at the owner's liquidations
(:func:`untimed_costs`); only what no liquidation explains stays in the calm part, so the
calm and stress parts always add up to the direct cost.

Per position type the stress cost is divided by the type's average notional times the
number of events of that class (a cost per event per dollar of notional). The calm cost
is split in two: the execution cost of calm-time trades, divided by the dollars those
trades moved (a cost per dollar traded: it follows order flow, not price moves), and the
rest, divided by the type's exposure in calm time (a rate per year). The calendar then
weighs the classes and carries the cost per dollar traded to a year by its turnover
(:func:`seqlab.metrics.premium.event_premium`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from seqlab.experiments.paired import (RunView, direct_harm, payer_harm, premium_by_type,
                                      who_pays)
from seqlab.experiments.stats import significance
from seqlab.market.gbm import YEAR_US
from seqlab.metrics.costs import execution_costs, matched_trades, per_owner
from seqlab.metrics.events import Calendar, Events, find_events
from seqlab.metrics.premium import Parts, event_premium, premium_parts
from seqlab.units import MINUTE

__all__ = ["SeedPremium", "event_labels", "event_parts", "calm_execution", "measure_design",
           "place_at_liquidations", "seed_premium", "untimed_costs"]

#: How long after an event's last fast move its costs still count as the event's.
AFTER_US = 10 * MINUTE


def event_labels(events: Events, t_us: np.ndarray, after_us: int = AFTER_US) -> np.ndarray:
    """The class index of the event each time falls in (``after_us`` past its end
    included), or −1 for calm time. An earlier event keeps a time two windows share."""
    t = np.asarray(t_us, dtype=np.int64)
    out = np.full(t.shape, -1, dtype=np.int64)
    for s, e, c in zip(events.start_us, events.end_us, events.cls):
        out[(out < 0) & (t >= s) & (t <= e + after_us)] = c
    return out


def _owners(base: RunView, group: str) -> int:
    if group == "accounts":
        return len(base.values)
    return len(base.option_tables[group]["usd_years"])


Timed = tuple[np.ndarray, np.ndarray, np.ndarray]  # (t µs, owner, USD or notional)
NOTHING: Timed = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))


def place_at_liquidations(residual: np.ndarray, *liquidations: Timed) -> Timed:
    """Each owner's ``residual`` (USD) as timed costs ``(t µs, owner, USD)``: spread over
    its liquidations in the first of ``liquidations`` (tables ``(t µs, owner, notional)``)
    that has any, in proportion to the notional each closed (evenly when none closed
    any). An owner with no liquidation in any table keeps its residual untimed.

    The costs this places are fees and takes a liquidation charges in proportion to what
    it closes, so the liquidation's time is theirs. The design run comes first; a cost
    the design saved an owner (a negative residual: the baseline liquidated it, the
    design did not) belongs to the baseline's liquidation, which the second table holds.
    """
    n = len(residual)
    pending = residual != 0
    parts = []
    for t, owner, notional in liquidations:
        owner = np.asarray(owner, dtype=np.int64)
        mine = (owner >= 0) & (owner < n)
        mine[mine] = pending[owner[mine]]
        t, owner = np.asarray(t, dtype=np.int64)[mine], owner[mine]
        w = np.asarray(notional, dtype=np.float64)[mine]
        count = np.bincount(owner, minlength=n)
        closed = np.bincount(owner, w, minlength=n)
        share = np.where(closed[owner] > 0, w / np.where(closed > 0, closed, 1.0)[owner],
                         1.0 / np.maximum(count[owner], 1))
        parts.append((t, owner, residual[owner] * share))
        pending &= count == 0
    return tuple(np.concatenate(c) for c in zip(NOTHING, *parts))  # type: ignore[return-value]


def untimed_costs(run: RunView, base: RunView) -> dict[str, Timed]:
    """Per owner group, the part of each owner's direct cost that no timed channel holds
    (the direct cost less the timed penalties' and the trades' differences), placed at
    the owner's liquidations (:func:`place_at_liquidations`)."""
    direct = direct_harm(run, base)
    out = {}
    for group, harm in direct.items():
        n = len(harm)
        rest = harm.copy()
        for view, sign in ((run, 1.0), (base, -1.0)):
            _, owner, usd = view.cost_events.get(group, NOTHING)
            rest -= sign * per_owner(owner, usd, n)
        if group == "accounts":
            senders, _, cost = execution_costs(run.fills, base.fills)
            rest -= per_owner(senders, cost, n)
        out[group] = place_at_liquidations(rest, run.liquidation_times.get(group, NOTHING),
                                           base.liquidation_times.get(group, NOTHING))
    return out


def windowed_harm(run: RunView, base: RunView, events: Events, cls: int,
                  after_us: int = AFTER_US, placed: dict[str, Timed] | None = None
                  ) -> dict[str, np.ndarray]:
    """Per owner (USD): the direct cost the design added inside events of class ``cls``,
    the costs placed at liquidations (``placed``, :func:`untimed_costs` by default)
    included."""
    placed = untimed_costs(run, base) if placed is None else placed
    out = {}
    for group in ("accounts", *base.option_tables):
        n = _owners(base, group)
        total = np.zeros(n)
        for (t, owner, usd), sign in ((run.cost_events.get(group, NOTHING), 1.0),
                                      (base.cost_events.get(group, NOTHING), -1.0),
                                      (placed.get(group, NOTHING), 1.0)):
            inside = event_labels(events, t, after_us) == cls
            total += sign * per_owner(owner[inside], usd[inside], n)
        out[group] = total
    senders, submit, cost = execution_costs(run.fills, base.fills)
    inside = event_labels(events, submit, after_us) == cls
    out["accounts"] = out["accounts"] + per_owner(senders[inside], cost[inside],
                                                  len(base.values))
    return out


def calm_variance(reference: tuple[np.ndarray, np.ndarray], events: Events,
                  after_us: int = AFTER_US) -> float:
    """Annualised variance of the reference's 1-minute log returns in calm time (0 when
    there is none)."""
    t, price = reference
    if len(t) < 2:
        return 0.0
    grid = np.arange(int(t[0]), int(t[-1]) + 1, MINUTE, dtype=np.int64)
    r = np.diff(np.log(np.interp(grid, t, price)))
    calm = (event_labels(events, grid[:-1], after_us) < 0) & \
        (event_labels(events, grid[1:], after_us) < 0)
    if not calm.any():
        return 0.0
    return float((r[calm] ** 2).sum() / (calm.sum() * MINUTE / YEAR_US))


def calm_execution(run: RunView, base: RunView, events: Events,
                   after_us: int = AFTER_US) -> dict[str, Parts]:
    """Per perps position type: the execution cost (USD) of the trades submitted in calm
    time, and the notional (USD) those trades moved, for one seed.

    Each account's cost and traded dollars are split between its long and short side as
    its harm is (:func:`seqlab.metrics.premium.premium_parts`), so the two stay paired:
    their ratio is the type's cost per dollar traded."""
    senders, submit, cost, notional = matched_trades(run.fills, base.fills)
    calm = event_labels(events, submit, after_us) < 0
    n, acc = len(base.values), base.accounts
    split = [premium_parts(per_owner(senders[calm], usd[calm], n), acc["long_usd_years"],
                           acc["short_usd_years"], acc["leverage"])
             for usd in (cost, notional)]
    return {k: (split[0][k][0], split[1][k][0]) for k in split[0]}


def event_parts(run: RunView, base: RunView, events: Events, after_us: int = AFTER_US,
                calm_vol: float | None = None) -> dict[str, dict[str, Parts]]:
    """Per position type, for one seed: ``calm_execution → (execution cost, dollars
    traded)`` in calm time, ``calm → (the rest of the calm cost, calm USD·years)`` and, per
    event class, ``class → (cost, average notional × events)``.

    The calm cost has two parts that grow with different things. Trades filled worse than
    under the baseline cost in proportion to the dollars traded, whatever the price does:
    that part is kept per dollar traded, for a calendar's turnover to carry to a year.
    The rest (penalties, stale option sales, fees placed at no liquidation) comes with price
    moves, and calm time on a crash day is itself far more volatile than a calm year: with
    ``calm_vol``, it is scaled by ``calm_vol² / (realised calm variance)``, since a
    deviation-triggered oracle updates about ``σ²/h²`` times per unit of time for a band
    ``h`` and each update is worth about ``h`` to whoever trades ahead of it.
    ``calm_measured`` keeps the whole calm cost as it was measured, per USD·year.
    """
    direct = premium_by_type(run, base, direct_harm(run, base))
    execution = calm_execution(run, base, events, after_us)
    var = calm_variance(base.reference, events, after_us)
    scale = calm_vol ** 2 / var if calm_vol is not None and var > 0 else 1.0
    years = base.horizon_us / YEAR_US
    grid = np.linspace(0, base.horizon_us, 2001).astype(np.int64)
    calm_share = float(np.mean(event_labels(events, grid, after_us) < 0))
    counts = events.counts()
    placed = untimed_costs(run, base)
    out: dict[str, dict[str, Parts]] = {k: {} for k in direct}
    stress_cost = {k: 0.0 for k in direct}
    for i, c in enumerate(events.classes):
        parts = premium_by_type(run, base,
                                windowed_harm(run, base, events, i, after_us, placed))
        for k, (cost, usd_years) in parts.items():
            out[k][c.name] = (cost, usd_years / years * counts[c.name])
            stress_cost[k] += cost
    for k, (cost, usd_years) in direct.items():
        exec_cost, traded = execution.get(k, (0.0, 0.0))
        out[k]["calm_execution"] = (exec_cost, traded)
        out[k]["calm"] = ((cost - stress_cost[k] - exec_cost) * scale, usd_years * calm_share)
        out[k]["calm_measured"] = (cost - stress_cost[k], usd_years * calm_share)
    return out


@dataclass(frozen=True)
class SeedPremium:
    """What ``price`` keeps of one design's run on one seed against that seed's baseline:
    the stress events of the seed's path, the premium's parts per position type, who
    paid, and the run's digest (the whole run can then be let go)."""

    events_seen: dict[str, int]
    parts: dict[str, dict[str, Parts]]
    payers: dict[str, tuple[float, float]]
    digest: str


def seed_premium(run: RunView, base: RunView, calendar: Calendar,
                 after_us: int = AFTER_US) -> SeedPremium:
    """``run`` against ``base`` (the same seed under the baseline), reduced to what the
    premium reads of it."""
    events = find_events(*base.reference, calendar.classes)
    return SeedPremium(events.counts(),
                       event_parts(run, base, events, after_us, calendar.calm_vol),
                       payer_harm(run, base), run.summary["digest"])


def measure_design(seeds: Sequence[SeedPremium], calendar: Calendar) -> dict:
    """A design against the baseline over its seeds' ``seed_premium``: the event-based
    premium of every position type (with significance), the events seen, and who pays."""
    per_type: dict[str, list[dict[str, Parts]]] = {}
    seen = {c.name: 0 for c in calendar.classes}
    for one in seeds:
        for k, v in one.events_seen.items():
            seen[k] += v
        for key, parts in one.parts.items():
            per_type.setdefault(key, []).append(parts)
    premium = {}
    for key, per_seed in per_type.items():
        entry = event_premium(per_seed, calendar.per_year, turnover=calendar.turnover)
        for fig in (entry["calm_bps_per_year"], entry["calm_measured_bps_per_year"],
                    entry["calm_execution_bps_per_year"], entry["calm_other_bps_per_year"],
                    entry["calm_execution_bps_per_traded"],
                    entry["stress_bps_per_year"], entry["annual_bps"],
                    *entry["per_event_bps"].values()):
            fig.update(significance(fig["mean_bps"], fig["ci95_bps"], len(seeds)))
        premium[key] = entry
    return {"premium": premium, "events_seen": seen,
            "who_pays": who_pays([one.payers for one in seeds])}
