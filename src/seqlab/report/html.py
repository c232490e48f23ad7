"""A single self-contained HTML report for one Result.

The file embeds plotly.js once and references nothing external, so it opens offline and can be
archived or mailed as is. Big tables are aggregated (binned, downsampled) in numpy before
plotting, so the file stays small (plotly.js itself is ~5 MB) even for millions of txs.
"""
from __future__ import annotations

import html
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqlab.report.page import (Card, Headline, count, figure, folded, header_div, ms, render_page,
                                usd, write_page)
from seqlab.report.page import note as _note
from seqlab.report.page import section as _section
from seqlab.result import Result, Table

__all__ = ["write_report"]

# Above this many plotted points a trace is drawn with WebGL (Scattergl) to stay responsive.
GL_THRESHOLD = 20_000
# The reference price is thinned to at most this many points (every k-th point).
MAX_REFERENCE_POINTS = 5_000
# Liquidation scatter points kept at most (every k-th), so huge runs stay small.
MAX_SCATTER_POINTS = 20_000
# Above this many included txs, the latency histogram is binned in numpy and drawn as a Bar.
LATENCY_BIN_THRESHOLD = 200_000
MAX_LATENCY_BINS = 400
LIQUIDATION_BIN_S = 300.0  # 5 simulated minutes
# One line under each figure's title: what it measures here.
EXPLAIN = {
    "price": "The world's reference price against the on-chain oracle (a step each update) "
             "and, where liquidations are hedged, the L2 venue: the gap between reference "
             "and oracle is what stale-oracle liquidations feed on.",
    "liquidations": "Liquidations per 5 simulated minutes (grey bars) and the size of each, by "
                    "liquidator: bursts follow price drops; who wins them shows who has the "
                    "latency edge.",
    "latency": "Time from a transaction's submission to its inclusion in an L2 block, every "
               "included transaction; dashed: median, dotted: 99th percentile.",
    "bonus": "Liquidation bonus (USD) paid to each liquidator: concentration on one means a "
             "latency or ordering edge pays.",
    "stages": "How long a user waits for each level of assurance: soft confirmation by the "
              "sequencer, the batch posted to L1, L1 finality (p50 and p99, log scale).",
    "vol": "Realized volatility annualised from 1-minute log returns of the simulated path "
           "(std × √525,600), jumps included: a jump, or a short run, annualised this way "
           "lands far above the volatility the scenario configures for the diffusion, so "
           "compare the two bars with each other, not with that setting.",
}


# ---------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------


def write_report(result: Result, path: str | Path, title: str | None = None) -> Path:
    """Write ``result`` as one offline HTML file at ``path`` (atomically) and return the path."""
    return write_page(path, render_html(result, title))


def render_html(result: Result, title: str | None = None) -> str:
    """Build the whole HTML document as a string (kept separate so it is testable in memory)."""
    summary = result.summary
    title = title or f"seqlab report: {summary.get('scenario', 'run')}"
    body = []
    if "seqmarket" in summary or "market" in summary:  # bought sequencing: the market first
        from seqlab.report.market_html import market_sections

        body += market_sections(summary, _format_value)
    if "rollups" in summary:  # several rollups: their own sections, then rollup a's figures
        from seqlab.report.cluster_html import cluster_sections, first_rollup

        body += cluster_sections(result, _format_value)
        body.append('<p class="note">The figures below show rollup a.</p>')
        result = first_rollup(result)
    body += _figure_sections(result)
    body.append(folded("Full summary: every figure of the run", _summary_table(summary)))
    return render_page(title, body, header=_header_line(summary), headline=run_headline(summary))



# ---------------------------------------------------------------------------------------------
# Header, headline and summary table
# ---------------------------------------------------------------------------------------------


def _header_line(summary: Mapping[str, Any]) -> str:
    """One line identifying the run, so a saved report can be matched to its inputs."""
    fields = [
        ("scenario", summary.get("scenario", "?")),
        ("design", summary.get("design", "?")),
        ("seed", summary.get("seed", "?")),
    ]
    return header_div(fields, digest=summary.get("digest", "?"))


def run_headline(s: Mapping[str, Any]) -> Headline:
    """Operator profit, liquidations, p99 inclusion latency and bad debt, and a sentence."""
    p99 = (s.get("latency_ms") or {}).get("p99")
    figures = [figure("operator profit", s.get("operator_profit_usd")),
               figure("liquidations", s.get("liquidations"), fmt=count),
               figure("p99 inclusion latency", p99, fmt=ms),
               figure("bad debt", s.get("bad_debt_usd"))]
    headline = Headline(_run_reading(s, p99), [Card(figures)])
    if "rollups" in s:
        from seqlab.report.cluster_html import cluster_cards, cluster_reading

        headline.cards += cluster_cards(s)
        headline.reading += " " + cluster_reading(s)
    if "seqmarket" in s or "market" in s:
        from seqlab.report.market_html import market_cards, market_reading

        headline.cards += market_cards(s)
        headline.reading += " " + market_reading(s)
    return headline


