"""``seqlab price``: term sheets that carry the event-based sequencer risk premium."""
from __future__ import annotations

import dataclasses
import gc
import json
import math
import time
import weakref

import numpy as np
import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.experiments import compare as compare_mod
from seqlab.experiments.price import (book_gamma, position_types, price, price_surface,
                                      reference_spot_sigma, surface_rows)
from seqlab.market.gbm import YEAR_US
from seqlab.experiments.premium_events import event_labels
from seqlab.metrics.events import find_events, parse_calendar
from seqlab.pricing.black_scholes import black_scholes, greeks
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.units import DAY

runner = CliRunner()


def premium(mean: float, lo: float | None = None, hi: float | None = None,
            position: str = "long 10x") -> dict:
    lo = mean if lo is None else lo
    hi = mean if hi is None else hi
    return {position: {"mean_bps": mean, "ci95_bps": [lo, hi]}}


def cell(surface: dict, kind: str, moneyness: float, days: float) -> int:
    hits = np.flatnonzero((surface["kind"] == kind) & np.isclose(surface["moneyness"], moneyness)
                          & np.isclose(surface["expiry_days"], days))
    assert hits.size == 1
    return int(hits[0])


@pytest.fixture(scope="module")
def small_options():
    """``tiny`` with an options market, as the premium tests use it."""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["protocol"]["options"].update(enabled=True, expiries=["4min", "8min"],
                                       buy_rate_per_s=3.0, writers=8,
                                       writer_collateral_usd=8000.0)
    return parse_scenario(data)


def streamed(seeds: list[int], views: dict) -> tuple[list[int], object]:
    """``run_stream``'s answer for runs made beforehand: the seeds, and the runs as they
    would finish."""
    return seeds, iter([(design, seed, view) for (design, seed), view in views.items()])


def test_hedge_carry_by_hand():
    """Perps types: the writer's delta hedge pays the premium over the option's life."""
    s = price_surface(premium(100.0, 50.0, 150.0), "long 10x", 2000.0, 0.8).tables["surface"]
    i = cell(s, "call", 1.0, 30)
    t = 30 * DAY / YEAR_US
    tau = t * (1 - (np.arange(16) + 0.5) / 16)
    carry = 0.01 * 2000.0 * np.abs(greeks("call", 2000.0, 2000.0, tau, 0.0, 0.8)["delta"]).mean()
    assert s["add_on"][i] == pytest.approx(carry * t)
    assert s["add_on_lo"][i] == pytest.approx(carry * t / 2)
    assert s["add_on_hi"][i] == pytest.approx(carry * t * 1.5)
    assert s["bs_price"][i] == pytest.approx(black_scholes("call", 2000.0, 2000.0, t, 0, 0.8))
    # far out of the money the hedge is small, and so is the add-on
    assert s["add_on"][cell(s, "call", 1.2, 1)] < s["add_on"][cell(s, "call", 1.0, 1)]
    assert np.all(s["flags"] == "")


def test_option_writers_leland_shift_is_the_same_at_every_strike():
    res = price_surface(premium(100.0, 50.0, 150.0, "option writers"), "option writers",
                        2000.0, 0.8, gamma_book=2.0)
    s = res.tables["surface"]
    var = 0.8 ** 2 + 2 * 0.01 / 2.0
    np.testing.assert_allclose(s["iv_shift"], (math.sqrt(var) - 0.8) * 100, rtol=1e-6)
    np.testing.assert_allclose(
        s["adjusted_price"], black_scholes(s["kind"], 2000.0, s["strike"],
                                           s["expiry_days"] * DAY / YEAR_US, 0, math.sqrt(var)))
    # the add-on sits where gamma is: at the money, not in the wings
    assert s["add_on"][cell(s, "call", 1.0, 1)] > 10 * s["add_on"][cell(s, "call", 0.8, 1)]
    assert res.summary["model"]["name"] == "leland"
    # a buyer pays the cost, so the price it can pay falls
    b = price_surface(premium(100.0, position="option buyers"), "option buyers", 2000.0, 0.8,
                      gamma_book=2.0).tables["surface"]
    assert np.all(b["add_on"] < 0) and np.all(b["flags"] == "")


