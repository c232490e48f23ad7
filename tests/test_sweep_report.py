"""The sweep page: offline, aggregates only, ordered parameter axes, correct intervals."""
from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from plotly.offline import get_plotlyjs
from scipy import stats

from seqlab.report import render_sweep_html, write_sweep_report
from seqlab.report.sweep_html import order_values
from seqlab.result import Result
from seqlab.units import parse_duration

BLOCK = "sequencer.block_time"
BONUS = "protocol.perps.liquidation_bonus"
METRICS = ["operator_profit_usd", "latency_ms.p50"]
DESIGNS = ["honest", "extractive"]
# Failed runs of the main fixture: (design, block time, bonus, seed) -> error text.
FAILURES = {
    ("honest", "250ms", "0.05", 2): "ValueError: oracle price diverged at t=12s",
    ("extractive", "1s", "0.1", 4): "RuntimeError: kernel <timeout> after 600s",
}


def make_sweep(designs: Sequence[str] = tuple(DESIGNS),
               params: dict[str, Sequence[str]] | None = None,
               n_seeds: int = 5,
               metrics: Sequence[str] = tuple(METRICS),
               failures: dict[tuple, str] | None = None,
               seed: int = 7) -> Result:
    """A synthetic sweep Result: one row per design × parameter values × seed."""
    if params is None:
        params = {BLOCK: ["100ms", "1s", "250ms"], BONUS: ["0.05", "0.1"]}
    failures = failures or {}
    rng = np.random.default_rng(seed)
    names = list(params)
    cols: dict[str, list[Any]] = {k: [] for k in ("run_id", "design", "seed", "status", "error")}
    for p in names:
        cols[f"p:{p}"] = []
    for m in metrics:
        cols[f"m:{m}"] = []
    for d, design in enumerate(designs):
        for combo in itertools.product(*(params[p] for p in names)):
            for s in range(n_seeds):
                key = (design, *combo, s)
                error = failures.get(key, "")
                cols["run_id"].append(f"r{len(cols['run_id']):05d}")
                cols["design"].append(design)
                cols["seed"].append(s)
                cols["status"].append("failed" if error else "ok")
                cols["error"].append(error)
                for p, v in zip(names, combo):
                    cols[f"p:{p}"].append(v)
                block_ms = (parse_duration(combo[names.index(BLOCK)]) / 1000
                            if BLOCK in names else 100.0)
                for m in metrics:
                    if error:
                        value = np.nan
                    elif m == "latency_ms.p50":
                        value = block_ms / 2 + rng.normal(0, 5)
                    else:
                        value = 1000.0 * d + block_ms * (1 + d) + rng.normal(0, 50)
                    cols[f"m:{m}"].append(float(value))
    table = {
        "run_id": np.asarray(cols.pop("run_id"), dtype=str),
        "design": np.asarray(cols.pop("design"), dtype=str),
        "seed": np.asarray(cols.pop("seed"), dtype=np.int64),
        "status": np.asarray(cols.pop("status"), dtype=str),
        "error": np.asarray(cols.pop("error"), dtype=str),
    }
    for k, v in cols.items():
        table[k] = np.asarray(v, dtype=np.float64 if k.startswith("m:") else str)
    n_failed = int((table["status"] == "failed").sum())
    summary = {"scenario": "flash-crash", "designs": list(designs), "params": names,
               "seeds": n_seeds, "runs": len(table["run_id"]) - n_failed, "failed": n_failed,
               "metrics": list(metrics)}
    return Result(summary=summary, tables={"runs": table})


def _outside_plotlyjs(text: str) -> str:
    js = get_plotlyjs()
    assert text.count(js) == 1, "plotly.js must be embedded exactly once"
    return text.replace(js, "")


def _figures(text: str) -> dict[str, tuple[list[dict], dict]]:
    """Every plotly figure of the page as ``{title: (data, layout)}``, decoded from its JSON."""
    decoder = json.JSONDecoder()
    out = {}
    pos = 0
    while (start := text.find("Plotly.newPlot(", pos)) >= 0:
        pos = text.index(",", start) + 1  # after the div id
        while text[pos].isspace():
            pos += 1
        data, pos = decoder.raw_decode(text, pos)
        pos = text.index("{", pos)
        layout, pos = decoder.raw_decode(text, pos)
        out[layout["title"]["text"]] = (data, layout)
    return out


def _hand_ci(values: np.ndarray) -> tuple[float, float]:
    values = np.asarray(values, dtype=float)
    n = len(values)
    half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return float(values.mean()), float(half)


