"""The page of a parameter sweep: one scenario over parameters × designs × seeds.

Same skeleton as the other reports (:mod:`seqlab.report.html`): one offline file, plotly.js
inlined once, atomic write. A sweep can hold thousands of runs; only per-cell aggregates
(mean, 95 % confidence half-width, run count) are computed in numpy and plotted, so the page
stays small whatever the number of runs.

Input: ``summary`` with ``scenario``, ``designs``, ``params`` (dotted names), ``seeds``,
``runs``, ``failed``, ``metrics``; table ``runs`` with ``run_id``, ``design``, ``seed``,
``status`` ("ok" | "failed"), ``error``, ``p:<param>`` (value text) and ``m:<metric>`` (float).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots
from scipy import stats

from seqlab.experiments.stats import Domain, domain_of, mean_ci
from seqlab.report.compare_html import EXTRA_CSS, unique_in_order
from seqlab.report.html import esc, table_rows
from seqlab.report.page import (Card, Headline, Figure, count, figure, folded, header_div, ms,
                                render_page, usd, write_page)
from seqlab.report.page import note as _note
from seqlab.report.page import section as _section
from seqlab.result import Result, Table
from seqlab.units import parse_duration

__all__ = ["write_sweep_report", "render_sweep_html"]

PARAM_PREFIX = "p:"
METRIC_PREFIX = "m:"
CONFIDENCE = 0.95
# At most this many failed runs are listed; the rest are counted.
MAX_FAILURE_ROWS = 50
MAX_ERROR_CHARS = 300
# Heatmaps: at most this many designs side by side, then a new row of subplots.
HEATMAP_COLS = 3
HEATMAP_ROW_PX = 420
_COLORS = qualitative.Plotly
# What each stored metric is, one line (shown under its figures).
METRIC_EXPLAIN = {
    "operator_profit_usd": "What the sequencer operator extracted in one run (USD).",
    "user_value_usd": "Final value of all user trading accounts at the end of one run (USD).",
    "lp_value_usd": "Final value of the liquidity providers at the end of one run (USD).",
    "liquidations": "Liquidations in one run.",
    "bad_debt_usd": "Losses no collateral covered in one run (USD).",
    "latency_ms.p50": "Median submit-to-inclusion latency of one run (ms).",
    "latency_ms.p99": "99th-percentile submit-to-inclusion latency of one run (ms).",
}
# The summary figures whose drop against the baseline is the users' harm.
VALUE_METRICS = ("user_value_usd", "lp_value_usd")


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def write_sweep_report(result: Result, path: str | Path, title: str | None = None) -> Path:
    """Write the sweep ``result`` as one offline HTML file at ``path`` (atomically)."""
    return write_page(path, render_sweep_html(result, title))


def render_sweep_html(result: Result, title: str | None = None) -> str:
    """The whole sweep document as a string."""
    summary = result.summary
    title = title or f"seqlab sweep: {summary.get('scenario', 'run')}"
    sweep = _Sweep(result)
    harm = Harm(sweep)
    body = [*harm.sections(), *_figure_sections(sweep), *_failure_section(sweep)]
    return render_page(title, body, extra_css=EXTRA_CSS, header=_sweep_header(summary, sweep),
                       headline=sweep_headline(sweep, harm))


# ---------------------------------------------------------------------------------------------
# The runs table, decoded once
# ---------------------------------------------------------------------------------------------


class _Sweep:
    """Designs, parameters (values in plotting order) and the ok-run mask of one sweep."""

    def __init__(self, result: Result) -> None:
        summary = result.summary
        runs: Table = result.tables.get("runs") or {}
        self.runs = runs
        self.n = table_rows(runs)
        self.designs = _names_then_found(summary.get("designs"), self.column("design"))
        self.params = _names_then_found(
            summary.get("params"),
            [c[len(PARAM_PREFIX):] for c in runs if c.startswith(PARAM_PREFIX)],
        )
        self.metrics = _names_then_found(
            summary.get("metrics"),
            [] if summary.get("metrics") else
            [c[len(METRIC_PREFIX):] for c in runs if c.startswith(METRIC_PREFIX)],
        )
        design_col = self.column("design")
        self.design_code = _codes(design_col, self.designs, self.n)
        status = self.column("status")
        if status is not None:
            self.ok = status == "ok"
        elif (error := self.column("error")) is not None:
            self.ok = error == ""
        else:
            self.ok = np.ones(self.n, dtype=bool)
        # Per parameter: value text per run, values in plotting order, code per run.
        self.values: dict[str, np.ndarray | None] = {}
        self.order: dict[str, list[str]] = {}
        self.value_code: dict[str, np.ndarray] = {}
        for p in self.params:
            col = self.column(PARAM_PREFIX + p)
            self.values[p] = col
            self.order[p] = order_values(unique_in_order(col)) if col is not None else []
            self.value_code[p] = _codes(col, self.order[p], self.n)

    def column(self, name: str) -> np.ndarray | None:
        """A column as text (None when absent or the table is empty)."""
        if not self.n or name not in self.runs:
            return None
        return np.asarray(self.runs[name]).astype(str)

    def metric(self, name: str) -> np.ndarray | None:
        """``m:<name>`` as float64 (None when absent or not numeric)."""
        col = self.runs.get(METRIC_PREFIX + name) if self.n else None
        if col is None:
            return None
        try:
            return np.asarray(col).astype(np.float64)
        except (TypeError, ValueError):
            return None

    def usable(self, values: np.ndarray, *codes: np.ndarray) -> np.ndarray:
        """Rows that enter statistics: ok status, finite metric, every group code known."""
        mask = self.ok & np.isfinite(values) & (self.design_code >= 0)
        for c in codes:
            mask &= c >= 0
        return mask


def order_values(values: Sequence[str]) -> list[str]:
    """Parameter values in plotting order.

    Numeric order when every value parses as a number, else when every value parses as a
    duration (``"250ms"``; a bare number counts as seconds, as in :func:`parse_duration`);
    otherwise the given order (first appearance). Ties keep their given order.
    """
    values = [str(v) for v in values]
    for key in (float, _duration_us):
        try:
            keys = [float(key(v)) for v in values]
        except (TypeError, ValueError, OverflowError):
            continue
        if any(math.isnan(k) for k in keys):
            continue
        return [v for _, v in sorted(zip(keys, values), key=lambda kv: kv[0])]
    return values


def _duration_us(value: str) -> int:
    try:
        return parse_duration(value)
    except ValueError:
        return parse_duration(float(value))


# ---------------------------------------------------------------------------------------------
# Header and failures
# ---------------------------------------------------------------------------------------------


def _sweep_header(summary: Mapping[str, Any], sweep: _Sweep) -> str:
    seeds = summary.get("seeds")
    if isinstance(seeds, (list, tuple)):
        seeds = len(seeds)
    if seeds is None:
        seed_col = sweep.column("seed")
        seeds = len(set(seed_col.tolist())) if seed_col is not None else "?"
    runs = summary.get("runs")
    if runs is None:
        runs = int(sweep.ok.sum())
    failed = summary.get("failed")
    if failed is None:
        failed = int((~sweep.ok).sum())
    fields = [
        ("scenario", summary.get("scenario", "?")),
        ("designs", ", ".join(sweep.designs) or "?"),
        ("parameters", ", ".join(sweep.params) or "none"),
        ("seeds", seeds),
        ("runs", runs),
        ("failed", failed),
    ]
    return header_div(fields)


def _failure_section(sweep: _Sweep) -> list[str]:
    """A short table of failed runs (the first MAX_FAILURE_ROWS), or nothing when none failed."""
    failed = np.flatnonzero(~sweep.ok)
    if not failed.size:
        return []
    columns = {name: sweep.column(name) for name in ("run_id", "design", "seed", "error")}
    head = "".join(f"<th>{h}</th>" for h in ("run", "design", "seed", "parameters", "error"))
    rows = []
    for i in failed[:MAX_FAILURE_ROWS]:
        cell = {k: ("" if col is None else str(col[i])) for k, col in columns.items()}
        params = ", ".join(f"{p}={sweep.values[p][i]}" for p in sweep.params
                           if sweep.values[p] is not None)
        error = cell["error"]
        if len(error) > MAX_ERROR_CHARS:
            error = error[:MAX_ERROR_CHARS] + "…"
        rows.append(
            f'<tr><td class="mono">{esc(cell["run_id"])}</td><td>{esc(cell["design"])}</td>'
            f'<td class="num">{esc(cell["seed"])}</td><td class="mono">{esc(params)}</td>'
            f'<td class="mono">{esc(error)}</td></tr>'
        )
    parts = [
        f'<table class="summary fit"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>",
    ]
    if failed.size > MAX_FAILURE_ROWS:
        parts.append(f'<p class="note">{failed.size - MAX_FAILURE_ROWS} more failed runs '
                     "not listed.</p>")
    parts.append('<p class="caption" style="margin-top:0.5rem">Failed runs are excluded from '
                 "every statistic above.</p>")
    return [folded(f"Failed runs ({failed.size})", "".join(parts))]


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


class Harm:
    """Harm against the baseline design, paired by seed and parameter point.

    The sweep store keeps each run's summary figures, not per-account values, so the harm of
    a run is the baseline's user value minus the design's, run by run: the user accounts'
    final value (``user_value_usd``) plus the liquidity providers' (``lp_value_usd``) where
    stored, under the baseline with the same seed and parameter values less under the design.
    It is compare's ``final_value_difference_usd`` without the option and insurance parts,
    from the sweep's stored figures; compare's direct ordering cost needs per-trade fills a
    sweep does not store.
    """

    def __init__(self, sweep: _Sweep) -> None:
        self.sweep = sweep
        self.baseline = "honest" if "honest" in sweep.designs else (
            sweep.designs[0] if sweep.designs else "")
        self.parts = [m for m in VALUE_METRICS if sweep.metric(m) is not None]
        self.values: np.ndarray | None = None
        if len(sweep.designs) > 1 and "user_value_usd" in self.parts:
            self.values = self._paired()
        self.name = f"harm against {self.baseline} (USD)"

    def _paired(self) -> np.ndarray:
        sweep = self.sweep
        value = sum(sweep.metric(m) for m in self.parts)
        seed = sweep.column("seed")
        seed = seed if seed is not None else np.zeros(sweep.n, dtype=str)
        point = [sweep.values[p] for p in sweep.params if sweep.values[p] is not None]
        keys = ["\x1f".join(str(c[i]) for c in (*point, seed)) for i in range(sweep.n)]
        base_code = sweep.designs.index(self.baseline)
        usable = sweep.ok & np.isfinite(value)
        base = {keys[i]: value[i] for i in np.flatnonzero(usable & (sweep.design_code ==
                                                                     base_code))}
        harm = np.full(sweep.n, np.nan)
        for i in np.flatnonzero(usable & (sweep.design_code != base_code)):
            if keys[i] in base:
                harm[i] = base[keys[i]] - value[i]
        return harm

    @property
    def what(self) -> str:
        parts = " + ".join(self.parts)
        return (f"Harm of a run = ({parts}) under {self.baseline} with the same seed and "
                f"parameter values, less the same under the design (USD; positive: users lost). "
                "The store keeps each run's summary figures, not per-account values, so this "
                "is the users' total, not a per-account distribution.")

    def pooled(self, design: int) -> tuple[float | None, list[float] | None, int]:
        """Mean harm of one design over every paired run, its 95 % interval, the run count."""
        v = self.values[(self.sweep.design_code == design) & np.isfinite(self.values)]
        if not v.size:
            return None, None, 0
        mean, interval = mean_ci(list(v))
        return mean, (interval if v.size > 1 else None), int(v.size)

    def worst_point(self, design: int) -> tuple[str, float] | None:
        """The parameter point where the design's mean harm is highest."""
        sweep = self.sweep
        if not sweep.params:
            return None
        mask = (sweep.design_code == design) & np.isfinite(self.values)
        if not mask.any():
            return None
        labels = np.array([", ".join(f"{p}={sweep.values[p][i]}" for p in sweep.params)
                           for i in range(sweep.n)])
        names, codes = np.unique(labels[mask], return_inverse=True)
        n, mean, _ = cell_stats(codes, len(names), self.values[mask])
        j = int(np.nanargmax(mean))
        return str(names[j]), float(mean[j])

    def sections(self) -> list[str]:
        heading = f"Harm against {self.baseline}"
        if self.values is None:
            why = ("one design only: no baseline to measure harm against"
                   if len(self.sweep.designs) < 2 else
                   "the runs table has no user_value_usd column to measure harm with")
            return [_note(heading, why)]
        if not np.isfinite(self.values).any():
            return [_note(heading, "no design run has a completed baseline run to pair with")]
        out = []
        for title, fig in metric_figures(self.sweep, self.name, self.values):
            height = int(fig.layout.height) if fig is not None and fig.layout.height else None
            out.append(_section(title, fig, self.what, height) if fig is not None
                       else _note(title, "no paired runs"))
        out.append(folded(f"Harm against {self.baseline} at every parameter point",
                          self.table()))
        return out

    def table(self) -> str:
        """Mean harm [95 % interval] (runs) per parameter point and design."""
        sweep = self.sweep
        others = [(d, name) for d, name in enumerate(sweep.designs) if name != self.baseline]
        labels = [tuple(str(sweep.values[p][i]) if sweep.values[p] is not None else ""
                        for p in sweep.params) for i in range(sweep.n)]
        points = sorted(set(labels), key=lambda t: tuple(
            sweep.order[p].index(v) if v in sweep.order[p] else -1
            for p, v in zip(sweep.params, t)))
        index = {t: k for k, t in enumerate(points)}
        codes = np.array([index[t] for t in labels], dtype=np.int64)
        head = "".join(f"<th>{esc(h)}</th>" for h in (*sweep.params,
                                                         *(name for _, name in others)))
        rows = []
        for k, point in enumerate(points):
            cells = [f'<td class="mono">{esc(v)}</td>' for v in point]
            for d, _ in others:
                v = self.values[(codes == k) & (sweep.design_code == d)
                                & np.isfinite(self.values)]
                if not v.size:
                    cells.append('<td class="num">&ndash;</td>')
                    continue
                mean, (lo, hi) = mean_ci(list(v))
                ci = f"[{_fmt(lo)}, {_fmt(hi)}] " if v.size > 1 else ""
                cells.append(f'<td class="num">{_fmt(mean)} <span class="ci">{ci}'
                             f"(n = {v.size})</span></td>")
            rows.append("<tr>" + "".join(cells) + "</tr>")
        return (f'<table class="summary fit"><thead><tr>{head}</tr></thead>'
                f"<tbody>{''.join(rows)}</tbody></table>"
                f'<p class="caption" style="margin-top:0.5rem">{esc(self.what)}</p>')