def test_book_gamma_is_positive_and_falls_with_expiry():
    short, long_ = book_gamma([1.0], [DAY], 0.8), book_gamma([1.0], [30 * DAY], 0.8)
    assert short > long_ > 0


def test_zero_premium_changes_nothing():
    for position in ("long 10x", "option writers"):
        s = price_surface(premium(0.0, position=position), position, 2000.0,
                          0.8).tables["surface"]
        np.testing.assert_array_equal(s["adjusted_price"], s["bs_price"])
        for col in ("add_on", "add_on_lo", "add_on_hi", "iv_shift", "iv_shift_bps"):
            assert np.all(s[col] == 0.0), col
        assert np.all(s["flags"] == "")


def test_a_price_below_intrinsic_is_flagged_not_quoted():
    res = price_surface(premium(-1e6), "long 10x", 2000.0, 0.8)
    s = res.tables["surface"]
    bad = s["flags"] != ""
    assert bad.any() and res.summary["counts"]["flagged"] == int(bad.sum())
    assert np.all(np.isnan(s["adjusted_price"][bad]))
    assert any("bounds" in f for f in s["flags"][bad])
    rows = surface_rows(res)
    json.dumps(rows, allow_nan=False)  # the JSON form carries no NaN
    assert any(r["adjusted_price"] is None and r["flags"] for r in rows)


def test_custom_grid_and_bad_grids():
    s = price_surface(premium(100.0), "long 10x", 100.0, 0.5, r=0.05, strikes=[1.0],
                      expiries_us=[365 * DAY]).tables["surface"]
    assert list(s["kind"]) == ["call", "put"] and list(s["expiry_days"]) == [365.0, 365.0]
    with pytest.raises(SeqlabError) as exc:
        price_surface(premium(1.0), "long 10x", 100.0, 0.5, strikes=[0.9, -1])
    assert exc.value.field == "--strikes"
    with pytest.raises(SeqlabError) as exc:
        price_surface(premium(1.0), "long 10x", 100.0, 0.5, expiries_us=[0])
    assert exc.value.field == "--expiries"


def test_position_types_known_before_running(small_options):
    assert "option writers" not in position_types(load_scenario("default"))
    assert {"long 20x", "perps (all)"} <= set(position_types(load_scenario("default")))
    assert {"option writers", "option buyers"} <= set(position_types(small_options))


def test_price_checks_everything_before_running(monkeypatch):
    def boom(*args, **kwargs):
        raise AssertionError("a simulation ran")

    monkeypatch.setattr(compare_mod, "run_stream", boom)
    cases = [({"design": "extractive"}, "--position"),  # default has no options market
             ({"design": "magic", "position": "long 10x"}, "--design"),
             ({"design": "extractive", "baseline": "nope", "position": "long 10x"},
              "--baseline"),
             ({"design": "extractive", "seeds": 0, "position": "long 10x"}, "--seeds"),
             ({"design": "extractive", "position": "long 10x", "strikes": [0]}, "--strikes"),
             ({"design": None, "position": "long 10x"}, "--design")]
    for kwargs, field in cases:
        with pytest.raises(SeqlabError) as exc:
            price("default", **kwargs)
        assert exc.value.field == field, kwargs


@pytest.mark.parametrize("args", [[], ["--design", "extractive"]])
def test_price_default_exits_2_with_one_line_at_once(args):
    start = time.perf_counter()
    res = runner.invoke(app, ["price", "default", *args])
    assert res.exit_code == 2
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "option writers" in lines[0] and "perps (all)" in lines[0]
    assert time.perf_counter() - start < 10


def test_replay_spot_and_realised_sigma():
    spot, sigma, source = reference_spot_sigma(load_scenario("aug-2024-crash"))
    assert spot == pytest.approx(2688.91) and 0.1 < sigma < 20 and "realised" in source
    spot, sigma, _ = reference_spot_sigma(load_scenario("tiny"))
    assert (spot, sigma) == (2500.0, 1.5)


