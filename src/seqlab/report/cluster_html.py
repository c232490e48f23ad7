"""Report sections for a world of several rollups: contagion, price gaps, arbitrage.

The usual figures show rollup ``a`` (the one a one-rollup run would show); these
sections add what only several rollups have: which rollups an outage halted and what it
did to each, the price gap between rollups over time with the outages shaded, and how
the cross-rollup arbitrage attempts ended.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import plotly.graph_objects as go

from seqlab.report.page import Card, count, figure, section, usd
from seqlab.result import Result, Table

ROLLUP_COLUMNS = (("rollup", "rollup"), ("halted", "halted"), ("downtime (s)", "downtime_s"),
                  ("blocks", "blocks"), ("liquidations", "liquidations"),
                  ("liquidations after restart", "liquidations_after_restart"),
                  ("bad debt (USD)", "bad_debt_usd"),
                  ("bad debt after restart (USD)", "bad_debt_after_restart_usd"),
                  ("user value (USD)", "user_value_usd"))


def first_rollup(result: Result) -> Result:
    """The Result's tables cut to rollup ``a``, for the one-rollup figures."""
    tables = {}
    for name, table in result.tables.items():
        if "rollup" in table and name not in ("rollups",):
            keep = table["rollup"] == 0
            tables[name] = {k: v[keep] for k, v in table.items() if k != "rollup"}
        else:
            tables[name] = table
    return Result(result.summary, tables)


def rollups_table(rows: list[Mapping[str, Any]], fmt) -> str:
    """One line per rollup: what the outage did to it."""
    return columns_table(rows, ROLLUP_COLUMNS, fmt)


def columns_table(rows: list[Mapping[str, Any]], columns, fmt) -> str:
    """One line per row: ``columns`` are (heading, key) pairs, values through ``fmt``."""
    head = "".join(f"<th>{h}</th>" for h, _ in columns)
    body = "".join("<tr>" + "".join(f'<td class="num">{fmt(k, r[k])}</td>'
                                    for _, k in columns) + "</tr>" for r in rows)
    return (f'<table class="summary fit"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
            "</table>")


def gap_figure(gaps: Table, outages: list[tuple[float, float]]) -> go.Figure:
    """The dearest rollup's price over the cheapest's (bps) through the run; shaded: the
    sequencer outages. A gap that only arbitrage can close opens while one rollup is
    halted and the other keeps trading."""
    t_min = gaps["t_s"] / 60.0
    step = max(len(t_min) // 5000, 1)
    fig = go.Figure(go.Scatter(x=t_min[::step], y=gaps["gap_bps"][::step], mode="lines",
                               name="gap between rollups"))
    for start, end in outages:
        fig.add_vrect(x0=start / 60.0, x1=end / 60.0, fillcolor="red", opacity=0.12,
                      line_width=0, annotation_text="outage", annotation_position="top left")
    fig.update_xaxes(title_text="minutes")
    fig.update_yaxes(title_text="price gap (bps)")
    return fig


def arbitrage_figure(arbitrage: Mapping[str, Any]) -> go.Figure:
    """How the arbitrage attempts ended: both legs filled, one leg only (leg risk, then
    unwound), both failed, or a bundle the shared sequencer dropped whole."""
    names = ["filled", "failed_leg", "both_failed", "reverted"]
    fig = go.Figure(go.Bar(x=names, y=[arbitrage.get(n, 0) for n in names],
                           text=[arbitrage.get(n, 0) for n in names], textposition="outside"))
    fig.update_yaxes(title_text="attempts")
    return fig


def leg_risk_text(summary: Mapping[str, Any]) -> str:
    """One paragraph on leg risk (and on a shared operator's copies), where the run has
    arbitrageurs."""
    r = summary.get("leg_risk")
    if not r:
        return ""
    where = ", ".join(f"{count(v)} on rollup {k.rsplit('_', 1)[-1]}" for k, v in r.items()
                      if k.startswith("reverted_on_") and v)
    text = (f"Legs executed as {r['execution']}: of {count(r['sent'])} pairs sent, "
            f"{count(r['both_executed'])} executed on both rollups and "
            f"{count(r['one_leg_reverted'])} left one leg filled alone"
            f"{' (' + where + ')' if where else ''}: {usd(r['unhedged_usd'])} of naked "
            f"positions, {usd(r['unwind_cost_usd'])} to unwind them. "
            f"{count(r['stopped_arbitrageurs'])} arbitrageurs hit their loss limit.")
    op = summary.get("cross_operator")
    if op:
        text += (f" The shared operator copied {count(op['copies'])} bundles ahead of their "
                 f"legs ({usd(op['notional_usd'])} traded), ending {usd(op['profit_usd'])} "
                 "up.")
    return f'<p class="explain">{text}</p>'


def outage_spans(result: Result) -> list[tuple[float, float]]:
    """Outage windows (s) of the world, as the run summary lists them."""
    windows = result.summary.get("outage_windows_s") or []
    return [(float(a), float(b)) for a, b in windows]


def cluster_cards(summary: Mapping[str, Any]) -> list[Card]:
    """Headline card per rollup: whether it halted, its liquidations (after the restart),
    its bad debt."""
    cards = []
    for r in summary.get("rollups") or []:
        cards.append(Card([
            figure("downtime (s)", r.get("downtime_s"), fmt=count),
            figure("liquidations", r.get("liquidations"), fmt=count),
            figure("of which after restart", r.get("liquidations_after_restart"), fmt=count),
            figure("bad debt", r.get("bad_debt_usd"), fmt=usd)],
            title=f"rollup {r.get('rollup', '?')}", tag="halted" if r.get("halted") else None,
            muted=not r.get("halted")))
    return cards


def cluster_reading(summary: Mapping[str, Any]) -> str:
    """A sentence on what the outage spread to."""
    rows, c = summary.get("rollups") or [], summary.get("contagion") or {}
    text = (f"{c.get('rollups_halted', 0)} of {len(rows)} rollups halted "
            f"({summary.get('sequencing', '?')} sequencing); "
            f"{count(c.get('liquidations_after_restart', 0))} liquidations came after a restart")
    gap = (c.get("price_gap") or {}).get("max_bps")
    if gap is not None:
        text += f", and the price gap between rollups reached {float(gap):,.0f} bps"
    return text + "."


def cluster_sections(result: Result, fmt) -> list[str]:
    """The several-rollup sections, given the page's number formatter."""
    s = result.summary
    out = [f"<h2>Rollups ({s.get('sequencing', '')} sequencing)</h2>",
           '<p class="explain">What the outage did to each rollup: downtime, liquidations '
           "(those after its restart are the contagion), bad debt and user value.</p>",
           rollups_table(s["rollups"], fmt)]
    gaps = result.tables.get("gaps")
    if gaps is not None and len(gaps["t_s"]) and np.isfinite(gaps["gap_bps"]).any():
        out.append(section("Price gap between rollups", gap_figure(gaps, outage_spans(result)),
                           "The dearest rollup's price over the cheapest's, in basis points; "
                           "red bands: sequencer outages."))
    if "arbitrage" in s:
        out.append(section("Cross-rollup arbitrage outcomes", arbitrage_figure(s["arbitrage"]),
                           "How the cross-rollup arbitrage attempts ended: a failed leg leaves "
                           "the arbitrageur exposed until it unwinds."))
        out.append(leg_risk_text(s))
    return out