def sweep_headline(sweep: _Sweep, harm: Harm) -> Headline:
    """Per design: harm against the baseline (paired, all points pooled), where it is worst,
    operator profit and p99 latency; and a sentence."""
    points = int(np.prod([len(sweep.order[p]) for p in sweep.params])) if sweep.params else 1
    seeds = sweep.column("seed")
    n_seeds = len(set(seeds.tolist())) if seeds is not None else 0
    failed = int((~sweep.ok).sum())
    reading = [f"{int(sweep.ok.sum())} completed runs ({failed} failed) over {points} "
               f"parameter point(s) × {n_seeds} seed(s)."]
    shown = (("operator profit", "operator_profit_usd", usd), ("p99 latency", "latency_ms.p99", ms))
    cards = []
    for d, design in enumerate(sweep.designs):
        figures: list[Figure] = []
        is_base = harm.values is not None and design == harm.baseline
        if harm.values is not None and not is_base:
            mean, interval, n = harm.pooled(d)
            figures.append(figure(f"harm vs {harm.baseline}", mean, interval, usd))
            worst = harm.worst_point(d)
            if worst is not None:
                figures.append(Figure("worst at", worst[0]))
            if mean is not None:
                text = (f"Under {design} users lost {usd(mean)}" if mean >= 0 else
                        f"Under {design} users gained {usd(-mean)}")
                if interval is not None:
                    text += f" [{usd(interval[0])}, {usd(interval[1])}]"
                text += f" per run against {harm.baseline}"
                if worst is not None:
                    text += f", most at {worst[0]} ({usd(worst[1])})"
                reading.append(text + ".")
        for label, metric, fmt in shown:
            values = sweep.metric(metric)
            if values is not None:
                v = values[sweep.usable(values) & (sweep.design_code == d)]
                if v.size:
                    mean, interval = mean_ci(list(v), domain_of(metric))
                    figures.append(figure(label, mean, interval if v.size > 1 else None, fmt))
        figures.append(Figure("runs", count((sweep.ok & (sweep.design_code == d)).sum())))
        cards.append(Card(figures, title=design, tag="baseline" if is_base else None,
                          muted=is_base))
    note = ("Means per run over every completed run of the design (all parameter points "
            "pooled, so an interval mixes the spread between points with seed noise); "
            "brackets: 95 % interval.")
    if harm.values is not None:
        note += " " + harm.what
    return Headline(" ".join(reading), cards, note)