def test_known_cost_per_event_is_recovered(small_options, monkeypatch):
    """A world whose ordering cost is known in closed form: a design that takes exactly
    ``X`` USD from option writer 0 at every large move of the path, and nothing else. Its
    runs are the baseline's with that cost added to the writer's penalties (the ledger
    figure and its timed event), so the premium ``price`` must report is, per event,
    ``Σ X·n_k / Σ N_k·n_k`` (``N_k`` the writers' average notional, ``n_k`` the events),
    times the calendar's large events per year."""
    seeds, views = compare_mod.run_views(small_options, ["honest"], "honest", 3)
    x = 250.0
    fake, expected_num, expected_den = dict(views), 0.0, 0.0
    for seed in seeds:
        base = views[("honest", seed)]
        ev = find_events(*base.reference)
        large = ev.start_us[ev.cls == [c.name for c in ev.classes].index("large")]
        writers = dict(base.option_tables["option_writers"])
        writers["ordering_cost_usd"] = writers["ordering_cost_usd"].copy()
        writers["ordering_cost_usd"][0] += x * len(large)
        t, owner, usd = base.cost_events["option_writers"]
        events = dict(base.cost_events, option_writers=(
            np.r_[t, large + 60_000_000], np.r_[owner, np.zeros(len(large), np.int64)],
            np.r_[usd, np.full(len(large), x)]))
        fake[("extractive", seed)] = dataclasses.replace(
            base, option_tables={**base.option_tables, "option_writers": writers},
            cost_events=events)
        years = base.horizon_us / YEAR_US
        expected_num += x * len(large)
        expected_den += float(writers["usd_years"].sum()) / years * len(large)
    assert expected_num > 0
    monkeypatch.setattr(compare_mod, "run_stream", lambda *a, **k: streamed(seeds, fake))
    res = price(small_options, "extractive", seeds=3, report=False,
                calendar=parse_calendar("large=4,moderate=40"))
    entry = res.summary["per_design"]["extractive"]["premium_table"]["option writers"]
    per_event = expected_num / expected_den * 1e4
    got = entry["per_event_bps"]["large"]
    assert got["mean_bps"] == pytest.approx(per_event, rel=1e-3)
    assert got["ci95_bps"][0] <= per_event <= got["ci95_bps"][1]
    assert entry["calm_bps_per_year"]["mean_bps"] == pytest.approx(0.0, abs=1e-6)
    assert entry["mean_bps"] == pytest.approx(4 * per_event, rel=1e-3)
    assert entry["ci95_bps"][0] <= 4 * per_event <= entry["ci95_bps"][1]
    who = res.summary["per_design"]["extractive"]["who_pays"]["option writers"]["direct"]
    assert who["mean_usd"] == pytest.approx(expected_num / 3, rel=1e-6)
    # nobody else pays anything
    others = res.summary["per_design"]["extractive"]["premium_table"]
    assert all(v["mean_bps"] == 0 for k, v in others.items() if k != "option writers")


def test_known_cut_per_dollar_traded_in_calm_time_is_recovered(small_options, monkeypatch):
    """A design whose operator fills every trade submitted in calm time worse than the
    baseline by ``k_s`` of its notional (a different cut on each seed), and does nothing
    else. Its calm execution cost per dollar traded is, in closed form, the cut weighted
    by the dollars each seed traded in calm time, ``Σ k_s V_s / Σ V_s``; a year of it is
    that times the calendar's turnover. The calm rest and the stress events get nothing."""
    seeds, views = compare_mod.run_views(small_options, ["honest"], "honest", 3)
    cuts = dict(zip(seeds, (4e-4, 6e-4, 5e-4)))
    fake, num, den = dict(views), 0.0, 0.0
    for seed in seeds:
        base = views[("honest", seed)]
        fills = {k: v.copy() for k, v in base.fills.items()}
        calm = event_labels(find_events(*base.reference), fills["submit_us"]) < 0
        worse = np.sign(fills["a"]) * cuts[seed] * fills["fill"]
        fills["fill"] = np.where(calm, fills["fill"] + np.round(worse), fills["fill"])
        fake[("extractive", seed)] = dataclasses.replace(base, fills=fills)
        users = calm & (fills["sender"] >= 0) & (fills["sender"] < len(base.values))
        traded = np.abs(fills["a"][users]).sum() / 1e6
        num, den = num + cuts[seed] * traded, den + traded
    assert den > 0
    monkeypatch.setattr(compare_mod, "run_stream", lambda *a, **k: streamed(seeds, fake))
    res = price(small_options, "extractive", seeds=3, report=False, position="perps (all)",
                calendar=parse_calendar("large=4,moderate=40,turnover=500"))
    entry = res.summary["per_design"]["extractive"]["premium_table"]["perps (all)"]
    per_traded = entry["calm_execution_bps_per_traded"]
    assert per_traded["mean_bps"] == pytest.approx(num / den * 1e4, rel=1e-4)
    assert per_traded["traded_usd"] == pytest.approx(den, rel=1e-6)
    yearly = entry["calm_execution_bps_per_year"]
    assert yearly["mean_bps"] == pytest.approx(500 * num / den * 1e4, rel=1e-4)
    lo, hi = yearly["ci95_bps"]
    assert lo < hi and lo <= 500 * 5e-4 * 1e4 <= hi and yearly["significant"]
    assert entry["calm_other_bps_per_year"]["mean_bps"] == pytest.approx(0.0, abs=1e-6)
    assert entry["stress_bps_per_year"]["mean_bps"] == 0
    assert entry["mean_bps"] == pytest.approx(yearly["mean_bps"], rel=1e-9)
    assert entry["calm_bps_per_year"]["mean_bps"] == pytest.approx(yearly["mean_bps"],
                                                                   rel=1e-9)
    # the option writers trade no perps: no execution part
    writers = res.summary["per_design"]["extractive"]["premium_table"]["option writers"]
    assert writers["calm_execution_bps_per_year"]["mean_bps"] == 0