@pytest.fixture(scope="module")
def result() -> Result:
    return make_sweep(failures=FAILURES)


@pytest.fixture(scope="module")
def page(result: Result, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = write_sweep_report(result, tmp_path_factory.mktemp("sweep") / "sub" / "sweep.html")
    return out, out.read_text(encoding="utf-8")


def test_page_written_self_contained_and_complete(page: tuple[Path, str]) -> None:
    out, text = page
    assert out.name == "sweep.html" and out.is_file()
    assert [p.name for p in out.parent.iterdir()] == ["sweep.html"]  # atomic: no temp left
    assert "<script src" not in text.lower() and "<link" not in text.lower()
    rest = _outside_plotlyjs(text)
    assert "http://" not in rest and "https://" not in rest
    assert "flash-crash" in rest
    for name in (*METRICS, BLOCK, BONUS, *DESIGNS):
        assert name in rest, name
    figs = _figures(rest)
    for metric in METRICS:
        assert f"{metric} vs {BLOCK}" in figs
        assert f"{metric} vs {BONUS}" in figs
        assert f"{metric}: mean over {BLOCK} × {BONUS}" in figs
    # Header counts: 2 designs × 3 × 2 × 5 seeds = 60 runs, 2 failed.
    assert "runs: <b>58</b>" in rest and "failed: <b>2</b>" in rest and "seeds: <b>5</b>" in rest


def test_duration_axis_is_ordered_numerically(page: tuple[Path, str]) -> None:
    figs = _figures(_outside_plotlyjs(page[1]))
    data, layout = figs[f"operator_profit_usd vs {BLOCK}"]
    assert layout["xaxis"]["categoryarray"] == ["100ms", "250ms", "1s"]
    assert layout["xaxis"]["type"] == "category"
    assert [t["name"] for t in data] == DESIGNS
    for trace in data:
        assert trace["x"] == ["100ms", "250ms", "1s"]
    data, layout = figs[f"latency_ms.p50 vs {BONUS}"]
    assert layout["xaxis"]["categoryarray"] == ["0.05", "0.1"]


def test_line_ci_matches_hand_computation(result: Result, page: tuple[Path, str]) -> None:
    runs = result.tables["runs"]
    # honest @ 250ms, bonus pooled: 10 runs, one of them failed (excluded).
    cell = ((runs["design"] == "honest") & (runs["p:" + BLOCK] == "250ms")
            & (runs["status"] == "ok"))
    assert cell.sum() == 9
    mean, half = _hand_ci(runs["m:operator_profit_usd"][cell])
    data, _ = _figures(_outside_plotlyjs(page[1]))[f"operator_profit_usd vs {BLOCK}"]
    trace = next(t for t in data if t["name"] == "honest")
    i = trace["x"].index("250ms")
    assert trace["y"][i] == pytest.approx(mean, rel=1e-12)
    assert trace["error_y"]["array"][i] == pytest.approx(half, rel=1e-12)
    assert half > 0


def test_heatmap_present_with_correct_cell(result: Result, page: tuple[Path, str]) -> None:
    data, layout = _figures(_outside_plotlyjs(page[1]))[
        f"latency_ms.p50: mean over {BLOCK} × {BONUS}"]
    assert [t["type"] for t in data] == ["heatmap", "heatmap"]
    assert [t["name"] for t in data] == DESIGNS
    heat = data[1]  # extractive
    assert heat["x"] == ["100ms", "250ms", "1s"] and heat["y"] == ["0.05", "0.1"]
    assert layout["xaxis"]["categoryarray"] == ["100ms", "250ms", "1s"]
    runs = result.tables["runs"]
    cell = ((runs["design"] == "extractive") & (runs["p:" + BLOCK] == "1s")
            & (runs["p:" + BONUS] == "0.1") & (runs["status"] == "ok"))
    assert cell.sum() == 4
    expected = runs["m:latency_ms.p50"][cell].mean()
    assert heat["z"][1][2] == pytest.approx(expected, rel=1e-12)  # row = bonus, col = block
    # Both designs share one colour scale.
    assert {t["coloraxis"] for t in data} == {"coloraxis"}


def test_failures_table_lists_errors(page: tuple[Path, str]) -> None:
    rest = _outside_plotlyjs(page[1])
    assert "Failed runs (2)" in rest
    assert "ValueError: oracle price diverged at t=12s" in rest
    assert "RuntimeError: kernel &lt;timeout&gt; after 600s" in rest  # escaped
    assert f"{BLOCK}=250ms, {BONUS}=0.05" in rest


def test_no_failures_no_table() -> None:
    rest = _outside_plotlyjs(render_sweep_html(make_sweep(n_seeds=2)))
    assert "Failed runs" not in rest


def test_one_parameter_sweep(tmp_path: Path) -> None:
    res = make_sweep(params={BLOCK: ["1s", "100ms", "2.5s"]}, n_seeds=3)
    text = write_sweep_report(res, tmp_path / "one.html").read_text(encoding="utf-8")
    figs = _figures(_outside_plotlyjs(text))
    assert set(figs) == {f"{m} vs {BLOCK}" for m in METRICS}
    data, layout = figs[f"latency_ms.p50 vs {BLOCK}"]
    assert layout["xaxis"]["categoryarray"] == ["100ms", "1s", "2.5s"]
    assert all(t["type"] == "scatter" for t in data)


def test_zero_parameter_sweep_bars_with_ci(tmp_path: Path) -> None:
    res = make_sweep(params={}, n_seeds=4, designs=("honest", "extractive", "batch"))
    text = write_sweep_report(res, tmp_path / "zero.html").read_text(encoding="utf-8")
    figs = _figures(_outside_plotlyjs(text))
    assert set(figs) == {f"{m} by design" for m in METRICS}
    data, _ = figs["operator_profit_usd by design"]
    (bar,) = data
    assert bar["type"] == "bar" and bar["x"] == ["honest", "extractive", "batch"]
    runs = res.tables["runs"]
    mean, half = _hand_ci(runs["m:operator_profit_usd"][runs["design"] == "batch"])
    assert bar["y"][2] == pytest.approx(mean, rel=1e-12)
    assert bar["error_y"]["array"][2] == pytest.approx(half, rel=1e-12)


def test_value_order() -> None:
    assert order_values(["0.1", "0.05", "1e-3"]) == ["1e-3", "0.05", "0.1"]
    assert order_values(["1s", "100ms", "250ms", "2min"]) == ["100ms", "250ms", "1s", "2min"]
    assert order_values(["1s", "0"]) == ["0", "1s"]  # a bare number is seconds
    assert order_values(["fcfs", "batch", "10"]) == ["fcfs", "batch", "10"]
    assert order_values(["250ms", "fast"]) == ["250ms", "fast"]
    assert order_values([]) == []


def test_empty_and_missing_tables(tmp_path: Path) -> None:
    res = make_sweep(n_seeds=1)
    empty = Result(summary=dict(res.summary, runs=0, failed=0),
                   tables={"runs": {k: v[:0] for k, v in res.tables["runs"].items()}})
    rest = _outside_plotlyjs(write_sweep_report(empty, tmp_path / "e.html").read_text("utf-8"))
    assert "no runs in this sweep" in rest
    bare = Result(summary={"scenario": "x"})
    rest = _outside_plotlyjs(write_sweep_report(bare, tmp_path / "b.html").read_text("utf-8"))
    assert "no runs in this sweep" in rest
    no_cols = Result(summary=dict(res.summary), tables={"runs": {}})
    assert "no runs in this sweep" in render_sweep_html(no_cols)


def test_all_failed_and_missing_metric_column(tmp_path: Path) -> None:
    res = make_sweep(params={BLOCK: ["1s", "100ms"]}, n_seeds=2, metrics=["operator_profit_usd"])
    runs = res.tables["runs"]
    runs["status"][:] = "failed"
    runs["error"][:] = "boom"
    runs["m:operator_profit_usd"][:] = np.nan
    res.summary["metrics"] = ["operator_profit_usd", "missing_metric"]
    rest = _outside_plotlyjs(write_sweep_report(res, tmp_path / "f.html").read_text("utf-8"))
    assert "no completed run has a value" in rest
    assert "no numeric column m:missing_metric" in rest
    assert "Failed runs (8)" in rest


def test_single_seed_cells_have_no_interval() -> None:
    res = make_sweep(params={BLOCK: ["1s", "100ms"]}, n_seeds=1)
    data, _ = _figures(_outside_plotlyjs(render_sweep_html(res)))[
        f"operator_profit_usd vs {BLOCK}"]
    assert all(v == 0.0 for t in data for v in t["error_y"]["array"])


def test_ten_thousand_runs_stay_small(tmp_path: Path) -> None:
    block = [f"{v}ms" for v in (50, 100, 150, 200, 250, 300, 400, 500, 750, 1000)]
    bonus = [f"{v:.3f}" for v in np.linspace(0.01, 0.10, 10)]
    failures = {("d1", block[i], bonus[i], i): "x" * 5000 for i in range(10)}
    failures.update({("d2", block[3], b, s): "oom" for b in bonus for s in range(25)})
    res = make_sweep(designs=("d0", "d1", "d2", "d3"), params={BLOCK: block, BONUS: bonus},
                     n_seeds=25, failures=failures)
    assert len(res.tables["runs"]["run_id"]) == 10_000
    out = write_sweep_report(res, tmp_path / "big.html")
    size = out.stat().st_size
    assert size < 8 * 1024 * 1024, size
    rest = _outside_plotlyjs(out.read_text(encoding="utf-8"))
    assert len(rest) < 1_000_000, len(rest)
    assert "Failed runs (260)" in rest and "210 more failed runs" in rest
    figs = _figures(rest)
    data, layout = figs[f"operator_profit_usd: mean over {BLOCK} × {BONUS}"]
    assert len(data) == 4 and layout["height"] > 480  # 4 designs wrap onto two rows
    assert data[2]["z"][0][3] is None  # d2 @ 200ms: every run failed, blank cell


def _valued_sweep() -> Result:
    res = make_sweep(params={BLOCK: ["1s", "100ms"]}, n_seeds=3,
                     metrics=["operator_profit_usd", "user_value_usd", "lp_value_usd"],
                     failures={("extractive", "1s", 2): "boom"})
    runs = res.tables["runs"]
    rng = np.random.default_rng(5)
    extractive = runs["design"] == "extractive"
    runs["m:user_value_usd"] = 1e6 + rng.normal(0, 100, len(extractive)) - 500.0 * extractive
    runs["m:lp_value_usd"] = 5e6 - 200.0 * extractive
    runs["m:user_value_usd"][runs["status"] == "failed"] = np.nan
    return res


def test_harm_against_baseline_is_paired_by_seed_and_point() -> None:
    res = _valued_sweep()
    runs = res.tables["runs"]
    rest = _outside_plotlyjs(render_sweep_html(res))
    data, _ = _figures(rest)[f"harm against honest (USD) vs {BLOCK}"]
    (trace,) = data  # the baseline has no line of its own
    assert trace["name"] == "extractive"
    total = runs["m:user_value_usd"] + runs["m:lp_value_usd"]

    def at(design: str, value: str) -> dict[int, float]:
        m = (runs["design"] == design) & (runs["p:" + BLOCK] == value) & (runs["status"] == "ok")
        return dict(zip(runs["seed"][m].tolist(), total[m].tolist()))

    for value in ("100ms", "1s"):
        base, ext = at("honest", value), at("extractive", value)
        paired = [base[s] - ext[s] for s in ext]  # the failed run has no pair
        mean, half = _hand_ci(np.array(paired))
        i = trace["x"].index(value)
        assert trace["y"][i] == pytest.approx(mean, rel=1e-12)
        assert trace["error_y"]["array"][i] == pytest.approx(half, rel=1e-12)
    assert "Harm against honest at every parameter point" in rest
    assert "user_value_usd + lp_value_usd" in rest


def test_sweep_headline_reads_harm() -> None:
    rest = _outside_plotlyjs(render_sweep_html(_valued_sweep()))
    card = rest[rest.index('id="headline"'):rest.index("</section>")]
    assert "Under extractive users lost" in card and "per run against honest" in card
    assert "worst at" in card and "11 completed runs (1 failed)" in card
    assert rest.index("</section>") < rest.index("harm against honest (USD) vs")


def test_one_design_sweep_says_there_is_no_baseline() -> None:
    rest = _outside_plotlyjs(render_sweep_html(make_sweep(designs=("honest",), n_seeds=2)))
    assert 'id="headline"' in rest
    assert "one design only: no baseline to measure harm against" in rest


def test_share_error_bars_stop_at_one() -> None:
    res = make_sweep(params={BLOCK: ["1s", "100ms"]}, n_seeds=3, metrics=["operator_bonus_share"])
    runs = res.tables["runs"]
    runs["m:operator_bonus_share"] = np.where(runs["seed"] == 0, 0.7, 1.0)
    data, _ = _figures(_outside_plotlyjs(render_sweep_html(res)))[
        f"operator_bonus_share vs {BLOCK}"]
    for trace in data:
        for y, up, down in zip(trace["y"], trace["error_y"]["array"],
                               trace["error_y"]["arrayminus"]):
            assert y + up == pytest.approx(1.0) and y - down >= 0.0