def _run_reading(s: Mapping[str, Any], p99: float | None) -> str:
    """One sentence from the numbers; parts whose figures the summary lacks are left out."""
    first = f"Under {s.get('design', '?')}"
    if s.get("sim_duration_s"):
        first += f", over {_duration(float(s['sim_duration_s']))} of simulated time"
    start, end = s.get("price_start"), s.get("price_end")
    if start and end is not None:
        first += (f" the price went from {float(start):,.2f} to {float(end):,.2f} "
                  f"({float(end) / float(start) - 1:+.1%})")
    parts = [first]
    if s.get("liquidations") is not None:
        text = f"{count(s['liquidations'])} liquidations"
        if s.get("liquidated_usd"):
            text += f" closed {usd(s['liquidated_usd'])} of positions"
        parts.append(text)
    gap = s.get("liquidation_gap") or {}
    if gap.get("count"):
        parts.append(f"{gap['within_1s_share']:.0%} of them landed within 1 s of the oracle "
                     f"update that made them possible ({gap['same_block_share']:.0%} in its "
                     f"own block, {gap['within_12s_share']:.0%} within 12 s)")
    if s.get("operator_profit_usd") is not None:
        parts.append(f"the operator made {usd(s['operator_profit_usd'])}")
    if p99 is not None:
        parts.append(f"99 % of transactions were included within {ms(p99)}")
    auction = s.get("auction") or {}
    if auction.get("takes"):  # Dutch auctions: how far below the oracle they cleared
        parts.append(f"{count(auction['takes'])} auction takes cleared at a median "
                     f"discount of {auction['median_discount']:.1%} (at most "
                     f"{auction['max_discount']:.1%})")
    if s.get("bad_debt_usd"):
        parts.append(f"bad debt reached {usd(s['bad_debt_usd'])}")
    return "; ".join(parts) + "."


def _duration(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:g} d"
    if seconds >= 3_600:
        return f"{seconds / 3_600:g} h"
    return f"{seconds / 60:g} min"