def test_honest_against_itself_is_exactly_zero_everywhere(small_options, tmp_path):
    res = price(small_options, "fcfs", seeds=2, out=tmp_path)
    d = res.summary["per_design"]["fcfs"]
    for entry in d["premium_table"].values():
        assert entry["mean_bps"] == 0 and entry["ci95_bps"] == [0, 0]
        for key in ("calm_bps_per_year", "calm_execution_bps_per_year",
                    "calm_execution_bps_per_traded", "calm_other_bps_per_year"):
            assert entry[key]["mean_bps"] == 0 and entry[key]["ci95_bps"] == [0, 0], key
        for e in entry["per_event_bps"].values():
            assert e["mean_bps"] == 0 and e["ci95_bps"] == [0, 0]
    for payer in d["who_pays"].values():
        assert payer["direct"]["mean_usd"] == 0 and payer["direct"]["ci95_usd"] == [0, 0]
    s = res.tables["surface"]
    np.testing.assert_array_equal(s["adjusted_price"], s["bs_price"])
    assert np.all(s["iv_shift"] == 0) and np.all(s["flags"] == "")
    data = json.loads((tmp_path / "price.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"{c} in price.json"))
    assert len(data["surface"]) == 40 and data["position"] == "option writers"
    page = (tmp_path / "price.html").read_text()
    for text in ("Surface distortion", "who pays", "Term sheet", "Calendar", "0 in CI"):
        assert text in page


def test_price_cli_json_several_designs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive,timeboost",
                              "--seeds", "2", "--position", "long 10x", "--json",
                              "--calendar", "large=4,moderate=40"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["designs"] == ["extractive", "timeboost"]
    assert data["calendar"]["per_year"] == {"moderate": 40.0, "slide": 0.0, "large": 4.0}
    assert data["calendar"]["turnover_per_year"] == 730.0
    assert "reading" in data and "paired seeds" in data["reading"]
    assert len(data["term_sheet"]) == 80
    row = data["term_sheet"][0]
    assert {"design", "kind", "moneyness", "strike", "expiry_days", "bs_price", "add_on",
            "add_on_lo", "add_on_hi", "adjusted_price", "iv_shift", "flags"} <= set(row)
    for name in ("extractive", "timeboost"):
        d = data["per_design"][name]
        p = d["premium_bps"]
        assert {"mean", "ci95", "significant", "seeds_needed"} <= set(p)
        assert {"traders", "margin users", "liquidity pool", "insurance fund"} <= set(
            d["who_pays"])
        assert {"significant", "ci95_usd"} <= set(d["who_pays"]["liquidity pool"]["direct"])
        for entry in d["premium_table"].values():
            for key in ("calm_bps_per_year", "calm_execution_bps_per_year",
                        "calm_execution_bps_per_traded", "calm_other_bps_per_year",
                        "stress_bps_per_year"):
                assert {"mean_bps", "ci95_bps", "significant"} <= set(entry[key]), key
    assert (tmp_path / "runs" / "tiny-price" / "price.json").exists()


def test_price_cli_table(tmp_path):
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive", "--seeds", "2",
                              "--position", "short 10x", "--strikes", "0.9,1.1",
                              "--expiries", "12h,30d", "--out", str(tmp_path), "--no-report"])
    assert res.exit_code == 0, res.output
    for text in ("term sheet", "who pays", "sequencer risk premium", "perps (all)",
                 "calendar:", "0 in CI", "execution", "calm other", "turnover"):
        assert text in res.output
    assert (tmp_path / "price.json").exists() and not (tmp_path / "price.html").exists()


