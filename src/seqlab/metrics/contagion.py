"""Several rollups: contagion of outages, price gaps between rollups, arbitrage.

The outage *event* is every sequencer outage in the world (under isolated sequencing that
is rollup ``a``'s, and any random ones; under a shared sequencer, the one outage of all).
For each rollup we count what happened within ``restart_window`` after each restart of
that event — liquidations and bad debt — whether or not the rollup itself was halted,
so a shared and an isolated run of the same world compare rollup by rollup.

The price gap between rollups is, per sequencing round, the dearest rollup's marginal
fill price over the cheapest's, in basis points. The gap *at restart* is the gap in the
last round before the sequencer came back: the dislocation the restart has to resolve.
"""
from __future__ import annotations

import hashlib

import numpy as np

from seqlab.metrics.leg_risk import (cross_operator_summary, leg_risk_summary,
                                     marked_profit_usd)
from seqlab.protocols.perps import PPM
from seqlab.result import Result

# Summary keys that add up over rollups, and those that take the largest.
_SUMS = ("txs", "included", "failed", "blocks", "liquidations", "accounts_liquidated",
         "operator_profit_usd", "lp_value_usd", "user_value_usd", "traded_notional_usd",
         "bad_debt_usd", "fees_usd", "forced_inclusions", "l1_cost_usd", "l1_batches",
         "topups", "liquidation_bonus_usd", "liquidated_usd", "insurance_paid_usd",
         "auction_revenue_usd", "proposer_revenue_usd", "funding_usd", "fees_to_pool_usd",
         "insurance_fund_end_usd")
_MAXES = ("max_censorship_delay_ms", "max_block_gap_ms")
_PER_KEY = ("operator_profit_by_strategy", "liquidation_bonus_by_liquidator", "hedgers",
            "bad_debt_borne_usd")
_ACCOUNT_TABLES = ("accounts", "liquidations")


def event_windows(outages: list[np.ndarray]) -> np.ndarray:
    """All sequencers' outage windows, merged: the world's outage event."""
    rows = sorted(map(tuple, np.concatenate([o.reshape(-1, 2) for o in outages]).tolist()))
    merged: list[list[int]] = []
    for start, end in rows:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return np.asarray(merged, dtype=np.int64).reshape(-1, 2)


def after_restart(t_us: np.ndarray, windows: np.ndarray, window_us: int) -> np.ndarray:
    """Which of the times ``t_us`` fall within ``window_us`` after some restart."""
    hit = np.zeros(len(t_us), dtype=bool)
    for end in windows[:, 1].tolist():
        hit |= (t_us >= end) & (t_us < end + window_us)
    return hit


def gap_bps(mids: np.ndarray) -> np.ndarray:
    """Per round: (dearest − cheapest) / cheapest in bps; NaN until every rollup is priced."""
    lo, hi = mids.min(axis=1), mids.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(lo > 0, (hi - lo) / lo * 1e4, np.nan)


def gap_summary(t_us: np.ndarray, gaps: np.ndarray, windows: np.ndarray) -> dict[str, float]:
    """Mean / p99 / max gap, the largest gap during an outage, and the gap at restart."""
    ok = np.isfinite(gaps)
    out = {"mean_bps": 0.0, "p99_bps": 0.0, "max_bps": 0.0, "max_during_outage_bps": 0.0,
           "at_restart_bps": 0.0}
    if not ok.any():
        return out
    g = gaps[ok]
    out.update(mean_bps=float(g.mean()), p99_bps=float(np.percentile(g, 99)),
               max_bps=float(g.max()))
    for start, end in windows.tolist():
        inside = ok & (t_us >= start) & (t_us < end)
        if inside.any():
            out["max_during_outage_bps"] = max(out["max_during_outage_bps"],
                                               float(gaps[inside].max()))
            out["at_restart_bps"] = max(out["at_restart_bps"],
                                        float(gaps[np.flatnonzero(inside)[-1]]))
    return {k: round(v, 3) for k, v in out.items()}


def rollup_row(name: str, summary: dict, tables: dict, bad_debt: np.ndarray,
               windows: np.ndarray, window_us: int) -> dict:
    """One rollup's line of the contagion table (``bad_debt``: its ``BAD_DEBT`` rows)."""
    liq_t = np.round(tables["liquidations"]["t_s"] * 1e6).astype(np.int64)
    debt_after = bad_debt["amount"][after_restart(bad_debt["t_us"], windows, window_us)].sum()
    return {"rollup": name, "design": summary["design"], "halted": summary["downtime_s"] > 0,
            "downtime_s": summary["downtime_s"], "blocks": summary["blocks"],
            "liquidations": summary["liquidations"],
            "liquidations_after_restart": int(after_restart(liq_t, windows, window_us).sum()),
            "bad_debt_usd": summary["bad_debt_usd"],
            "bad_debt_after_restart_usd": round(int(debt_after) / PPM, 2),
            "user_value_usd": summary["user_value_usd"],
            "lp_value_usd": summary["lp_value_usd"], "digest": summary["digest"]}


