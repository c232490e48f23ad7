"""The comparison page of ``seqlab compare``: several designs, one world, measured vs a baseline.

Same skeleton as the single-run report (:mod:`seqlab.report.html`): one offline file, plotly.js
inlined once, atomic write. The per-user harm table can hold millions of rows; it is reduced
to box statistics in numpy before plotting, so the page stays small.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go

from seqlab.metrics.perps import PROFIT_SOURCES
from seqlab.report.html import esc, table_rows
from seqlab.report.page import (Card, Headline, count, figure, folded, header_div, ms, render_page,
                                usd, write_page)
from seqlab.report.page import note as _note
from seqlab.report.page import section as _section
from seqlab.result import Result, Table

__all__ = ["write_compare_report", "render_compare_html", "who_pays_table", "interval_text",
           "significance_text", "significance_verdict", "seen_once"]

# A design with more harm points than this (or a harm table with more than
# MAX_RAW_BOX_POINTS_TOTAL in all) is drawn from box statistics computed in numpy.
MAX_RAW_BOX_POINTS = 50_000
MAX_RAW_BOX_POINTS_TOTAL = 200_000
WHISKER_IQR = 1.5
DIGEST_CHARS = 12
HARM_COLOR = "#7f1d1d"  # dark red, hatched: apart from the strategy colours

EXTRA_CSS = """
table.summary thead th { border-bottom: 2px solid #999; vertical-align: bottom;
                         font-size: 0.8rem; overflow-wrap: break-word; }
