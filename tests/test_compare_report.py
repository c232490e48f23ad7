"""The comparison page of ``seqlab compare``: offline, complete, robust to empty tables, small."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from seqlab.report import write_compare_report
from seqlab.result import Result

STRATEGIES = ("backrun", "censor", "stale_oracle", "sandwich", "priority_fees")
LIQUIDATORS = ("alice", "bob", "operator")
FIGURE_TITLES = (
    "Extracted value and direct ordering cost per design",
    "Distribution of the ordering cost across users",
    "Liquidation-bonus capture share",
    "Inclusion latency CDF",
)
NUMERIC = ("operator_profit_usd", "ordering_cost_usd", "ordering_cost_bps",
           "final_value_difference_usd",
           "forced_liquidations", "liquidations", "operator_bonus_share",
           "same_block_liquidation_share", "oracle_to_liquidation_ms", "latency_p50_ms",
           "latency_p99_ms", "max_censorship_delay_ms")


def make_compare(designs: tuple[str, ...] = ("honest", "extractive", "batch-auction"),
                 n_seeds: int = 2, n_accounts: int = 2_000) -> Result:
    """A synthetic ``compare`` Result shaped like ``seqlab.experiments.compare`` builds it."""
    rng = np.random.default_rng(11)
    baseline = designs[0]
    seeds = [100 + k for k in range(n_seeds)]
    runs: dict[str, list] = {k: [] for k in ("design", "seed", *NUMERIC, "digest",
                                             *(f"profit_{s}" for s in STRATEGIES))}
    harm_design, harm_seed, harm_account, harm_usd = [], [], [], []
    bonus: dict[str, list] = {"design": [], "seed": [], "liquidator": [], "bonus_usd": []}
    per_design: dict[str, dict] = {}
    for i, design in enumerate(designs):
        samples = []
        for seed in seeds:
            extractive = i > 0
            row = {k: float(rng.uniform(0, 10)) for k in NUMERIC}
            row["ordering_cost_usd"] = float(rng.uniform(1e4, 5e4)) if extractive else 0.0
            row["operator_bonus_share"] = float(rng.uniform(0.2, 0.9)) if extractive else 0.0
            row["forced_liquidations"] = int(rng.integers(0, 20)) if extractive else 0
            profits = {s: (float(rng.uniform(0, 1e4)) if extractive else 0.0) for s in STRATEGIES}
            row["operator_profit_usd"] = sum(profits.values())
            samples.append(row)
            runs["design"].append(design)
            runs["seed"].append(seed)
            for k in NUMERIC:
                runs[k].append(row[k])
            runs["digest"].append(f"{i:02d}{seed:04d}" + "ab" * 29)
            for s in STRATEGIES:
                runs[f"profit_{s}"].append(profits[s])
            diff = (rng.standard_t(3, n_accounts) * 50.0 + 10.0) if extractive \
                else np.zeros(n_accounts)
            harm_design.append(np.full(n_accounts, design))
            harm_seed.append(np.full(n_accounts, seed))
            harm_account.append(np.arange(n_accounts))
            harm_usd.append(diff)
            for name in LIQUIDATORS:
                if name == "operator" and not extractive:
                    continue
                bonus["design"].append(design)
                bonus["seed"].append(seed)
                bonus["liquidator"].append(name)
                bonus["bonus_usd"].append(float(rng.uniform(100, 1000)))
        entry = {k: float(np.mean([s[k] for s in samples])) for k in NUMERIC}
        entry["latency_ms"] = {"p50": entry.pop("latency_p50_ms"),
                               "p99": entry.pop("latency_p99_ms")}
        entry["digest"] = runs["digest"][-1]
        if n_seeds > 1:
            ci = {}
            for k in NUMERIC:
                vals = np.array([s[k] for s in samples])
                half = 2.0 * vals.std(ddof=1) / np.sqrt(len(vals))
                ci[k] = [float(vals.mean() - half), float(vals.mean() + half)]
            entry["ci95"] = ci
        per_design[design] = entry
    q = np.linspace(0, 1, 201)
    tables = {
        "runs": {k: np.asarray(v) for k, v in runs.items()},
        "harm": {"design": np.concatenate(harm_design), "seed": np.concatenate(harm_seed),
                 "account": np.concatenate(harm_account),
                 "ordering_cost_usd": np.concatenate(harm_usd),
                 "final_value_difference_usd": np.concatenate(harm_usd)},
        "bonus": {k: np.asarray(v) for k, v in bonus.items()},
        "latency_quantiles": {
            "design": np.repeat(np.asarray(designs), len(q)),
            "q": np.tile(q, len(designs)),
            "latency_ms": np.concatenate([np.sort(rng.gamma(2.0, 100.0 * (i + 1), len(q)))
                                          for i in range(len(designs))]),
        },
    }
    summary = {"scenario": "flash-crash", "baseline": baseline, "seeds": seeds,
               "designs": per_design}
    return Result(summary=summary, tables=tables)


def _outside_plotlyjs(text: str) -> str:
    js = get_plotlyjs()
    assert text.count(js) == 1, "plotly.js must be embedded exactly once"
    return text.replace(js, "")


def _empty(columns: dict[str, type]) -> dict[str, np.ndarray]:
    return {k: np.array([], dtype=t) for k, t in columns.items()}


@pytest.fixture(scope="module")
def result() -> Result:
    return make_compare()


def test_compare_page_is_self_contained_and_complete(tmp_path: Path, result: Result) -> None:
    out = write_compare_report(result, tmp_path / "sub" / "compare.html")
    assert out == tmp_path / "sub" / "compare.html" and out.is_file()
    text = out.read_text(encoding="utf-8")
    assert "<script src" not in text.lower()
    assert "<link" not in text.lower()
    rest = _outside_plotlyjs(text)
    assert "http://" not in rest and "https://" not in rest
    for heading in FIGURE_TITLES:
        assert heading in rest, heading
    for design in result.summary["designs"]:
        assert design in rest, design
    # Header line and table.
    assert "flash-crash" in rest and "baseline" in rest and "100, 101" in rest
    # Intervals as [low, high] (clipped intervals are not symmetric about the mean).
    low, high = result.summary["designs"]["extractive"]["ci95"]["ordering_cost_bps"]
    assert f'<span class="ci">[{low:,.2f}, {high:,.2f}]</span>' in rest
    assert result.summary["designs"]["extractive"]["digest"][:12] in rest
    for column in ("extracted value (USD)", "direct ordering cost (USD)",
                   "ordering cost (bps of traded notional)", "final-value difference (USD)",
                   "forced liquidations",
                   "operator bonus share", "same-block liquidation share", "p50 latency (ms)",
                   "p99 latency (ms)", "max censorship delay (ms)"):
        assert column in rest, column
    # Designs appear in summary order in the table.
    body = rest[rest.index("<tbody>"):]
    idx = [body.index(f"<th>{d}") for d in result.summary["designs"]]
    assert idx == sorted(idx)
    assert "no per-user harm data" not in rest
    assert "no liquidation bonus" not in rest
    # Atomic write: nothing but the page is left behind.
    assert [p for p in out.parent.iterdir()] == [out]


def test_title_escaped_and_overwrite(tmp_path: Path, result: Result) -> None:
    target = tmp_path / "compare.html"
    target.write_text("old", encoding="utf-8")
    write_compare_report(result, str(target), title="Cmp <x>")
    text = target.read_text(encoding="utf-8")
    assert "Cmp &lt;x&gt;" in text
    assert list(tmp_path.iterdir()) == [target]


def test_one_seed_without_ci(tmp_path: Path) -> None:
    res = make_compare(n_seeds=1, n_accounts=500)
    assert all("ci95" not in d for d in res.summary["designs"].values())
    text = write_compare_report(res, tmp_path / "one.html").read_text(encoding="utf-8")
    rest = _outside_plotlyjs(text)
    assert "±" not in rest and '<span class="ci">[' not in rest
    for heading in FIGURE_TITLES:
        assert heading in rest, heading


def test_empty_harm_and_bonus_tables(tmp_path: Path) -> None:
    res = make_compare(n_seeds=2, n_accounts=100)
    res.tables["harm"] = _empty({"design": str, "seed": np.int64, "account": np.int64,
                                 "ordering_cost_usd": np.float64,
                                 "final_value_difference_usd": np.float64})
    res.tables["bonus"] = _empty({"design": str, "seed": np.int64, "liquidator": str,
                                  "bonus_usd": np.float64})
    text = write_compare_report(res, tmp_path / "empty.html").read_text(encoding="utf-8")
    rest = _outside_plotlyjs(text)
    assert "no per-user harm data" in rest
    assert "no liquidation bonus paid" in rest
    assert "Inclusion latency CDF" in rest


def test_missing_tables_and_empty_ci(tmp_path: Path) -> None:
    res = make_compare(n_seeds=1, n_accounts=10)
    for entry in res.summary["designs"].values():
        entry["ci95"] = {}
    res.tables = {}
    text = write_compare_report(res, tmp_path / "bare.html").read_text(encoding="utf-8")
    rest = _outside_plotlyjs(text)
    assert "no per-user harm data" in rest
    assert "no latency quantiles" in rest
    assert "±" not in rest and '<span class="ci">[' not in rest
    for design in res.summary["designs"]:
        assert design in rest


def test_big_harm_table_stays_small(tmp_path: Path) -> None:
    res = make_compare(designs=("honest", "extractive", "batch-auction", "priority"),
                       n_seeds=10, n_accounts=20_000)
    assert len(res.tables["harm"]["ordering_cost_usd"]) == 4 * 10 * 20_000
    out = write_compare_report(res, tmp_path / "big.html")
    size = out.stat().st_size
    assert size < 10 * 1024 * 1024, size
    rest = _outside_plotlyjs(out.read_text(encoding="utf-8"))
    assert len(rest) < 500_000, len(rest)
    assert "Distribution of the ordering cost across users" in rest


def test_precomputed_box_matches_numpy() -> None:
    from seqlab.report.compare_html import _precomputed_box

    v = np.random.default_rng(3).normal(0, 1, 100_001)
    box = _precomputed_box("x", v)
    q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
    assert box.q1[0] == pytest.approx(q1) and box.median[0] == pytest.approx(med)
    assert box.q3[0] == pytest.approx(q3)
    assert v.min() <= box.lowerfence[0] <= q1 and q3 <= box.upperfence[0] <= v.max()


def test_headline_reads_each_design_against_the_baseline(result: Result) -> None:
    from seqlab.report.compare_html import compare_headline

    designs = list(result.summary["designs"])
    headline = compare_headline(result, designs)
    assert [c.title for c in headline.cards] == designs
    assert headline.cards[0].tag == "baseline"
    extractive = result.summary["designs"]["extractive"]
    assert headline.reading.startswith("Under extractive the operator made ")
    assert "against honest" in headline.reading and "were forced" in headline.reading
    labels = [f.label for f in headline.cards[1].figures]
    assert labels == ["operator profit", "ordering cost vs baseline", "final-value difference",
                      "forced liquidations", "p99 latency"]
    harm = headline.cards[1].figures[1]
    low, high = extractive["ci95"]["ordering_cost_usd"]
    assert harm.interval is not None and harm.zero == (low <= 0 <= high)
    rest = _outside_plotlyjs(write_compare_report_text(result))
    assert rest.index('id="headline"') < rest.index(
        "Extracted value and direct ordering cost per design")
    assert rest.index("Inclusion latency CDF") < rest.index('<details class="full">')


def test_interval_containing_zero_is_marked(tmp_path: Path) -> None:
    res = make_compare(n_seeds=3, n_accounts=50)
    res.summary["designs"]["extractive"]["ci95"]["ordering_cost_usd"] = [-5.0, 20.0]
    res.summary["designs"]["extractive"]["significance"] = {
        "ordering_cost_usd": {"significant": False, "seeds_needed": 17}}
    rest = _outside_plotlyjs(write_compare_report_text(res))
    card = rest[rest.index('id="headline"'):rest.index("</section>")]
    assert "0 in CI" in card and "not told apart from zero" in card
    assert "~17 seeds needed" in card  # the power estimate beside the interval
    table = rest[rest.index('<details class="full">'):]
    assert "0 in CI, ~17 seeds needed" in table


def test_latency_axis_clipped_to_the_bulk() -> None:
    from seqlab.report.compare_html import _latency_cdf_figure

    q = np.linspace(0, 1, 101)
    fast = np.linspace(100, 300, 101)
    slow = fast.copy()
    slow[-1] = 600_000.0  # one censored tx waited ten minutes
    fig, caption = _latency_cdf_figure(
        {"design": np.repeat(np.array(["a", "b"]), 101), "q": np.tile(q, 2),
         "latency_ms": np.concatenate([fast, slow])}, ["a", "b"])
    lo, hi = fig.layout.xaxis.range
    assert fig.layout.xaxis.type == "log"
    assert 10 ** hi == pytest.approx(2 * np.interp(0.99, q, slow)) and 10 ** hi < 1_000
    assert 10 ** lo == pytest.approx(100.0)
    assert "b up to 600,000 ms" in caption


def write_compare_report_text(res: Result) -> str:
    from seqlab.report.compare_html import render_compare_html

    return render_compare_html(res)
