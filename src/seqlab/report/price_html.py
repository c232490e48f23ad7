"""The page of ``seqlab price``: the sequencer risk premium carried into option prices.

Same skeleton as the other reports (:mod:`seqlab.report.html`): one offline file, plotly.js
inlined once, atomic write. Input: a Result of :func:`seqlab.experiments.price.price` (or
:func:`~seqlab.experiments.price.price_surface`): ``summary`` with ``position``,
``premium_bps`` {mean, ci95}, ``spot``, ``sigma``, optionally ``premium_table`` (every
position type), ``scenario``, ``design``, ``baseline``, ``seeds``; table ``surface``.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from seqlab.report.compare_html import (EXTRA_CSS, format_cell, half_width,
                                        interval_text, significance_text, who_pays_table)
from seqlab.report.html import esc, table_rows
from seqlab.report.page import Card, Headline, Figure, figure, folded, header_div, render_page
from seqlab.report.page import note as _note
from seqlab.report.page import section as _section
from seqlab.report.page import write_page
from seqlab.result import Result, Table

__all__ = ["write_price_report", "render_price_html"]

_COLORS = qualitative.Plotly
_PRICE_CSS = "tr.priced td, tr.priced th { background: #fff7e0; }\n"
_NAN_NOTE = ("no price: the cell fails a no-arbitrage check (flags: bounds, monotone, convex, "
             "calendar) at the premium or an end of its interval; n/a: no implied volatility.")


def write_price_report(result: Result, path: str | Path, title: str | None = None) -> Path:
    """Write the pricing ``result`` as one offline HTML file at ``path`` (atomically)."""
    return write_page(path, render_price_html(result, title))


def render_price_html(result: Result, title: str | None = None) -> str:
    """The whole pricing document as a string: the reading first, then per design the
    premium by position type, who pays, and the term sheet; figures for the first."""
    s = result.summary
    title = title or f"seqlab price: {s.get('scenario', 'options')}"
    surface = result.tables.get("surface")
    page = dict(extra_css=EXTRA_CSS + _PRICE_CSS, header=_price_header(s),
                headline=price_headline(s, surface))
    body = []
    if s.get("calendar_text"):
        body.append(f'<p class="explain">Calendar: {esc(s["calendar_text"])}.</p>')
    for name, d in (s.get("per_design") or {"": s}).items():
        label = f" under {name}" if name else ""
        body += [f"<h2>Sequencer risk premium by position type{esc(label)}</h2>",
                 '<p class="explain">Yearly cost of the design to each position type against '
                 "the baseline, in basis points of notional: the calm-market rate plus the "
                 "cost per stress event times the calendar's events per year.</p>",
                 _premium_table({**s, **d})]
        if d.get("who_pays"):
            body.append(who_pays_table(d["who_pays"]))
        if table_rows(surface):
            body.append(_surface_table(_design_rows(surface, name)))
    if not table_rows(surface):
        body.append(_note("Option prices", "no surface in this result"))
        return render_page(title, body, **page)
    first = _design_rows(surface, s.get("design", ""))
    undefined = int(np.isnan(np.asarray(first["iv_shift"], dtype=float)).sum())
    body.append(_section("Surface distortion: implied-volatility shift (vol bps)",
                         _distortion_figure(first),
                         "How much volatility an option market must add to Black-Scholes to "
                         "carry the premium, per strike and expiry."))
    body.append(f'<p class="caption">{esc(_distortion_caption(s, undefined))}</p>')
    body.append(_section("Premium-adjusted vs Black-Scholes price across strikes",
                         _price_figure(first),
                         "Option prices with the premium against plain Black-Scholes, one "
                         "colour per expiry."))
    body.append('<p class="caption">Dashed: Black-Scholes at the pricing volatility; solid: '
                "with the premium; bars: the premium's 95 % interval. Cells that fail a "
                "no-arbitrage check have no price and are left out.</p>")
    return render_page(title, body, **page)


def _design_rows(surface: Table, design: str) -> Table:
    """The rows of one design (all rows when the table has no design column)."""
    if "design" not in surface or not design:
        return surface
    keep = np.asarray(surface["design"]).astype(str) == design
    return {k: np.asarray(v)[keep] for k, v in surface.items()}


def price_headline(s: Mapping[str, Any], surface: Table | None) -> Headline:
    """The reading paragraph, and per design the priced premium with its interval."""
    position = s.get("position", "?")
    cards = []
    for name, d in (s.get("per_design") or {s.get("design", ""): s}).items():
        p = d.get("premium_bps") or {}
        ci = p.get("ci95") if half_width(p.get("ci95")) is not None else None
        figures = [figure(f"premium, {position} (bps/yr)", p.get("mean"), ci, _bps)]
        if p.get("seeds_needed") and not p.get("significant"):
            figures.append(Figure("seeds needed", f"~{p['seeds_needed']}"))
        counts = d.get("counts") or {}
        if counts:
            figures.append(Figure("flagged cells", f"{counts.get('flagged', 0)} of "
                                                   f"{counts.get('cells', 0)}"))
        cards.append(Card(figures, title=name or None))
    reading = s.get("reading")
    if not reading:
        p = s.get("premium_bps") or {}
        reading = f"Priced for {position}"
        if p.get("mean") is not None:
            verb = "costs" if float(p["mean"]) >= 0 else "saves (a negative cost)"
            reading += f", the sequencer {verb} {_bps(p['mean'])} bps of notional per year"
            if half_width(p.get("ci95")) is not None:
                reading += f" [{_bps(p['ci95'][0])}, {_bps(p['ci95'][1])}]"
        reading += "."
    return Headline(reading, cards)


def _bps(value: Any) -> str:
    return f"{float(value):,.2f}"


# ---------------------------------------------------------------------------------------------
# Header and tables
# ---------------------------------------------------------------------------------------------


def _price_header(s: Mapping[str, Any]) -> str:
    seeds = s.get("seeds")
    seed_text = (f"{len(seeds)} ({seeds[0]} … {seeds[-1]})" if isinstance(seeds, list) and seeds
                 else seeds if seeds is not None else "?")
    fields = [(k, s[k]) for k in ("scenario", "baseline") if k in s]
    if s.get("designs"):
        fields.append(("designs", ", ".join(s["designs"])))
    fields += [("seeds", seed_text), ("priced for", s.get("position", "?")),
               ("spot", _num(s.get("spot"), 2)), ("sigma", _num(s.get("sigma"), 4)),
               ("r", _num(s.get("r"), 4))]
    return header_div(fields)


def _num(value: Any, decimals: int) -> str:
    try:
        return f"{float(value):,.{decimals}f}"
    except (TypeError, ValueError):
        return "?"


#: The parts of a yearly premium the premium table shows beside it: (key, column label).
PARTS = (("calm_execution_bps_per_year", "calm execution"),
         ("calm_other_bps_per_year", "calm other"), ("stress_bps_per_year", "stress"))


def _part(entry: Mapping[str, Any], key: str) -> str:
    """One part of a premium: mean ± half-width, ``*`` where its interval excludes zero;
    an older price.json without the part shows its calm total under calm other."""
    fig = entry.get(key)
    if fig is None and key == "calm_other_bps_per_year":
        fig = entry.get("calm_bps_per_year")
    if not fig:
        return "—"
    cell = format_cell(fig.get("mean_bps"), half_width(fig.get("ci95_bps")), 1.0, "usd")
    return cell + (" *" if fig.get("significant") else "")


def _premium_table(s: Mapping[str, Any]) -> str:
    """Every position type's premium, its 95 % interval, significance, calm and stress."""
    table = s.get("premium_table")
    position = str(s.get("position", ""))
    if not table:
        p = s.get("premium_bps") or {}
        table = {position: {"mean_bps": p.get("mean"), "ci95_bps": p.get("ci95")}}
    head = "".join(f"<th>{h}</th>" for h in ("position type", "premium (bps/yr)",
                                             "95 % interval (bps/yr)", "significance",
                                             *(f"{label} (bps/yr)" for _, label in PARTS)))
    rows = []
    for name, entry in table.items():
        ci = entry.get("ci95_bps")
        priced = name == position
        tag = ' <span class="ci">(priced)</span>' if priced else ""
        css = ' class="priced"' if priced else ""
        mean = format_cell(entry.get("mean_bps"), half_width(ci), 1.0, "usd")
        parts = "".join(f'<td class="num">{_part(entry, key)}</td>' for key, _ in PARTS)
        rows.append(f"<tr{css}><th>{esc(name)}{tag}</th>"
                    f'<td class="num">{mean}</td><td class="num">{interval_text(ci)}</td>'
                    f"<td>{esc(significance_text(entry))}</td>{parts}</tr>")
    note = ("Basis points of underlying notional per year against the baseline with the same "
            "seeds; ± is the half-width of the 95 % interval (joint delta method over seeds), "
            "* where a part's interval excludes zero. "
            "'0 in CI': the interval contains zero, with the seeds the observed spread would "
            "need for it not to. Calm execution: fills worse than the baseline's in calm "
            "time, per dollar traded, times the calendar's turnover; calm other: the rest "
            "of the calm cost, scaled to the calendar's calm volatility; stress: the cost "
            "per event times the calendar's events per year.")
    return (f'<table class="summary"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<p class="caption" style="margin-top:0.5rem">{esc(note)}</p>')