def _figure_sections(sweep: _Sweep) -> list[str]:
    if not sweep.n:
        return [_note("Results", "no runs in this sweep")]
    if not sweep.metrics:
        return [_note("Results", "no metrics in this sweep")]
    level = f"{CONFIDENCE:.0%}".replace("%", " %")
    sections = [
        f'<p class="caption" style="margin-top:0">Points are means over completed runs; bars '
        f"are the {level} confidence interval (Student t over seeds; runs at the other "
        "parameters' values pooled). Hover for the interval and the number of runs.</p>"
    ]
    for metric in sweep.metrics:
        sections.extend(_metric_sections(sweep, metric))
    return sections


def _metric_sections(sweep: _Sweep, metric: str) -> list[str]:
    values = sweep.metric(metric)
    if values is None:
        return [_note(metric, f"no numeric column {METRIC_PREFIX}{metric} in the runs table")]
    out = []
    for heading, fig in metric_figures(sweep, metric, values):
        if fig is None:
            out.append(_note(heading, "no completed run has a value for this metric"))
            continue
        height = int(fig.layout.height) if fig.layout.height else None
        out.append(_section(heading, fig, _explain(metric, heading), height))
    return out


def _explain(metric: str, heading: str) -> str:
    """The metric's line, then how this figure groups the runs."""
    text = METRIC_EXPLAIN.get(metric, f"The run summary's {metric}.")
    if heading.endswith(" by design"):
        return text + " Mean per design over all runs."
    if ": mean over " in heading:
        return text + " Mean per grid cell, one panel per design, one colour scale."
    return text + (" Mean per value of the parameter (the other parameters' values pooled), "
                   "one line per design.")