table.designs td, table.designs th { padding: 0.25rem 0.3rem; }
table.designs td.num { overflow-wrap: normal; font-size: 0.85rem; }
table.designs thead th:first-child { width: 8.5rem; }
table.designs thead th:last-child { width: 7.5rem; }
table.summary td.num .ci { display: block; }
tr.baseline td, tr.baseline th { background: #f6f6f6; }
"""
# One line under each figure's title: what it measures here.
EXPLAIN = {
    "value": "Per design, the operator's extracted value stacked by strategy, next to the "
             "direct ordering cost to users, pool and insurance fund against the baseline "
             "with the same seed (means over seeds; bars: 95 % interval).",
    "harm": "Each user account's direct ordering cost against the baseline with the same "
            "seed: a wide box means the cost falls on a few accounts, not evenly.",
    "payers": "The direct ordering cost split by who pays, with each payer's final-value "
              "difference beside it (means over seeds, 95 % intervals, significance).",
    "bonus": "Who captures the liquidation bonus under each design (mean share over seeds): "
             "the operator's share is what ordering power is worth in liquidations.",
    "latency": "Share of transactions included within a given latency, per design (log "
               "scale, cut at the bulk: the line furthest right is the slowest design).",
}

# (column heading, key in the design summary, key in ci95, scale, kind)
_COLUMNS: tuple[tuple[str, str, str, float, str], ...] = (
    ("extracted value (USD)", "operator_profit_usd", "operator_profit_usd", 1.0, "usd"),
    ("direct ordering cost (USD)", "ordering_cost_usd", "ordering_cost_usd", 1.0, "usd"),
    ("ordering cost (bps of traded notional)", "ordering_cost_bps", "ordering_cost_bps", 1.0,
     "num"),
    ("final-value difference (USD)", "final_value_difference_usd",
     "final_value_difference_usd", 1.0, "usd"),
    ("forced liquidations", "forced_liquidations", "forced_liquidations", 1.0, "num"),
    ("operator bonus share (%)", "operator_bonus_share", "operator_bonus_share", 100.0, "pct"),
    ("same-block liquidation share (%)", "same_block_liquidation_share",
     "same_block_liquidation_share", 100.0, "pct"),
    ("liquidations within 1 s of their update (%)", "liquidation_within_1s_share",
     "liquidation_within_1s_share", 100.0, "pct"),
    ("liquidations within 12 s of their update (%)", "liquidation_within_12s_share",
     "liquidation_within_12s_share", 100.0, "pct"),
    ("p50 latency (ms)", "latency_ms.p50", "latency_p50_ms", 1.0, "num"),
    ("p99 latency (ms)", "latency_ms.p99", "latency_p99_ms", 1.0, "num"),
    ("max censorship delay (ms)", "max_censorship_delay_ms", "max_censorship_delay_ms", 1.0,
     "num"),
    ("venue vol distortion (%)", "vol_distortion", "vol_distortion", 100.0, "pct"),
)
# Several rollups (``DESIGN@isolated`` / ``DESIGN@shared``): what an outage spread to.
_CONTAGION_COLUMNS: tuple[tuple[str, str, str, float, str], ...] = tuple(
    (heading, key, key, 1.0, kind) for heading, key, kind in (
        ("rollups halted", "rollups_halted", "num"),
        ("liquidations after restart", "liquidations_after_restart", "num"),
        ("bad debt after restart (USD)", "bad_debt_after_restart_usd", "usd"),
        ("price gap at restart (bps)", "gap_at_restart_bps", "num"),
        ("max price gap (bps)", "max_gap_bps", "num"),
        ("failed arbitrage legs", "failed_legs", "num"),
        ("bundles dropped whole", "reverted_bundles", "num"),
        ("leg unwind cost (USD)", "unwind_cost_usd", "usd"),
        ("arbitrage profit (USD)", "arbitrage_profit_usd", "usd"),
        ("shared operator's copies profit (USD)", "cross_operator_profit_usd", "usd")))
# Summary keys whose fallback, when the design summary lacks them, is the mean over seeds of
# the same-named (or listed) column of the runs table.
_RUNS_COLUMN = {"latency_ms.p50": "latency_p50_ms", "latency_ms.p99": "latency_p99_ms"}


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def write_compare_report(result: Result, path: str | Path, title: str | None = None) -> Path:
    """Write the comparison ``result`` as one offline HTML file at ``path`` (atomically)."""
    return write_page(path, render_compare_html(result, title))


def render_compare_html(result: Result, title: str | None = None) -> str:
    """The whole comparison document as a string."""
    summary = result.summary
    title = title or f"seqlab compare: {summary.get('scenario', 'run')}"
    designs = _design_order(result)
    body = _figure_sections(result, designs)
    body += _payer_sections(summary, designs)
    body.append(folded("Designs compared: every figure", _comparison_table(result, designs)))
    if any("rollups_halted" in (d or {}) for d in (summary.get("designs") or {}).values()):
        body.append(folded("Contagion across rollups",
                           _comparison_table(result, designs, _CONTAGION_COLUMNS)))
    return render_page(title, body, extra_css=EXTRA_CSS, header=_compare_header(summary),
                       headline=compare_headline(result, designs))


# Figures measured against the baseline: zero by construction on the baseline's own card.
_AGAINST_BASELINE = ("ordering_cost_usd", "final_value_difference_usd", "forced_liquidations")
# (label, key in the design summary, key in ci95, format)
_HEADLINE = (("operator profit", "operator_profit_usd", "operator_profit_usd", usd),
             ("ordering cost vs baseline", "ordering_cost_usd", "ordering_cost_usd", usd),
             ("final-value difference", "final_value_difference_usd",
              "final_value_difference_usd", usd),
             ("forced liquidations", "forced_liquidations", "forced_liquidations", count),
             ("p99 latency", "latency_ms.p99", "latency_p99_ms", ms))


def compare_headline(result: Result, designs: Sequence[str]) -> Headline:
    """One card per design (operator profit, direct ordering cost and final-value
    difference, forced liquidations, p99 latency, with 95 % intervals over seeds) and a
    sentence per design against the baseline."""
    summary = result.summary
    per_design: Mapping[str, Any] = summary.get("designs") or {}
    baseline = str(summary.get("baseline", ""))
    runs = result.tables.get("runs")
    n_seeds = len(summary.get("seeds") or [])
    cards, sentences = [], []
    for design in designs:
        entry = per_design.get(design) or {}
        ci = entry.get("ci95") or {}
        values = {}
        figures = []
        for label, key, ci_key, fmt in _HEADLINE:
            value = _lookup(entry, key)
            if value is None:
                value = _runs_mean(runs, design, _RUNS_COLUMN.get(key, key))
            values[key] = value
            if design == baseline and key in _AGAINST_BASELINE:
                continue  # zero by construction against itself
            interval = ci.get(ci_key) if half_width(ci.get(ci_key)) is not None else None
            shown = figure(label, value, interval, fmt)
            needed = _seeds_needed(entry, ci_key)
            if shown.zero and shown.interval and needed:
                shown.interval += f" (~{needed} seeds needed)"
            figures.append(shown)
            if key == "ordering_cost_usd":
                values["harm_interval"] = interval
        is_base = design == baseline
        cards.append(Card(figures, title=design, tag="baseline" if is_base else None,
                          muted=is_base))
        if not is_base:
            sentences.append(_design_sentence(design, baseline, values, n_seeds))
    if not sentences:
        sentences = ["Only the baseline was run: nothing to measure harm against."]
    note = ("The ordering cost is the direct cost of ordering against the baseline with the "
            "same seed: penalties, fees, fills and option sales worse than the baseline's, "
            "paid by traders, margin users and option writers and buyers, with what the pool "
            "and the insurance fund lost. The final-value difference beside it also carries "
            "what later trading does once paths diverge. Forced liquidations are accounts "
            "liquidated that the baseline did not liquidate. A yearly premium needs stress "
            "events and a calendar: seqlab price.")
    if n_seeds > 1:
        note = (f"Means over {n_seeds} seeds; brackets: the 95 % interval (Student t, clipped "
                "to the figure's range); 'zero in interval' marks figures these seeds do not "
                "tell apart from zero. " + note)
    return Headline(" ".join(sentences), cards, note)


def _design_sentence(design: str, baseline: str, v: Mapping[str, Any], n_seeds: int) -> str:
    """``Under X the operator made …; users paid … [a, b] in direct ordering cost against
    B; N liquidations were forced.``"""
    parts = [f"Under {design}"]
    if v.get("operator_profit_usd") is not None:
        parts[0] += f" the operator made {usd(v['operator_profit_usd'])}"
    harm = v.get("ordering_cost_usd")
    if harm is not None:
        verb = "paid" if float(harm) >= 0 else "saved"
        text = f"users {verb} {usd(abs(float(harm)))} in direct ordering cost"
        interval = v.get("harm_interval")
        if interval is not None:
            low, high = (float(x) for x in interval)
            text += f" [{usd(low)}, {usd(high)}]"
            if low <= 0 <= high:
                text += " (not told apart from zero)"
        parts.append(text + f" against {baseline}")
    if v.get("forced_liquidations") is not None:
        parts.append(f"{count(v['forced_liquidations'])} liquidation(s) were forced"
                     + (" per seed on average" if n_seeds > 1 else ""))
    return "; ".join(parts) + "."


# ---------------------------------------------------------------------------------------------
# Header and comparison table
# ---------------------------------------------------------------------------------------------


def _compare_header(summary: Mapping[str, Any]) -> str:
    seeds = list(summary.get("seeds") or [])
    if not seeds:
        seed_text = "?"
    elif len(seeds) <= 10:
        seed_text = ", ".join(str(s) for s in seeds)
    else:
        seed_text = f"{seeds[0]} … {seeds[-1]} ({len(seeds)} seeds)"
    fields = [
        ("scenario", summary.get("scenario", "?")),
        ("baseline", summary.get("baseline", "?")),
        ("seeds" if len(seeds) != 1 else "seed", seed_text),
    ]
    return header_div(fields)


def _design_order(result: Result) -> list[str]:
    """Designs in the order of ``summary["designs"]``, then any only found in the tables."""
    order = [str(d) for d in (result.summary.get("designs") or {})]
    seen = set(order)
    for name in ("runs", "harm", "latency_quantiles", "bonus"):
        table = result.tables.get(name)
        if table_rows(table) and "design" in table:
            for d in unique_in_order(np.asarray(table["design"]).astype(str)):
                if d not in seen:
                    order.append(d)
                    seen.add(d)
    return order


def _comparison_table(result: Result, designs: Sequence[str],
                      columns: tuple[tuple[str, str, str, float, str], ...] = _COLUMNS) -> str:
    """One row per design: means over seeds, ``± half-width`` of the 95 % interval if known."""
    if not designs:
        return '<p class="note">no designs in this comparison</p>'
    summary = result.summary
    per_design: Mapping[str, Any] = summary.get("designs") or {}
    baseline = str(summary.get("baseline", ""))
    runs = result.tables.get("runs")
    head = "".join(f"<th>{esc(h)}</th>" for h in ("design", *(c[0] for c in columns), "digest"))
    rows = []
    any_ci = False
    for design in designs:
        entry = per_design.get(design) or {}
        ci = entry.get("ci95") or {}
        cells = []
        for _, key, ci_key, scale, kind in columns:
            value = _lookup(entry, key)
            if value is None:
                value = _runs_mean(runs, design, _RUNS_COLUMN.get(key, key))
            half = half_width(ci.get(ci_key))
            any_ci |= half is not None
            interval = ci.get(ci_key) if half is not None else None
            text = format_cell(value, half, scale, kind, interval, _seeds_needed(entry, ci_key))
            cells.append(f'<td class="num">{text}</td>')
        digest = entry.get("digest")
        if digest is None:
            digest = _runs_first(runs, design, "digest")
        digest_html = (f'<code title="{esc(digest)}">{esc(str(digest)[:DIGEST_CHARS])}</code>'
                       if digest is not None else "&ndash;")
        tag = ' <span class="ci">(baseline)</span>' if design == baseline else ""
        css = ' class="baseline"' if design == baseline else ""
        rows.append(f"<tr{css}><th>{esc(design)}{tag}</th>{''.join(cells)}"
                    f'<td class="mono">{digest_html}</td></tr>')
    table = (f'<table class="summary fit designs"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table>")
    n_seeds = len(summary.get("seeds") or [])
    if any_ci:
        note = (f"Means over {n_seeds} seeds; under each, in brackets, the 95 % confidence "
                "interval (Student t, clipped to the figure's range: a share stays in "
                "[0, 100] %, a count at or above 0). Harm is measured against the baseline "
                "with the same seed.")
    else:
        note = "Harm is measured against the baseline with the same seed."
    return table + f'<p class="caption" style="margin-top:0.5rem">{esc(note)}</p>'


def format_cell(value: Any, half: float | None, scale: float, kind: str,
                 interval: Sequence[float] | None = None, needed: int | None = None) -> str:
    """``value`` and ``± half`` (or the ``[low, high]`` interval when given: a clipped
    interval is not symmetric) with one shared precision, so they read alike; where the
    interval contains zero, ``needed`` is how many seeds the spread seen would need."""
    if value is None:
        return "&ndash;"
    try:
        number = float(value) * scale
    except (TypeError, ValueError):
        return esc(value)
    if not math.isfinite(number):
        return "&ndash;" if math.isnan(number) else str(number)
    half_scaled = None if half is None else half * scale
    decimals = _decimals(number, half_scaled, kind)
    text = f"{number:,.{decimals}f}"
    if interval is not None:
        low, high = (float(v) * scale for v in interval)
        text += f' <span class="ci">[{low:,.{decimals}f}, {high:,.{decimals}f}]</span>'
    elif half_scaled is not None:
        low, high = number - half_scaled, number + half_scaled
        text += f' <span class="ci">± {half_scaled:,.{decimals}f}</span>'
    if (interval is not None or half_scaled) and number != 0 and low <= 0 <= high:
        more = f", ~{needed} seeds needed" if needed else ""
        text += (' <span class="ci" title="the 95 % interval contains zero">'
                 f"(0 in CI{more})</span>")
    return text


def _seeds_needed(entry: Mapping[str, Any], key: str) -> int | None:
    """The design summary's power estimate for ``key`` (``significance``), if any."""
    return ((entry.get("significance") or {}).get(key) or {}).get("seeds_needed")


def _decimals(number: float, half: float | None, kind: str) -> int:
    """0 for counts, 2 for USD / percent / ordinary magnitudes, ~4 significant below 1."""
    values = [number] if half is None else [number, half]
    if kind == "num" and all(float(v).is_integer() for v in values):
        return 0
    if kind == "usd" and max(abs(v) for v in values) >= 10_000:
        return 0  # cents of a five-figure sum are noise
    if kind in ("usd", "pct"):
        return 2
    largest = max(abs(v) for v in values)
    if largest == 0 or largest >= 1:
        return 2
    return min(8, 3 - math.floor(math.log10(largest)))


def half_width(interval: Any) -> float | None:
    """Half-width of a ``[low, high]`` interval; None when absent or malformed."""
    if interval is None:
        return None
    try:
        low, high = (float(v) for v in interval)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return abs(high - low) / 2.0


def interval_text(ci: Any, decimals: int = 2) -> str:
    """``[low, high]``, or a dash where there is no interval (one seed)."""
    return (f"[{float(ci[0]):,.{decimals}f}, {float(ci[1]):,.{decimals}f}]"
            if half_width(ci) is not None else "&ndash;")


def significance_verdict(entry: Mapping[str, Any]) -> tuple[str, int | None]:
    """``("significant" | "one seed" | "zero in CI", seeds needed)``: the one reading of
    a figure's interval that the reports and the CLI each word their own way."""
    if entry.get("significant"):
        return "significant", None
    if seen_once(entry):
        return "one seed", None
    return "zero in CI", entry.get("seeds_needed")


def significance_text(entry: Mapping[str, Any]) -> str:
    """Whether a figure's interval excludes zero, and how many seeds it would need."""
    verdict, needed = significance_verdict(entry)
    if verdict == "significant":
        return "significant"
    if verdict == "one seed":
        return "no interval: seen in one seed only"
    return "0 in CI" + (f" (~{needed} seeds needed)" if needed else "")


def seen_once(entry: Mapping[str, Any]) -> bool:
    """A figure whose interval is unknown, or a point away from zero that is not
    significant: one seed, whose spread nothing can be said about."""
    ci = entry.get("ci95_usd", entry.get("ci95_bps", ()))
    mean = entry.get("mean_usd", entry.get("mean_bps", 0.0))
    return ci is None or (len(ci) == 2 and ci[0] == ci[1] and mean != 0)


def who_pays_table(who: Mapping[str, Any]) -> str:
    """Direct ordering cost by payer, with the final-value difference beside it."""
    head = "".join(f"<th>{h}</th>" for h in ("who pays", "direct cost (USD)",
                                             "95 % interval", "significance",
                                             "final-value difference (USD)", "95 % interval",
                                             "significance"))
    rows = []
    for name, v in who.items():
        cells = "".join(f'<td class="num">{float(f["mean_usd"]):,.0f}</td>'
                        f'<td class="num">{interval_text(f["ci95_usd"], 0)}</td>'
                        f"<td>{esc(significance_text(f))}</td>"
                        for f in (v["direct"], v["final_value_difference"]))
        rows.append(f"<tr><th>{esc(name)}</th>{cells}</tr>")
    note = ("Direct cost: penalties, fees and execution the design added per seed on average. "
            "The final-value difference also carries what happens once paths diverge; for "
            "the liquidity pool and the insurance fund it is the only measure.")
    return (f'<table class="summary"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            f'<p class="caption" style="margin-top:0.5rem">{esc(note)}</p>')


def _payer_sections(summary: Mapping[str, Any], designs: Sequence[str]) -> list[str]:
    """One who-pays table per design against the baseline (none for the baseline)."""
    per_design: Mapping[str, Any] = summary.get("designs") or {}
    baseline = str(summary.get("baseline", ""))
    out = []
    for design in designs:
        who = (per_design.get(design) or {}).get("who_pays")
        if design != baseline and who:
            out += [f"<h2>Who pays under {esc(design)}</h2>",
                    f'<p class="explain">{esc(EXPLAIN["payers"])}</p>', who_pays_table(who)]
    return out


def _lookup(entry: Mapping[str, Any], dotted: str) -> Any:
    value: Any = entry
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _figure_sections(result: Result, designs: Sequence[str]) -> list[str]:
    tables = result.tables
    baseline = str(result.summary.get("baseline", ""))
    sections = []

    heading = "Extracted value and direct ordering cost per design"
    fig = _value_figure(result, designs)
    sections.append(_section(heading, fig, EXPLAIN["value"]) if fig is not None
                    else _note(heading, "no per-design values in this comparison"))

    heading = "Distribution of the ordering cost across users"
    fig, caption = _harm_figure(tables.get("harm"), designs, baseline)
    if fig is None:
        sections.append(_note(heading, "no per-user harm data (baseline excluded)"))
    else:
        sections.append(_section(heading, fig, EXPLAIN["harm"]))
        sections.append(f'<p class="caption">{esc(caption)}</p>')

    heading = "Liquidation-bonus capture share"
    fig = _bonus_share_figure(tables.get("bonus"), designs)
    sections.append(_section(heading, fig, EXPLAIN["bonus"]) if fig is not None
                    else _note(heading, "no liquidation bonus paid in this comparison"))

    heading = "Inclusion latency CDF"
    fig, caption = _latency_cdf_figure(tables.get("latency_quantiles"), designs)
    if fig is None:
        sections.append(_note(heading, "no latency quantiles in this comparison"))
    else:
        sections.append(_section(heading, fig, EXPLAIN["latency"]))
        if caption:
            sections.append(f'<p class="caption">{esc(caption)}</p>')
    return sections


def _value_figure(result: Result, designs: Sequence[str]) -> go.Figure | None:
    """Operator profit stacked by strategy next to the direct ordering cost, per design.

    Grouped + stacked bars via a two-level (multicategory) x axis: ``(design, quantity)``.
    """
    if not designs:
        return None
    per_design: Mapping[str, Any] = result.summary.get("designs") or {}
    runs = result.tables.get("runs")
    by_strategy = {d: _profit_by_strategy(runs, per_design.get(d) or {}, d) for d in designs}
    strategies = list(dict.fromkeys(k for d in designs for k in by_strategy[d]))
    harm = [_metric_mean(per_design, runs, d, "ordering_cost_usd") for d in designs]
    profit = [_metric_mean(per_design, runs, d, "operator_profit_usd") for d in designs]
    if not strategies and all(v is None for v in harm):
        return None

    x_profit = [list(designs), ["extracted value"] * len(designs)]
    x_harm = [list(designs), ["ordering cost"] * len(designs)]
    fig = go.Figure()
    for strategy in strategies:
        fig.add_trace(go.Bar(
            x=x_profit, y=[by_strategy[d].get(strategy, 0.0) for d in designs],
            name=f"extracted: {strategy.replace('_', ' ')}",
            hovertemplate="%{x}<br>%{y:,.2f} USD<extra>" + esc(strategy) + "</extra>",
        ))
    harm_err = _error_bars(per_design, designs, "ordering_cost_usd", harm)
    fig.add_trace(go.Bar(
        x=x_harm, y=[v if v is not None else 0.0 for v in harm], name="direct ordering cost",
        marker=dict(color=HARM_COLOR, pattern=dict(shape="/", fgcolor="#ffffff", size=6)),
        error_y=harm_err,
        hovertemplate="%{x}<br>%{y:,.2f} USD<extra>ordering cost</extra>",
    ))
    profit_err = _error_bars(per_design, designs, "operator_profit_usd", profit)
    if profit_err is not None:
        # The interval is on the total, so it sits on a marker at the top of the stack.
        fig.add_trace(go.Scatter(
            x=x_profit, y=[v if v is not None else 0.0 for v in profit], mode="markers",
            name="extracted value (total, 95 % CI)", error_y=profit_err,
            marker=dict(color="#333", size=7, symbol="line-ew-open"),
        ))
    fig.update_layout(barmode="relative")
    fig.update_yaxes(title_text="USD (mean over seeds)")
    return fig


def _profit_by_strategy(runs: Table | None, entry: Mapping[str, Any], design: str
                        ) -> dict[str, float]:
    """Mean over seeds of the ``profit_*`` columns; falls back to the summary."""
    out: dict[str, float] = {}
    mask = _design_mask(runs, design)
    if mask is not None and mask.any():
        columns = [k for k in runs if k.startswith("profit_")]
        ordered = [f"profit_{s}" for s in PROFIT_SOURCES if f"profit_{s}" in columns]
        ordered += [c for c in columns if c not in ordered]
        for col in ordered:
            vals = _finite(runs[col][mask])
            out[col.removeprefix("profit_")] = float(vals.mean()) if vals.size else 0.0
        if out:
            return out
    by = entry.get("operator_profit_by_strategy")
    if isinstance(by, Mapping) and by:
        return {str(k): float(v) for k, v in by.items()}
    total = entry.get("operator_profit_usd")
    if total is not None:
        return {"total": float(total)}
    return {}


def _metric_mean(per_design: Mapping[str, Any], runs: Table | None, design: str, key: str
                 ) -> float | None:
    value = (per_design.get(design) or {}).get(key)
    if value is None:
        value = _runs_mean(runs, design, key)
    return None if value is None else float(value)


def _error_bars(per_design: Mapping[str, Any], designs: Sequence[str], key: str,
                means: Sequence[float | None]) -> dict | None:
    """Asymmetric error bars from ``ci95[key]``; None when no design has an interval."""
    plus, minus, any_ci = [], [], False
    for d, mean in zip(designs, means):
        interval = ((per_design.get(d) or {}).get("ci95") or {}).get(key)
        if half_width(interval) is None or mean is None:
            plus.append(0.0)
            minus.append(0.0)
            continue
        low, high = (float(v) for v in interval)
        plus.append(max(high - mean, 0.0))
        minus.append(max(mean - low, 0.0))
        any_ci = True
    if not any_ci:
        return None
    return dict(type="data", symmetric=False, array=plus, arrayminus=minus, color="#333")


def _harm_figure(harm: Table | None, designs: Sequence[str], baseline: str
                 ) -> tuple[go.Figure | None, str]:
    """Per-user direct ordering cost as one box per design (baseline excluded: it is zero
    by construction)."""
    if not table_rows(harm) or "design" not in harm or "ordering_cost_usd" not in harm:
        return None, ""
    design_col = np.asarray(harm["design"]).astype(str)
    values = np.asarray(harm["ordering_cost_usd"], dtype=np.float64)
    groups = []
    for d in designs:
        if d == baseline:
            continue
        v = _finite(values[design_col == d])
        if v.size:
            groups.append((d, v))
    if not groups:
        return None, ""
    total = sum(v.size for _, v in groups)
    fig = go.Figure()
    summarised = False
    for d, v in groups:
        if v.size > MAX_RAW_BOX_POINTS or total > MAX_RAW_BOX_POINTS_TOTAL:
            fig.add_trace(_precomputed_box(d, v))
            summarised = True
        else:
            fig.add_trace(go.Box(y=v.astype(np.float32), name=d, boxpoints="outliers",
                                 boxmean=True, marker=dict(size=3)))
    fig.update_yaxes(title_text="ordering cost per user (USD, positive = user paid)")
    fig.update_layout(showlegend=False)
    n_seeds = len(np.unique(np.asarray(harm["seed"]))) if "seed" in harm else 1
    caption = (f"One point per user account and seed ({n_seeds} seed(s)); box = quartiles, "
               f"line = median, dashed = mean, whiskers = furthest value within "
               f"{WHISKER_IQR} IQR of the box.")
    if summarised:
        caption += " Large designs are drawn from quantiles computed over all points (no outliers)."
    return fig, caption


def _precomputed_box(name: str, v: np.ndarray) -> go.Box:
    """A box from numpy statistics: a handful of numbers instead of every point."""
    q1, median, q3 = (float(x) for x in np.quantile(v, [0.25, 0.5, 0.75]))
    iqr = q3 - q1
    inside_low = v[v >= q1 - WHISKER_IQR * iqr]
    inside_high = v[v <= q3 + WHISKER_IQR * iqr]
    lower = float(inside_low.min()) if inside_low.size else q1
    upper = float(inside_high.max()) if inside_high.size else q3
    return go.Box(
        x=[name], name=name, q1=[q1], median=[median], q3=[q3],
        lowerfence=[min(lower, q1)], upperfence=[max(upper, q3)], mean=[float(v.mean())],
        boxmean=True, hoverinfo="name+y",
    )


def _bonus_share_figure(bonus: Table | None, designs: Sequence[str]) -> go.Figure | None:
    """Who captures the liquidation bonus: per design, mean over seeds of each liquidator's share."""
    if not table_rows(bonus) or not {"design", "liquidator", "bonus_usd"} <= set(bonus):
        return None
    design_col = np.asarray(bonus["design"]).astype(str)
    who = np.asarray(bonus["liquidator"]).astype(str)
    usd = np.nan_to_num(np.asarray(bonus["bonus_usd"], dtype=np.float64))
    seed = (np.asarray(bonus["seed"]).astype(str) if "seed" in bonus
            else np.zeros(len(usd), dtype=str))
    liquidators = unique_in_order(who)
    shares: dict[str, dict[str, float]] = {}
    for d in designs:
        in_design = design_col == d
        per_seed = []
        for s in unique_in_order(seed[in_design]):
            m = in_design & (seed == s)
            total = usd[m].sum()
            if total > 0:
                per_seed.append({name: usd[m & (who == name)].sum() / total
                                 for name in liquidators})
        if per_seed:
            shares[d] = {name: float(np.mean([p[name] for p in per_seed]))
                         for name in liquidators}
    if not shares:
        return None
    # Biggest capturers first (bottom of the stack), so concentration reads at a glance.
    overall = {name: sum(s[name] for s in shares.values()) for name in liquidators}
    order = sorted(liquidators, key=lambda n: -overall[n])
    shown = [d for d in designs if d in shares]
    fig = go.Figure()
    for name in order:
        fig.add_trace(go.Bar(
            x=shown, y=[100.0 * shares[d][name] for d in shown], name=name,
            hovertemplate="%{x}<br>%{y:.1f} %<extra>" + esc(name) + "</extra>",
        ))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title_text="share of liquidation bonus (%)", range=[0, 100])
    return fig


def _latency_cdf_figure(lq: Table | None, designs: Sequence[str]
                        ) -> tuple[go.Figure | None, str]:
    """Inclusion-latency CDF per design (x = latency, y = quantile level), and a caption.

    The x axis is logarithmic and clipped to the bulk: from the smallest latency drawn to
    twice the largest 99th percentile of any design, so designs whose typical latencies
    differ are told apart even when one has a censorship tail of minutes; the caption says
    how far the tails go beyond the clip.
    """
    if not table_rows(lq) or not {"design", "q", "latency_ms"} <= set(lq):
        return None, ""
    design_col = np.asarray(lq["design"]).astype(str)
    q = np.asarray(lq["q"], dtype=np.float64)
    lat = np.asarray(lq["latency_ms"], dtype=np.float64)
    fig = go.Figure()
    p99s, tails, lows = [], [], []
    for d in designs:
        m = design_col == d
        if not m.any():
            continue
        order = np.argsort(q[m], kind="stable")
        x, y = lat[m][order], q[m][order]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines", name=d, line_shape="hv"))
        finite = np.isfinite(x)
        if finite.any():
            p99s.append(float(np.interp(0.99, y[finite], x[finite])))
            tails.append((d, float(x[finite].max())))
            positive = x[finite & (x > 0)]
            if positive.size:
                lows.append(float(positive.min()))
    if not fig.data:
        return None, ""
    caption = ""
    fig.update_xaxes(title_text="inclusion latency (ms, log scale)", type="log")
    if p99s and lows and max(p99s) > 0:
        hi = 2.0 * max(p99s)
        lo = min(lows)
        if hi > lo:
            fig.update_xaxes(range=[math.log10(lo), math.log10(hi)])
        beyond = [(d, t) for d, t in tails if t > hi]
        caption = (f"Axis clipped at twice the largest 99th percentile ({hi:,.0f} ms) so the "
                   "bulk shows.")
        if beyond:
            caption += " Beyond it: " + ", ".join(f"{d} up to {t:,.0f} ms" for d, t in beyond)
            caption += "."
    fig.update_yaxes(title_text="fraction of txs included within", range=[0, 1.02])
    return fig, caption


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def unique_in_order(values: np.ndarray) -> list[str]:
    """Distinct values in order of first appearance."""
    if not len(values):
        return []
    _, first = np.unique(values, return_index=True)
    return [str(values[i]) for i in np.sort(first)]


def _design_mask(table: Table | None, design: str) -> np.ndarray | None:
    if not table_rows(table) or "design" not in table:
        return None
    return np.asarray(table["design"]).astype(str) == design


def _runs_mean(runs: Table | None, design: str, column: str) -> float | None:
    mask = _design_mask(runs, design)
    if mask is None or column not in runs or not mask.any():
        return None
    try:
        vals = _finite(np.asarray(runs[column])[mask].astype(np.float64))
    except (TypeError, ValueError):
        return None
    return float(vals.mean()) if vals.size else None


def _runs_first(runs: Table | None, design: str, column: str) -> Any:
    mask = _design_mask(runs, design)
    if mask is None or column not in runs or not mask.any():
        return None
    return np.asarray(runs[column])[mask][0]


def _finite(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return values[np.isfinite(values)]