def _surface_table(surface: Table) -> str:
    head = "".join(f"<th>{h}</th>" for h in (
        "kind", "moneyness", "strike", "expiry (days)", "Black-Scholes", "add-on",
        "add-on 95 % interval", "adjusted", "IV shift (vol bps)", "flags"))
    rows = []
    for i in range(table_rows(surface)):
        c = {k: v[i] for k, v in surface.items()}
        flags = str(c.get("flags", "") or "")
        add = c.get("add_on", c["adjusted_price"] - c["bs_price"])
        lo = c.get("add_on_lo", c["adjusted_lo"] - c["bs_price"])
        hi = c.get("add_on_hi", c["adjusted_hi"] - c["bs_price"])
        cells = [esc(c["kind"]), f"{float(c['moneyness']):g}", _f(c["strike"], 2),
                 f"{float(c['expiry_days']):g}", _f(c["bs_price"], 4), _f(add, 4),
                 f"[{_f(lo, 4)}, {_f(hi, 4)}]",
                 "no price" if flags else _f(c["adjusted_price"], 4),
                 _f(c["iv_shift"] * 100.0, 1), esc(flags or "ok")]
        rows.append("<tr>" + "".join(f'<td class="num">{x}</td>' for x in cells) + "</tr>")
    return folded("Term sheet: every strike and expiry",
                  f'<table class="summary fit"><thead><tr>{head}</tr></thead>'
                  f"<tbody>{''.join(rows)}</tbody></table>"
                  f'<p class="caption" style="margin-top:0.5rem">{esc(_NAN_NOTE)}</p>')