def _flatten(summary: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, scalar)`` pairs; nested dicts flatten, non-scalars are skipped."""
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _flatten(value, prefix=f"{name}.")
        elif isinstance(value, (str, bool, int, float, np.generic)) or value is None:
            yield name, value.item() if isinstance(value, np.generic) else value


def _format_value(key: str, value: Any) -> str:
    """Readable text for one summary value (thousands separators, sensible precision)."""
    if value is None:
        return "&ndash;"
    if isinstance(value, bool) or isinstance(value, str):
        return esc(value)
    if isinstance(value, int):
        # Seeds are identifiers, not quantities: no separators.
        return str(value) if key.rsplit(".", 1)[-1] == "seed" else f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        if abs(value) >= 1:
            return f"{value:,.2f}" if abs(value) < 1e15 else f"{value:.4g}"
        return f"{value:.4g}"
    return esc(value)


def _summary_table(summary: Mapping[str, Any]) -> str:
    """HTML table of every scalar summary entry, so no number needs the JSON to be read."""
    rows = []
    for key, value in _flatten(summary):
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        css = ' class="num"' if numeric else (' class="mono"' if key == "digest" else "")
        rows.append(f"<tr><th>{esc(key)}</th><td{css}>{_format_value(key, value)}</td></tr>")
    if not rows:
        return '<p class="note">empty summary</p>'
    return '<table class="summary">' + "".join(rows) + "</table>"


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figure_sections(result: Result) -> list[str]:
    """All figure sections in order; a missing or empty table becomes a short note."""
    sections = []
    tables = result.tables
    sections.append(_section("Price: reference vs oracle", _price_figure(tables.get("prices")),
                             EXPLAIN["price"]))
    liq = tables.get("liquidations")
    if table_rows(liq):
        sections.append(_section("Liquidations over time", _liquidations_figure(liq),
                                 EXPLAIN["liquidations"]))
    else:
        sections.append(_note("Liquidations over time", "no liquidations in this run"))
    sections.append(
        _section(
            "Inclusion latency distribution",
            _latency_figure(tables.get("txs"), result.summary.get("latency_ms")),
            EXPLAIN["latency"],
        )
    )
    bonus = result.summary.get("liquidation_bonus_by_liquidator") or {}
    if bonus:
        sections.append(_section("Liquidation bonus by liquidator", _bonus_figure(bonus),
                                 EXPLAIN["bonus"]))
    if result.summary.get("stage_latency_ms"):
        sections.append(_section("Settlement stages", _stage_figure(result.summary),
                                 EXPLAIN["stages"]))
    if "venue_realized_vol" in result.summary:
        sections.append(_section("Volatility distortion", _vol_figure(result.summary),
                                 EXPLAIN["vol"]))
    return sections


def _stage_figure(summary: Mapping[str, Any]) -> go.Figure:
    """Submission to soft confirmation, to the batch on L1, to L1 finality (p50 and p99):
    what a user waits for at each level of assurance."""
    st = summary["stage_latency_ms"]
    stages = [s for s in ("soft", "posted", "final") if f"{s}_p50" in st]
    fig = go.Figure()
    for q in ("p50", "p99"):
        fig.add_trace(go.Bar(x=stages, y=[st[f"{s}_{q}"] / 1000.0 for s in stages], name=q))
    fig.update_yaxes(title_text="seconds after submission (log scale)", type="log")
    return fig


def _vol_figure(summary: Mapping[str, Any]) -> go.Figure:
    """Realized volatility of the reference and of the L2 venue where liquidations are
    hedged: the gap is the volatility the liquidations put into the L2 market."""
    ref, venue = summary["reference_realized_vol"], summary["venue_realized_vol"]
    fig = go.Figure(go.Bar(x=["reference", "L2 venue"], y=[ref * 100, venue * 100],
                           text=[f"{ref:.1%}", f"{venue:.1%}"], textposition="outside"))
    fig.update_yaxes(title_text="annualised realized volatility (%), 1-minute returns")
    fig.update_layout(annotations=[dict(
        x=1, y=venue * 100, yshift=30, showarrow=False,
        text=f"distortion {summary.get('vol_distortion', 0):+.1%}")])
    return fig


def _price_figure(prices: Table | None) -> go.Figure | None:
    """Reference vs on-chain oracle price: the gap between the two lines is the staleness risk."""
    if not table_rows(prices):
        return None
    t_h = np.asarray(prices["t_s"], dtype=np.float64) / 3600.0
    reference = np.asarray(prices["reference"], dtype=np.float64)
    oracle = np.asarray(prices["oracle"], dtype=np.float64)

    ref_idx = _every_kth(len(t_h), MAX_REFERENCE_POINTS)
    step_idx = _step_change_points(oracle)
    fig = go.Figure()
    fig.add_trace(
        _scatter_cls(len(ref_idx))(
            x=t_h[ref_idx], y=reference[ref_idx], mode="lines", name="reference"
        )
    )
    fig.add_trace(
        _scatter_cls(len(step_idx))(
            x=t_h[step_idx], y=oracle[step_idx], mode="lines", name="oracle", line_shape="hv"
        )
    )
    if "venue" in prices:  # where liquidations are hedged: their price impact shows here
        venue = np.asarray(prices["venue"], dtype=np.float64)
        fig.add_trace(_scatter_cls(len(ref_idx))(
            x=t_h[ref_idx], y=venue[ref_idx], mode="lines", name="L2 venue",
            line=dict(dash="dot", width=1)))
    fig.update_xaxes(title_text="time (h)")
    fig.update_yaxes(title_text="price (USD)")
    return fig


def _liquidations_figure(liq: Table) -> go.Figure:
    """Liquidation counts per 5 simulated minutes, plus their sizes by liquidator: shows bursts."""
    t_s = np.asarray(liq["t_s"], dtype=np.float64)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    # Binned in numpy: the figure carries one number per 5-minute bin, not one per liquidation.
    n_bins = int(np.floor(t_s.max() / LIQUIDATION_BIN_S)) + 1 if t_s.size else 1
    n_bins = max(n_bins, 1)
    counts = np.bincount(np.clip((t_s // LIQUIDATION_BIN_S).astype(np.int64), 0, None),
                         minlength=n_bins)
    bin_h = LIQUIDATION_BIN_S / 3600.0
    centers_h = (np.arange(len(counts)) + 0.5) * bin_h
    fig.add_trace(
        go.Bar(x=centers_h, y=counts, width=bin_h, name="liquidations / 5 min",
               marker_color="#bbbbbb"),
        secondary_y=False,
    )
    if "closed_usd" in liq and "liquidator" in liq:
        _add_closed_scatter(fig, t_s, liq)
        fig.update_yaxes(title_text="closed (USD)", secondary_y=True)
    fig.update_xaxes(title_text="time (h)")
    fig.update_yaxes(title_text="liquidations per 5 min", secondary_y=False)
    fig.update_layout(bargap=0)
    return fig


def _add_closed_scatter(fig: go.Figure, t_s: np.ndarray, liq: Table) -> None:
    """One marker trace per liquidator (thinned if huge), so competition is visible."""
    idx = _every_kth(len(t_s), MAX_SCATTER_POINTS)
    t_h = t_s[idx] / 3600.0
    closed = np.asarray(liq["closed_usd"], dtype=np.float64)[idx]
    who = np.asarray(liq["liquidator"])[idx].astype(str)
    step = math.ceil(len(t_s) / MAX_SCATTER_POINTS)
    suffix = "" if step <= 1 else f" (1 in {step} shown)"
    cls = _scatter_cls(len(idx))
    for name in np.unique(who):
        mask = who == name
        fig.add_trace(
            cls(x=t_h[mask], y=closed[mask], mode="markers", name=f"{name}{suffix}",
                marker=dict(size=6, opacity=0.75)),
            secondary_y=True,
        )


def _latency_figure(txs: Table | None, latency_ms: Mapping[str, Any] | None) -> go.Figure | None:
    """Distribution of submit-to-inclusion latency; the tail (p99) is what liquidators race on."""
    if not table_rows(txs):
        return None
    included = np.asarray(txs["included_us"], dtype=np.int64)
    submit = np.asarray(txs["submit_us"], dtype=np.int64)
    mask = included >= 0
    if not mask.any():
        return None
    lat_ms = (included[mask] - submit[mask]) / 1000.0
    fig = go.Figure()
    if lat_ms.size > LATENCY_BIN_THRESHOLD:
        counts, edges = _histogram(lat_ms)
        fig.add_trace(
            go.Bar(x=(edges[:-1] + edges[1:]) / 2, y=counts, width=np.diff(edges), name="txs")
        )
        fig.update_layout(bargap=0)
    else:
        fig.add_trace(go.Histogram(x=lat_ms.astype(np.float32), name="txs"))
    for label, value, dash in _latency_marks(lat_ms, latency_ms):
        fig.add_vline(x=value, line_dash=dash, line_color="#d62728",
                      annotation_text=f"{label} {value:,.1f} ms", annotation_position="top right")
    fig.update_xaxes(title_text="inclusion latency (ms)")
    fig.update_yaxes(title_text="txs")
    fig.update_layout(showlegend=False)
    return fig


def _latency_marks(
    lat_ms: np.ndarray, latency_ms: Mapping[str, Any] | None
) -> list[tuple[str, float, str]]:
    """p50/p99 positions: the summary's values when given (one source of truth), else computed."""
    marks = []
    for label, q, dash in (("p50", 50, "dash"), ("p99", 99, "dot")):
        value = (latency_ms or {}).get(label)
        if value is None or not np.isfinite(value):
            value = float(np.percentile(lat_ms, q))
        marks.append((label, float(value), dash))
    return marks