def metric_figures(sweep: _Sweep, metric: str, values: np.ndarray
                   ) -> list[tuple[str, go.Figure | None]]:
    """``(heading, figure or None)`` for one metric, in page order."""
    if not sweep.params:
        return [(f"{metric} by design", _design_bar_figure(sweep, metric, values))]
    figs = [(f"{metric} vs {p}", _param_line_figure(sweep, metric, values, p))
            for p in sweep.params]
    if len(sweep.params) == 2:
        p1, p2 = sweep.params
        figs.append((f"{metric}: mean over {p1} × {p2}",
                     _heatmap_figure(sweep, metric, values, p1, p2)))
    return figs


def _design_bar_figure(sweep: _Sweep, metric: str, values: np.ndarray) -> go.Figure | None:
    """No swept parameter: one bar per design with its confidence interval."""
    mask = sweep.usable(values)
    n, mean, half = cell_stats(sweep.design_code[mask], len(sweep.designs), values[mask])
    keep = [i for i in range(len(sweep.designs)) if n[i] > 0]
    if not keep:
        return None
    fig = go.Figure(go.Bar(
        x=[sweep.designs[i] for i in keep],
        y=[float(mean[i]) for i in keep],
        error_y=_error_bars(mean[keep], half[keep], domain_of(metric)),
        marker_color=[_COLORS[i % len(_COLORS)] for i in keep],
        hovertext=[_hover(mean[i], half[i], n[i]) for i in keep],
        hovertemplate="%{x}<br>%{hovertext}<extra></extra>",
        name=metric,
    ))
    fig.update_xaxes(title_text="design", type="category")
    fig.update_yaxes(title_text=f"{metric} (mean, {CONFIDENCE:.0%} CI)")
    fig.update_layout(showlegend=False)
    return fig


