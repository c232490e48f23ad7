"""The HTML report: one offline file, every figure present, atomic write, small for big runs."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from seqlab.report import write_report
from seqlab.result import Result

DIGEST = "9f3c2a7be41d0c55aa01de77c0ffee1234567890abcdef0123456789abcdef01"
LIQUIDATORS = np.array(["alice", "bob", "carol"])


def _prices(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    t_s = np.arange(n, dtype=np.float64)
    reference = 2000.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, n)))
    oracle = np.full(n, np.nan)
    step = 60
    for start in range(30, n, step):  # updates every minute, first one after 30 s
        oracle[start:start + step] = reference[start]
    return {"t_s": t_s, "reference": reference, "oracle": oracle}


def _txs(n: int, rng: np.random.Generator, horizon_s: float) -> dict[str, np.ndarray]:
    submit_us = np.sort(rng.integers(0, int(horizon_s * 1e6), n)).astype(np.int64)
    latency_us = rng.gamma(2.0, 150_000.0, n).astype(np.int64)
    included_us = submit_us + latency_us
    included_us[rng.random(n) < 0.02] = -1
    status = np.where(included_us >= 0, "ok", "pending")
    return {
        "id": np.arange(n, dtype=np.int64),
        "kind": rng.choice(np.array(["swap", "oracle", "liquidate"]), n),
        "sender": rng.integers(0, 500, n),
        "submit_us": submit_us,
        "arrival_us": submit_us + 1_000,
        "block": included_us // 250_000,
        "included_us": included_us,
        "status": status,
    }


def _liquidations(n: int, rng: np.random.Generator, horizon_s: float) -> dict[str, np.ndarray]:
    closed = rng.uniform(1_000, 50_000, n)
    return {
        "t_s": np.sort(rng.uniform(0, horizon_s, n)),
        "block": np.arange(n, dtype=np.int64),
        "account": rng.integers(0, 100, n),
        "liquidator": rng.choice(LIQUIDATORS, n),
        "closed_usd": closed,
        "bonus_usd": closed * 0.05,
        "blocks_after_oracle": rng.integers(0, 10, n),
    }


def _empty_liquidations() -> dict[str, np.ndarray]:
    return {
        "t_s": np.array([], dtype=np.float64),
        "block": np.array([], dtype=np.int64),
        "account": np.array([], dtype=np.int64),
        "liquidator": np.array([], dtype=str),
        "closed_usd": np.array([], dtype=np.float64),
        "bonus_usd": np.array([], dtype=np.float64),
        "blocks_after_oracle": np.array([], dtype=np.int64),
    }


def make_result(n_txs: int = 5_000, n_liq: int = 40, horizon_s: float = 7_200.0) -> Result:
    rng = np.random.default_rng(7)
    txs = _txs(n_txs, rng, horizon_s)
    liq = _liquidations(n_liq, rng, horizon_s) if n_liq else _empty_liquidations()
    bonus = {}
    for name in LIQUIDATORS:
        usd = float(liq["bonus_usd"][liq["liquidator"] == name].sum())
        if usd:
            bonus[str(name)] = usd
    ok = txs["included_us"] >= 0
    lat_ms = (txs["included_us"][ok] - txs["submit_us"][ok]) / 1000.0
    summary = {
        "scenario": "flash-crash",
        "seed": 12345,
        "digest": DIGEST,
        "ledger_residual": 0,
        "wall_s": 1.234,
        "sim_duration_s": horizon_s,
        "txs": n_txs,
        "blocks": int(horizon_s * 4),
        "liquidations": n_liq,
        "latency_ms": {
            "p50": float(np.percentile(lat_ms, 50)),
            "p90": float(np.percentile(lat_ms, 90)),
            "p99": float(np.percentile(lat_ms, 99)),
            "mean": float(lat_ms.mean()),
        },
        "bad_debt_usd": 0.0,
        "fees_usd": 98765.4321,
        "liquidation_bonus_by_liquidator": bonus,
        "design": "fcfs",
        "not_a_scalar": [1, 2, 3],
    }
    tables = {
        "prices": _prices(int(horizon_s), rng),
        "txs": txs,
        "liquidations": liq,
        "blocks": {
            "block": np.arange(int(horizon_s * 4), dtype=np.int64),
            "t_us": np.arange(int(horizon_s * 4), dtype=np.int64) * 250_000,
            "n_txs": np.zeros(int(horizon_s * 4), dtype=np.int64),
        },
    }
    return Result(summary=summary, tables=tables)


def _outside_plotlyjs(text: str) -> str:
    """The document with the embedded plotly.js bundle cut out (the bundle itself mentions URLs)."""
    js = get_plotlyjs()
    assert text.count(js) == 1, "plotly.js must be embedded exactly once"
    return text.replace(js, "")


def _leftover_temp_files(directory: Path, keep: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p != keep]


@pytest.fixture(scope="module")
def result() -> Result:
    return make_result()


def test_report_is_self_contained_and_complete(tmp_path: Path, result: Result) -> None:
    out = write_report(result, tmp_path / "nested" / "dir" / "report.html")
    assert out == tmp_path / "nested" / "dir" / "report.html"
    assert out.is_file()
    text = out.read_text(encoding="utf-8")

    assert "<script src" not in text.lower()
    assert "<link" not in text.lower()
    rest = _outside_plotlyjs(text)
    assert "http://" not in rest and "https://" not in rest
    assert "@import" not in rest and "url(" not in rest

    assert DIGEST in text
    for word in ("Price", "Liquidations", "latency", "bonus"):
        assert word in text, word
    # Summary table: nested dicts flattened, numbers formatted, non-scalars skipped.
    assert "latency_ms.p50" in text
    assert "liquidation_bonus_by_liquidator.alice" in text
    assert "98,765.43" in text
    assert "not_a_scalar" not in text
    assert "no liquidations in this run" not in text
    # Atomic: only the report is left in its directory.
    assert _leftover_temp_files(out.parent, out) == []


def test_overwrite_is_atomic_and_title_used(tmp_path: Path, result: Result) -> None:
    target = tmp_path / "report.html"
    target.write_text("old", encoding="utf-8")
    write_report(result, str(target), title="My <run>")
    text = target.read_text(encoding="utf-8")
    assert "My &lt;run&gt;" in text
    assert _leftover_temp_files(tmp_path, target) == []


def test_empty_liquidations(tmp_path: Path) -> None:
    res = make_result(n_txs=2_000, n_liq=0)
    assert res.summary["liquidation_bonus_by_liquidator"] == {}
    out = write_report(res, tmp_path / "empty.html")
    text = out.read_text(encoding="utf-8")
    assert "no liquidations in this run" in text
    assert DIGEST in text
    assert _leftover_temp_files(tmp_path, out) == []


def test_missing_tables_do_not_crash(tmp_path: Path) -> None:
    res = Result(summary={"scenario": "bare", "seed": 1, "digest": DIGEST}, tables={})
    text = write_report(res, tmp_path / "bare.html").read_text(encoding="utf-8")
    assert "no liquidations in this run" in text
    assert DIGEST in text


def test_big_run_stays_small(tmp_path: Path) -> None:
    res = make_result(n_txs=1_000_000, n_liq=2_000, horizon_s=86_400.0)
    out = write_report(res, tmp_path / "big.html")
    size = out.stat().st_size
    assert size < 10 * 1024 * 1024, size
    text = out.read_text(encoding="utf-8")
    assert "<script src" not in text.lower()
    rest = _outside_plotlyjs(text)
    # Aggregated, not raw: what plotly.js does not account for is well under 1 MB.
    assert len(rest) < 1_000_000, len(rest)
    # Dense price path (86,400 points) goes through the thinned / change-point path.
    assert re.search(r'"type":\s*"scatter', rest)


def test_dense_oracle_uses_webgl_and_thins_reference() -> None:
    from seqlab.report.html import MAX_REFERENCE_POINTS, _price_figure

    n = 30_000
    t_s = np.arange(n, dtype=np.float64)
    ref = 1000.0 + np.arange(n) * 0.01
    fig = _price_figure({"t_s": t_s, "reference": ref, "oracle": ref.copy()})
    reference, oracle = fig.data
    assert reference.type == "scatter" and len(reference.x) <= MAX_REFERENCE_POINTS + 1
    assert oracle.type == "scattergl" and oracle.line.shape == "hv"


def test_page_leads_with_headline_then_figures_then_folded_table(result: Result) -> None:
    from seqlab.report.html import render_html

    rest = _outside_plotlyjs(render_html(result))
    headline, first_figure = rest.index('id="headline"'), rest.index('<div class="figure"')
    details = rest.index('<details class="full">')
    assert headline < first_figure < details < rest.index("latency_ms.p50")
    card = rest[headline:first_figure]
    for label in ("operator profit", "liquidations", "p99 inclusion latency", "bad debt"):
        assert label in card, label
    p99 = result.summary["latency_ms"]["p99"]
    assert f"99 % of transactions were included within {p99:,.0f} ms" in card
    assert "40 liquidations" in card
    # Every figure carries a line saying what it measures.
    assert rest.count('<p class="explain">') >= 4


def test_realised_volatility_is_explained() -> None:
    from seqlab.report.html import render_html

    res = make_result(n_txs=500, n_liq=5)
    res.summary.update(reference_realized_vol=3.47, venue_realized_vol=3.9, vol_distortion=0.12)
    rest = _outside_plotlyjs(render_html(res))
    assert "Volatility distortion" in rest
    assert "annualised from 1-minute log returns" in rest and "jumps included" in rest


def test_headline_is_escaped_and_survives_a_bare_summary(tmp_path: Path) -> None:
    res = Result(summary={"scenario": "bare", "seed": 1, "digest": DIGEST,
                          "design": "<b>x</b>"}, tables={})
    text = write_report(res, tmp_path / "bare.html").read_text(encoding="utf-8")
    assert 'id="headline"' in text and "Under &lt;b&gt;x&lt;/b&gt;" in text
    assert "<b>x</b>" not in text
