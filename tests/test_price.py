"""``seqlab price``: the sequencer risk premium carried into option prices."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.experiments.price import price, price_surface, reference_spot_sigma, surface_rows
from seqlab.pricing.black_scholes import black_scholes
from seqlab.scenario import load_scenario
from seqlab.units import DAY

runner = CliRunner()
YEAR_DAYS = 365.0


def premium(mean: float, lo: float | None = None, hi: float | None = None) -> dict:
    lo = mean if lo is None else lo
    hi = mean if hi is None else hi
    return {"long 10x": {"mean_bps": mean, "ci95_bps": [lo, hi]},
            "short 10x": {"mean_bps": -mean, "ci95_bps": [-hi, -lo]}}


def cell(surface: dict, kind: str, moneyness: float, days: float) -> int:
    hits = np.flatnonzero((surface["kind"] == kind) & np.isclose(surface["moneyness"], moneyness)
                          & np.isclose(surface["expiry_days"], days))
    assert hits.size == 1
    return int(hits[0])


def test_known_premium_matches_hand_computation():
    res = price_surface(premium(100.0, 50.0, 150.0), "long 10x", 2000.0, 0.8)
    s = res.tables["surface"]
    assert len(s["kind"]) == 2 * 5 * 4
    i = cell(s, "call", 1.0, 30)
    t = 30 / YEAR_DAYS
    assert s["strike"][i] == pytest.approx(2000.0)
    assert s["bs_price"][i] == pytest.approx(black_scholes("call", 2000.0, 2000.0, t, 0.0, 0.8))
    assert s["adjusted_price"][i] - s["bs_price"][i] == pytest.approx(2000 * 0.01 * t)
    assert s["adjusted_lo"][i] - s["bs_price"][i] == pytest.approx(2000 * 0.005 * t)
    assert s["adjusted_hi"][i] - s["bs_price"][i] == pytest.approx(2000 * 0.015 * t)
    # Every cell: the premium over the option's life, on the spot.
    t_all = s["expiry_days"] / YEAR_DAYS
    np.testing.assert_allclose(s["adjusted_price"] - s["bs_price"], 2000 * 0.01 * t_all,
                               rtol=1e-9, atol=1e-9)
    # A positive premium raises implied volatility everywhere, the interval brackets it.
    assert np.all(s["iv_shift"] > 0)
    assert np.all(s["iv_shift_lo"] <= s["iv_shift"]) and np.all(s["iv_shift"] <= s["iv_shift_hi"])
    np.testing.assert_allclose(s["iv_shift_bps"], s["iv_shift"] * 100)
    # ATM call: the shift grows with expiry (price ∝ T, vega ∝ √T).
    atm = [s["iv_shift"][cell(s, "call", 1.0, d)] for d in (1, 7, 30, 90)]
    assert all(a < b for a, b in zip(atm, atm[1:]))
    sm = res.summary
    assert sm["position"] == "long 10x"
    assert sm["premium_bps"] == {"mean": 100.0, "ci95": [50.0, 150.0]}
    assert (sm["spot"], sm["sigma"], sm["r"]) == (2000.0, 0.8, 0.0)
    assert sm["counts"]["cells"] == 40 and sm["counts"]["iv_undefined"] == 0


def test_zero_premium_shifts_nothing():
    s = price_surface(premium(0.0), "long 10x", 2000.0, 0.8).tables["surface"]
    np.testing.assert_array_equal(s["adjusted_price"], s["bs_price"])
    for col in ("iv_shift", "iv_shift_lo", "iv_shift_hi", "iv_shift_bps"):
        assert np.all(s[col] == 0.0), col


def test_negative_premium_floors_at_intrinsic():
    res = price_surface(premium(-1e7), "long 10x", 2000.0, 0.8)
    s = res.tables["surface"]
    w = np.where(s["kind"] == "call", 1.0, -1.0)
    intrinsic = np.maximum(w * (2000.0 - s["strike"]), 0.0)
    np.testing.assert_allclose(s["adjusted_price"], intrinsic)
    assert np.all(s["adjusted_price"] <= s["bs_price"])
    np.testing.assert_allclose(s["iv_shift"], -80.0)  # implied vol 0 at intrinsic value
    assert res.summary["counts"]["floored"] == 40
    # A small negative premium lowers price and implied vol without hitting the floor.
    s = price_surface(premium(-100.0), "long 10x", 2000.0, 0.8).tables["surface"]
    i = cell(s, "put", 1.0, 90)
    assert s["adjusted_price"][i] - s["bs_price"][i] == pytest.approx(-2000 * 0.01 * 90 / 365)
    assert s["iv_shift"][i] < 0


def test_price_above_no_arbitrage_bound_has_no_implied_vol():
    # 1e6 bps/yr for 90 days is ~2.5× the spot: above what any call can be worth.
    res = price_surface(premium(1e6), "long 10x", 2000.0, 0.8)
    s = res.tables["surface"]
    i = cell(s, "call", 1.0, 90)
    assert s["adjusted_price"][i] > 2000.0 and math.isnan(s["iv_shift"][i])
    assert res.summary["counts"]["iv_undefined"] > 0
    row = surface_rows(res)[i]
    assert row["iv_shift"] is None and row["kind"] == "call"
    json.dumps(surface_rows(res), allow_nan=False)  # the JSON form carries no NaN


def test_custom_grid_and_rate():
    res = price_surface(premium(100.0), "long 10x", 100.0, 0.5, r=0.05, strikes=[1.0],
                        expiries_us=[365 * DAY])
    s = res.tables["surface"]
    assert list(s["kind"]) == ["call", "put"] and list(s["expiry_days"]) == [365.0, 365.0]
    assert s["adjusted_price"][0] - s["bs_price"][0] == pytest.approx(1.0)
    with pytest.raises(SeqlabError) as exc:
        price_surface(premium(1.0), "long 10x", 100.0, 0.5, strikes=[0.9, -1])
    assert exc.value.field == "--strikes"
    with pytest.raises(SeqlabError) as exc:
        price_surface(premium(1.0), "long 10x", 100.0, 0.5, expiries_us=[0])
    assert exc.value.field == "--expiries"


def test_unknown_position_lists_types():
    with pytest.raises(SeqlabError) as exc:
        price_surface(premium(100.0), "option writers", 2000.0, 0.8)
    assert exc.value.field == "--position"
    assert "long 10x" in exc.value.allowed and "short 10x" in exc.value.allowed


def test_replay_spot_and_realised_sigma():
    spot, sigma, source = reference_spot_sigma(load_scenario("aug-2024-crash"))
    assert spot == pytest.approx(2688.91) and 0.1 < sigma < 20 and "realised" in source
    spot, sigma, _ = reference_spot_sigma(load_scenario("tiny"))
    assert (spot, sigma) == (2500.0, 1.5)


def test_price_end_to_end_writes_both_files(tmp_path):
    res = price("tiny", "extractive", seeds=2, position="long 10x", out=tmp_path)
    s = res.tables["surface"]
    assert len(s["kind"]) == 2 * 5 * 4 and res.table_rows("surface") == 40
    sm = res.summary
    assert sm["design"] == "extractive" and sm["baseline"] == "honest"
    assert sm["seeds"] == [3, 4] and sm["spot"] == 2500.0 and sm["sigma"] == 1.5
    assert "long 10x" in sm["premium_table"] and "short 10x" in sm["premium_table"]
    assert sm["premium_bps"]["mean"] == sm["premium_table"]["long 10x"]["mean_bps"]
    data = json.loads((tmp_path / "price.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"{c} in price.json"))
    assert len(data["surface"]) == 40 and data["position"] == "long 10x"
    page = (tmp_path / "price.html").read_text()
    for text in ("Surface distortion", "Premium-adjusted vs Black-Scholes", "short 10x",
                 "Price surface"):
        assert text in page


def test_price_rejects_bad_design_before_running():
    with pytest.raises(SeqlabError) as exc:
        price("tiny", "magic", seeds=1, position="long 10x")
    assert exc.value.field == "--design" and "extractive" in exc.value.allowed


def test_price_cli_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive", "--seeds", "2",
                              "--position", "long 10x", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert {"position", "premium_bps", "spot", "sigma", "surface"} <= set(data)
    assert data["position"] == "long 10x" and set(data["premium_bps"]) == {"mean", "ci95"}
    assert len(data["surface"]) == 40
    assert {"kind", "moneyness", "strike", "expiry_days", "bs_price", "adjusted_price",
            "iv_shift"} <= set(data["surface"][0])
    assert (tmp_path / "runs" / "tiny-price" / "price.json").exists()
    table = data["premium_table"]
    assert table["long 10x"]["mean_bps"] == data["premium_bps"]["mean"]
    assert {"perps (all)", "long (all)", "short (all)"} <= set(table)


def test_price_cli_table(tmp_path):
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive", "--seeds", "1",
                              "--position", "short 10x", "--strikes", "0.9,1.1",
                              "--expiries", "12h,30d", "--out", str(tmp_path), "--no-report"])
    assert res.exit_code == 0, res.output
    assert "premium for short 10x" in res.output and "IV shift" in res.output
    assert "risk premium by position type" in res.output and "perps (all)" in res.output
    assert (tmp_path / "price.json").exists() and not (tmp_path / "price.html").exists()


@pytest.mark.parametrize("args, name", [
    (["--position", "nope"], "--position"),
    (["--expiries", "1d,soon"], "--expiries"),
    (["--expiries", "0d"], "--expiries"),
    (["--strikes", "1,x"], "--strikes"),
    (["--strikes", "0,1"], "--strikes"),
])
def test_price_cli_bad_values_exit_2(tmp_path, args, name):
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive", "--seeds", "1",
                              "--out", str(tmp_path), "--no-report", *args])
    assert res.exit_code == 2, res.output
    assert name in res.output
    if name == "--position":
        assert "long 10x" in res.output