def _param_line_figure(sweep: _Sweep, metric: str, values: np.ndarray, param: str
                       ) -> go.Figure | None:
    """Metric against one parameter's values, one line per design, other parameters pooled."""
    order = sweep.order[param]
    if not order:
        return None
    codes = sweep.value_code[param]
    mask = sweep.usable(values, codes)
    k = len(order)
    cell = sweep.design_code[mask] * k + codes[mask]
    n, mean, half = cell_stats(cell, len(sweep.designs) * k, values[mask])
    fig = go.Figure()
    for d, design in enumerate(sweep.designs):
        idx = [d * k + j for j in range(k) if n[d * k + j] > 0]
        if not idx:
            continue
        color = _COLORS[d % len(_COLORS)]
        fig.add_trace(go.Scatter(
            x=[order[i - d * k] for i in idx],
            y=[float(mean[i]) for i in idx],
            error_y=_error_bars(mean[idx], half[idx], domain_of(metric), color=color),
            mode="lines+markers", name=design, legendgroup=design,
            line=dict(color=color), marker=dict(color=color, size=7),
            hovertext=[_hover(mean[i], half[i], n[i]) for i in idx],
            hovertemplate=f"{esc(param)}=%{{x}}<br>%{{hovertext}}<extra>{esc(design)}</extra>",
        ))
    if not fig.data:
        return None
    # Categorical axis in the sorted order: evenly spaced grid points, labels as given.
    fig.update_xaxes(title_text=param, type="category", categoryorder="array",
                     categoryarray=list(order))
    fig.update_yaxes(title_text=f"{metric} (mean, {CONFIDENCE:.0%} CI)")
    return fig