def _histogram(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """numpy histogram with a capped bin count, so a 2M-row table becomes a few hundred bars."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        hi = lo + 1.0
    try:
        edges = np.histogram_bin_edges(values, bins="auto", range=(lo, hi))
    except (ValueError, MemoryError):
        edges = np.linspace(lo, hi, MAX_LATENCY_BINS + 1)
    if len(edges) - 1 > MAX_LATENCY_BINS:
        edges = np.linspace(lo, hi, MAX_LATENCY_BINS + 1)
    return np.histogram(values, bins=edges)


def _bonus_figure(bonus: Mapping[str, Any]) -> go.Figure:
    """Who captured the liquidation bonus: concentration here means a latency edge pays."""
    items = sorted(bonus.items(), key=lambda kv: float(kv[1]), reverse=True)
    fig = go.Figure(
        go.Bar(x=[str(k) for k, _ in items], y=[float(v) for _, v in items], name="bonus")
    )
    fig.update_xaxes(title_text="liquidator")
    fig.update_yaxes(title_text="bonus (USD)")
    return fig


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def table_rows(table: Table | None) -> int:
    """Row count of a table, 0 when it is absent or has no columns."""
    if not table:
        return 0
    return len(next(iter(table.values())))


def _scatter_cls(n_points: int) -> type[go.Scatter] | type[go.Scattergl]:
    """WebGL traces for many points (SVG gets slow beyond tens of thousands)."""
    return go.Scattergl if n_points > GL_THRESHOLD else go.Scatter


def _every_kth(n: int, max_points: int) -> np.ndarray:
    """Indices of every k-th point (plus the last) so at most ~max_points remain."""
    if n <= max_points:
        return np.arange(n)
    k = math.ceil(n / max_points)
    idx = np.arange(0, n, k)
    if idx[-1] != n - 1:
        idx = np.append(idx, n - 1)
    return idx


def _step_change_points(values: np.ndarray) -> np.ndarray:
    """Indices where a step series changes (plus first and last): lossless for an 'hv' line."""
    n = len(values)
    if n <= 2:
        return np.arange(n)
    prev, cur = values[:-1], values[1:]
    same = (cur == prev) | (np.isnan(cur) & np.isnan(prev))
    keep = np.concatenate(([True], ~same))
    keep[-1] = True
    return np.flatnonzero(keep)


def esc(value: Any) -> str:
    """HTML-escape any value's text."""
    return html.escape(str(value), quote=True)