def combined_summary(summaries: list[dict]) -> dict:
    """Rollup ``a``'s summary with the additive figures summed over every rollup."""
    out = dict(summaries[0])
    for key in _SUMS:
        if key in out:
            out[key] = round(sum(s[key] for s in summaries), 2)
    for key in _MAXES:
        if key in out:
            out[key] = max(s[key] for s in summaries)
    for key in _PER_KEY:
        if key in out:
            out[key] = {k: round(sum(s[key].get(k, 0.0) for s in summaries), 2)
                        for k in out[key]}
    bonus = out.get("liquidation_bonus_usd", 0)
    if bonus:
        op = sum(s["operator_bonus_share"] * s["liquidation_bonus_usd"] for s in summaries)
        out["operator_bonus_share"] = round(op / bonus, 4)
    out["digest"] = hashlib.sha256("".join(s["digest"] for s in summaries).encode()
                                   ).hexdigest()
    return out


def combined_tables(tables: list[dict], users: list[int]) -> dict:
    """Each table stacked over rollups with a ``rollup`` column; account numbers offset
    so that every user of every rollup has one number."""
    out: dict[str, dict[str, np.ndarray]] = {}
    offsets = np.r_[0, np.cumsum(users)[:-1]]
    for name in tables[0]:
        if not all(name in t and t[name].keys() == tables[0][name].keys() for t in tables):
            continue
        cols = {}
        for col in tables[0][name]:
            parts = [t[name][col] for t in tables]
            if name in _ACCOUNT_TABLES and col == "account":
                parts = [p + off for p, off in zip(parts, offsets)]
            cols[col] = np.concatenate(parts)
        cols["rollup"] = np.concatenate([np.full(len(next(iter(t[name].values()))), k,
                                                 dtype=np.int64) for k, t in enumerate(tables)])
        out[name] = cols
    return out


def cluster_result(cluster, results: list[Result], gap_t: np.ndarray,
                   mids: np.ndarray, names: str) -> Result:
    """One Result for the whole world: combined figures, per-rollup contagion rows, gaps
    and arbitrage; ``names`` name the rollups in order."""
    sc = cluster.sc
    windows = event_windows([c.outages for c in cluster.chains])
    window_us = sc.rollups.restart_window
    summaries = [r.summary for r in results]
    rows = [rollup_row(names[k], r.summary, r.tables, c.protocol.market_view().bad_debt(),
                       windows, window_us)
            for k, (c, r) in enumerate(zip(cluster.chains, results))]
    gaps = gap_bps(mids)
    summary = combined_summary(summaries)
    summary["rollups"] = rows
    summary["sequencing"] = sc.rollups.sequencing
    summary["outage_windows_s"] = (windows / 1e6).tolist()
    summary["contagion"] = {
        "rollups_halted": int(sum(r["halted"] for r in rows)),
        "liquidations_after_restart": int(sum(r["liquidations_after_restart"] for r in rows)),
        "bad_debt_after_restart_usd": round(sum(r["bad_debt_after_restart_usd"] for r in rows),
                                            2),
        "price_gap": gap_summary(gap_t, gaps, windows)}
    tables = combined_tables([r.tables for r in results], [c.users for c in cluster.chains])
    tables["gaps"] = {"t_s": gap_t / 1e6, "gap_bps": gaps,
                      **{f"mid_{names[k]}": mids[:, k] for k in range(mids.shape[1])}}
    tables["rollups"] = {k: np.asarray([r[k] for r in rows]) for k in rows[0]}
    if cluster.arbs is not None:
        summary["arbitrage"] = arbitrage_summary(cluster)
        summary["leg_risk"] = leg_risk_summary(cluster, names)
        tables["arbitrage"] = cluster.arbs.table()
    if cluster.bundles is not None and cluster.bundles.operator is not None:
        summary["cross_operator"] = cross_operator_summary(cluster)
    return Result(summary, tables)


def arbitrage_summary(cluster) -> dict:
    """Attempts by outcome, volume, and the arbitrageurs' profit (marked at the end)."""
    arbs = cluster.arbs
    table = arbs.table()
    outcome = table["outcome"]
    cfg = cluster.sc.agents.arbitrageurs
    return {"attempts": int(len(outcome)),
            **{k: int((outcome == k).sum()) for k in ("filled", "failed_leg", "both_failed",
                                                     "reverted")},
            "bundles": int(cluster.bundles.sent if cluster.bundles is not None else 0),
            "volume_usd": round(float(table["size_usd"][outcome == "filled"].sum()), 2),
            "profit_usd": marked_profit_usd(cluster, arbs.account0, cfg.count,
                                            cfg.capital_usd)}


def contagion_metrics(summary: dict) -> dict[str, float]:
    """The figures ``compare`` tabulates for a several-rollup run ({} for one rollup)."""
    c = summary.get("contagion")
    if not c:
        return {}
    arb = summary.get("arbitrage", {})
    return {"rollups_halted": c["rollups_halted"],
            "liquidations_after_restart": c["liquidations_after_restart"],
            "bad_debt_after_restart_usd": c["bad_debt_after_restart_usd"],
            "gap_at_restart_bps": c["price_gap"]["at_restart_bps"],
            "max_gap_bps": c["price_gap"]["max_bps"],
            "failed_legs": arb.get("failed_leg", 0),
            "unwind_cost_usd": summary.get("leg_risk", {}).get("unwind_cost_usd", 0.0),
            "cross_operator_profit_usd": summary.get("cross_operator", {}).get("profit_usd",
                                                                                0.0),
            "reverted_bundles": arb.get("reverted", 0),
            "arbitrage_profit_usd": arb.get("profit_usd", 0.0)}