def _heatmap_figure(sweep: _Sweep, metric: str, values: np.ndarray, p1: str, p2: str
                    ) -> go.Figure | None:
    """Mean metric over the (p1 × p2) grid, one heatmap per design on one colour scale."""
    o1, o2 = sweep.order[p1], sweep.order[p2]
    if not o1 or not o2 or not sweep.designs:
        return None
    c1, c2 = sweep.value_code[p1], sweep.value_code[p2]
    mask = sweep.usable(values, c1, c2)
    k1, k2 = len(o1), len(o2)
    cell = (sweep.design_code[mask] * k1 + c1[mask]) * k2 + c2[mask]
    n, mean, half = cell_stats(cell, len(sweep.designs) * k1 * k2, values[mask])
    if not (n > 0).any():
        return None
    n = n.reshape(len(sweep.designs), k1, k2)
    mean = mean.reshape(n.shape)
    half = half.reshape(n.shape)
    finite = mean[np.isfinite(mean)]
    zmin, zmax = float(finite.min()), float(finite.max())
    n_designs = len(sweep.designs)
    cols = min(HEATMAP_COLS, n_designs)
    rows = math.ceil(n_designs / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(sweep.designs),
                        horizontal_spacing=0.08, vertical_spacing=0.18 / rows + 0.05)
    for d, design in enumerate(sweep.designs):
        # z[row = p2 value][column = p1 value]; NaN cells (no completed run) stay blank.
        z = mean[d].T
        text = [[_hover(mean[d, i, j], half[d, i, j], n[d, i, j]) for i in range(k1)]
                for j in range(k2)]
        fig.add_trace(
            go.Heatmap(
                x=list(o1), y=list(o2), z=[[_json_float(v) for v in row] for row in z],
                coloraxis="coloraxis", hovertext=text, name=design,
                hovertemplate=(f"{esc(p1)}=%{{x}}<br>{esc(p2)}=%{{y}}<br>%{{hovertext}}"
                               f"<extra>{esc(design)}</extra>"),
            ),
            row=d // cols + 1, col=d % cols + 1,
        )
    fig.update_xaxes(title_text=p1, type="category", categoryorder="array",
                     categoryarray=list(o1))
    fig.update_yaxes(title_text=p2, type="category", categoryorder="array",
                     categoryarray=list(o2))
    fig.update_layout(coloraxis=dict(colorscale="Viridis", cmin=zmin, cmax=zmax,
                                     colorbar=dict(title=dict(text=f"{metric}<br>(mean)"))))
    if rows > 1:
        fig.update_layout(height=HEATMAP_ROW_PX * rows + 60)
    return fig