def _f(value: Any, decimals: int) -> str:
    v = float(value)
    return "n/a" if math.isnan(v) else f"{v:,.{decimals}f}"


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _grid(surface: Table, kind: str, column: str) -> tuple[list, list, np.ndarray]:
    """``column`` of one kind as a (expiry × moneyness) array, with the axis values."""
    kinds = np.asarray(surface["kind"]).astype(str)
    mon = np.asarray(surface["moneyness"], dtype=float)
    exp = np.asarray(surface["expiry_days"], dtype=float)
    m_axis = list(dict.fromkeys(mon[kinds == kind].tolist()))
    e_axis = list(dict.fromkeys(exp[kinds == kind].tolist()))
    z = np.full((len(e_axis), len(m_axis)), np.nan)
    values = np.asarray(surface[column], dtype=float)
    for i in np.flatnonzero(kinds == kind):
        z[e_axis.index(float(exp[i])), m_axis.index(float(mon[i]))] = values[i]
    return m_axis, e_axis, z


def _days(d: float) -> str:
    return f"{d:g}d"


def _distortion_figure(surface: Table) -> go.Figure:
    """IV shift (vol bps) on moneyness × expiry: one heatmap for calls, one for puts."""
    kinds = [k for k in ("call", "put") if k in set(np.asarray(surface["kind"]).astype(str))]
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[f"{k}s" for k in kinds],
                        horizontal_spacing=0.1)
    bps = {k: _grid({**surface, "bps": np.asarray(surface["iv_shift"], float) * 100.0}, k,
                    "bps") for k in kinds}
    finite = np.concatenate([z[np.isfinite(z)] for _, _, z in bps.values()])
    span = float(np.abs(finite).max()) if finite.size else 1.0
    for col, kind in enumerate(kinds, start=1):
        m_axis, e_axis, z = bps[kind]
        text = [[("n/a" if math.isnan(v) else f"{v:,.0f}") for v in row] for row in z]
        fig.add_trace(go.Heatmap(
            x=[f"{m:g}" for m in m_axis], y=[_days(e) for e in e_axis],
            z=[[None if math.isnan(v) else float(v) for v in row] for row in z],
            text=text, texttemplate="%{text}", coloraxis="coloraxis", name=kind,
            hovertemplate=("moneyness %{x}<br>expiry %{y}<br>IV shift %{text} vol bps"
                           f"<extra>{kind}</extra>")), row=1, col=col)
    fig.update_xaxes(title_text="moneyness (strike / spot)", type="category")
    fig.update_yaxes(title_text="expiry", type="category")
    fig.update_layout(coloraxis=dict(colorscale="RdBu", reversescale=True, cmid=0.0,
                                     cmin=-span or -1.0, cmax=span or 1.0,
                                     colorbar=dict(title=dict(text="vol bps"))))
    return fig