@pytest.mark.parametrize("args, name", [
    (["--position", "nope"], "--position"),
    (["--expiries", "1d,soon"], "--expiries"),
    (["--expiries", "0d"], "--expiries"),
    (["--strikes", "1,x"], "--strikes"),
    (["--strikes", "0,1"], "--strikes"),
    (["--calendar", "big=3"], "--calendar"),
    (["--calendar", "large=4,turnover=-1"], "--calendar"),
    (["--calendar", "turnover=1e9"], "--calendar"),
    (["--calendar", "historical,turnover=many"], "--calendar"),
    (["--calendar", "calm_vol=0"], "--calendar"),
    (["--seeds", "0"], "--seeds"),
])
def test_price_cli_bad_values_exit_2(tmp_path, args, name):
    res = runner.invoke(app, ["price", "tiny", "--design", "extractive", "--seeds", "1",
                              "--position", "long 10x", "--out", str(tmp_path), "--no-report",
                              *args])
    assert res.exit_code == 2, res.output
    assert name in res.output
    assert len([x for x in res.output.splitlines() if x.strip()]) == 1, res.output
    if name == "--position":
        assert "long 10x" in res.output


def test_price_runs_on_a_process_pool_with_the_same_result(small_options):
    """The runs go to an executor like compare's: a process pool gives the same digests,
    premiums and term sheet as running inline; an unknown backend fails before any run."""
    args = dict(design="extractive", seeds=2, position="option writers", report=False,
                calendar=parse_calendar("large=4,moderate=40"))
    inline = price(small_options, **args).summary["per_design"]["extractive"]
    pool = price(small_options, backend="process", workers=2, **args)
    d = pool.summary["per_design"]["extractive"]
    assert d["digests"] == inline["digests"]
    assert d["premium_table"] == inline["premium_table"]
    assert d["who_pays"] == inline["who_pays"]
    with pytest.raises(SeqlabError) as exc:
        price(small_options, backend="threads", **args)
    assert exc.value.field == "--backend"


def test_price_keeps_only_the_runs_of_the_seeds_in_flight(small_options, monkeypatch):
    """Forty seeds of two designs, streamed as a pool would finish them: ``price`` reduces
    each run to its premium parts once its seed's baseline is in and lets both go, so at
    most the current seed's runs are alive whatever the number of seeds. (It kept every
    run to the end before: memory grew with seeds × designs.) The figures are those of
    the same runs handed over at once."""
    seeds, views = compare_mod.run_views(small_options, ["honest", "extractive"], "honest", 2)
    many = list(range(40))
    alive: list[weakref.ref] = []
    most = 0

    def stream(*args, **kwargs):
        def runs():
            nonlocal most
            for k in many:
                for design in ("honest", "extractive"):
                    view = dataclasses.replace(views[(design, seeds[k % 2])])
                    alive.append(weakref.ref(view))
                    yield design, k, view
                    del view
                    gc.collect()
                    most = max(most, sum(r() is not None for r in alive))
        return many, runs()

    monkeypatch.setattr(compare_mod, "run_stream", stream)
    res = price(small_options, "extractive", seeds=40, report=False)
    assert most <= 2 and all(r() is None for r in alive)
    assert res.summary["seeds"] == many
    digests = res.summary["per_design"]["extractive"]["digests"]
    assert digests == [views[("extractive", seeds[k % 2])].summary["digest"] for k in many]
    monkeypatch.setattr(compare_mod, "run_stream", lambda *a, **k: streamed(
        many, {(d, k): views[(d, seeds[k % 2])] for k in many for d in ("honest", "extractive")}))
    again = price(small_options, "extractive", seeds=40, report=False)
    assert again.summary["per_design"] == res.summary["per_design"]