# ---------------------------------------------------------------------------------------------
# Statistics and helpers
# ---------------------------------------------------------------------------------------------


def cell_stats(codes: np.ndarray, n_cells: int, values: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: run count, mean, and half-width of the Student-t confidence interval.

    ``codes`` (ints in ``[0, n_cells)``) assigns each value to a cell. The mean is NaN for an
    empty cell, the half-width NaN for fewer than two values. Computed with bincount: linear in
    the number of runs, no Python loop over cells.
    """
    codes = np.asarray(codes, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    n = np.bincount(codes, minlength=n_cells)[:n_cells]
    total = np.bincount(codes, weights=values, minlength=n_cells)[:n_cells]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    dev = values - mean[codes]
    ss = np.bincount(codes, weights=dev * dev, minlength=n_cells)[:n_cells]
    half = np.full(n_cells, np.nan)
    many = n >= 2
    if many.any():
        dof = n[many] - 1
        sd = np.sqrt(ss[many] / dof)
        half[many] = stats.t.ppf(0.5 + CONFIDENCE / 2, dof) * sd / np.sqrt(n[many])
    return n, mean, half


def _error_bars(mean: np.ndarray, half: np.ndarray, domain: Domain, color: str = "#333"
                ) -> dict:
    """Error bars of the interval clipped to the metric's domain (a share's bar stops at 1,
    a count's at 0); cells without an interval (one run) get none."""
    mean = np.asarray(mean, dtype=float)
    half = np.where(np.isfinite(np.asarray(half, dtype=float)), half, 0.0)
    plus = np.minimum(half, np.maximum(domain[1] - mean, 0.0))
    minus = np.minimum(half, np.maximum(mean - domain[0], 0.0))
    return dict(type="data", symmetric=False, array=[float(v) for v in plus],
                arrayminus=[float(v) for v in minus], visible=True, color=color,
                thickness=1.2, width=4)


def _hover(mean: float, half: float, n: int) -> str:
    text = f"mean {_fmt(mean)}"
    if math.isfinite(half):
        text += f" ± {_fmt(half)}"
    return text + f" (n = {int(n)})"


def _fmt(value: float) -> str:
    value = float(value)
    if not math.isfinite(value):
        return "–"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
        return f"{value:.4g}"
    return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.1f}"


def _json_float(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _names_then_found(given: Any, found: Sequence[str] | np.ndarray | None) -> list[str]:
    """Names from the summary in their order, then any only found in the table."""
    order = [str(x) for x in (given or [])]
    seen = set(order)
    if found is not None:
        extra = unique_in_order(found) if isinstance(found, np.ndarray) else list(found)
        for name in extra:
            if name not in seen:
                order.append(name)
                seen.add(name)
    return order


def _codes(column: np.ndarray | None, names: Sequence[str], n: int) -> np.ndarray:
    """Index of each row's text in ``names``; -1 when not listed or the column is absent."""
    if column is None or not len(column):
        return np.full(n, -1, dtype=np.int64)
    unique, inverse = np.unique(column, return_inverse=True)
    index = {name: i for i, name in enumerate(names)}
    lookup = np.array([index.get(str(u), -1) for u in unique], dtype=np.int64)
    return lookup[inverse.reshape(-1)]