def _distortion_caption(s: Mapping[str, Any], undefined: int) -> str:
    sigma = s.get("sigma")
    text = ("Implied volatility of the premium-adjusted price minus the pricing volatility"
            + (f" ({float(sigma):.4g})" if sigma is not None else "")
            + ", in basis points of volatility (100 vol bps = 1 vol point). A price floored "
            "at intrinsic value has implied volatility 0.")
    if undefined:
        text += f" {undefined} cell(s) n/a. " + _NAN_NOTE.removeprefix("n/a: ")
    return text


def _price_figure(surface: Table) -> go.Figure:
    """Adjusted and Black-Scholes price against strike, one colour per expiry, per kind."""
    kinds = [k for k in ("call", "put") if k in set(np.asarray(surface["kind"]).astype(str))]
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[f"{k}s" for k in kinds],
                        horizontal_spacing=0.08)
    for col, kind in enumerate(kinds, start=1):
        _, e_axis, _ = _grid(surface, kind, "bs_price")
        for j, days in enumerate(e_axis):
            _add_expiry_lines(fig, surface, kind, days, _COLORS[j % len(_COLORS)], col,
                              legend=col == 1)
    fig.update_xaxes(title_text="strike (USD)")
    fig.update_yaxes(title_text="option price (USD)", row=1, col=1)
    return fig


def _add_expiry_lines(fig: go.Figure, surface: Table, kind: str, days: float, color: str,
                      col: int, legend: bool) -> None:
    kinds = np.asarray(surface["kind"]).astype(str)
    mask = (kinds == kind) & (np.asarray(surface["expiry_days"], dtype=float) == days)
    order = np.argsort(np.asarray(surface["strike"], dtype=float)[mask], kind="stable")

    def col_(name: str) -> np.ndarray:
        return np.asarray(surface[name], dtype=float)[mask][order]

    strike, bs, adj = col_("strike"), col_("bs_price"), col_("adjusted_price")
    lo, hi = col_("adjusted_lo"), col_("adjusted_hi")
    label = _days(days)
    fig.add_trace(go.Scatter(x=strike, y=bs, mode="lines", name=f"{label} Black-Scholes",
                             legendgroup=label, showlegend=legend,
                             line=dict(color=color, dash="dash", width=1.5)), row=1, col=col)
    fig.add_trace(go.Scatter(
        x=strike, y=adj, mode="lines+markers", name=f"{label} with premium", legendgroup=label,
        showlegend=legend, line=dict(color=color, width=2),
        error_y=dict(type="data", symmetric=False, array=np.maximum(hi - adj, 0.0),
                     arrayminus=np.maximum(adj - lo, 0.0), color=color, thickness=1)),
        row=1, col=col)
