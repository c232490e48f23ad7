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
    head = "".join(f"<th>{h}</th>" for h, _ in ROLLUP_COLUMNS)
    body = "".join("<tr>" + "".join(f'<td class="num">{fmt(k, r[k])}</td>'
                                    for _, k in ROLLUP_COLUMNS) + "</tr>" for r in rows)
    return f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


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


def outage_spans(result: Result) -> list[tuple[float, float]]:
    """Outage windows (s) of the world, as the run summary lists them."""
    windows = result.summary.get("outage_windows_s") or []
    return [(float(a), float(b)) for a, b in windows]


def cluster_sections(result: Result, section, fmt) -> list[str]:
    """The several-rollup sections, given the page's section and number formatters."""
    s = result.summary
    out = [f"<h2>Rollups ({s.get('sequencing', '')} sequencing)</h2>",
           rollups_table(s["rollups"], fmt)]
    gaps = result.tables.get("gaps")
    if gaps is not None and len(gaps["t_s"]) and np.isfinite(gaps["gap_bps"]).any():
        out.append(section("Price gap between rollups", gap_figure(gaps, outage_spans(result))))
    if "arbitrage" in s:
        out.append(section("Cross-rollup arbitrage outcomes", arbitrage_figure(s["arbitrage"])))
    return out
