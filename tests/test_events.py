"""Stress events in a price path, calendars, and the event-based premium estimator."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.errors import SeqlabError
from seqlab.experiments.paired import RunView, direct_harm, premium_by_type
from seqlab.experiments.premium_events import (calm_variance, event_labels, event_parts,
                                              place_at_liquidations)
from seqlab.experiments.stats import significance
from seqlab.metrics.events import (DEFAULT_CLASSES, find_events, historical_calendar,
                                   parse_calendar)
from seqlab.market.gbm import YEAR_US
from seqlab.metrics.premium import combined_ratio_ci, event_premium, pooled_ratio_ci
from seqlab.units import MINUTE, S


def path(moves: dict[int, float], minutes: int = 180) -> tuple[np.ndarray, np.ndarray]:
    """A flat 2,000 USD path on a 10-second grid with step moves at given minutes."""
    t = np.arange(0, minutes * MINUTE + 1, 10 * S, dtype=np.int64)
    logp = np.full(len(t), math.log(2000.0))
    for minute, move in moves.items():
        logp[t >= minute * MINUTE] += math.log1p(move)
    return t, np.exp(logp)


def ramp(start: int, minutes: int, move: float, total: int = 180
         ) -> tuple[np.ndarray, np.ndarray]:
    """A flat 2,000 USD path on a 10-second grid that moves by ``move`` steadily (in log
    terms) over ``minutes`` from minute ``start``."""
    t = np.arange(0, total * MINUTE + 1, 10 * S, dtype=np.int64)
    frac = np.clip((t - start * MINUTE) / (minutes * MINUTE), 0.0, 1.0)
    return t, 2000.0 * np.exp(frac * math.log1p(move))


def index(ev, name: str) -> int:
    return [c.name for c in ev.classes].index(name)


def test_flat_path_has_no_events():
    t, p = path({})
    assert find_events(t, p).counts() == {"moderate": 0, "slide": 0, "large": 0}


def test_moves_are_classified_by_size_and_merged():
    t, p = path({20: -0.03, 100: -0.08, 104: -0.01, 160: 0.015}, minutes=220)
    ev = find_events(t, p)
    assert ev.counts() == {"moderate": 1, "slide": 0, "large": 1}
    # the 8 % drop at minute 100 and the 1 % more 4 minutes later are one event, which
    # runs from the last price before the drop to the last one that moved further
    large = np.flatnonzero(ev.cls == index(ev, "large"))[0]
    assert 99 * MINUTE < ev.start_us[large] < 100 * MINUTE and ev.end_us[large] == 104 * MINUTE
    assert ev.move[large] == pytest.approx(-(1 - 0.92 * 0.99), rel=1e-9)
    moderate = np.flatnonzero(ev.cls == index(ev, "moderate"))[0]
    assert ev.move[moderate] == pytest.approx(-0.03, rel=1e-9)
    # a slow drift of 6 % over two hours is no event: speed matters
    assert find_events(*ramp(0, 120, -0.06, total=120)).counts() == {
        "moderate": 0, "slide": 0, "large": 0}


def test_a_sustained_fall_is_a_slide_and_a_fast_one_is_large():
    slow = find_events(*ramp(30, 40, -0.06))
    assert slow.counts() == {"moderate": 0, "slide": 1, "large": 0}
    # the event is the fall itself: from its first to its last minute
    assert (slow.start_us[0], slow.end_us[0]) == (30 * MINUTE, 70 * MINUTE)
    assert slow.move[0] == pytest.approx(-0.06, rel=1e-9)
    fast = find_events(*ramp(30, 5, -0.06))
    assert fast.counts() == {"moderate": 0, "slide": 0, "large": 1}
    assert (fast.start_us[0], fast.end_us[0]) == (30 * MINUTE, 35 * MINUTE)
    # a rise counts the same as a fall
    assert find_events(*ramp(30, 40, 0.06)).counts()["slide"] == 1


def test_classes_are_ranked_by_severity_not_by_move_alone():
    assert [c.name for c in DEFAULT_CLASSES] == ["moderate", "slide", "large"]
    assert [c.name for c in sorted(DEFAULT_CLASSES, key=lambda c: c.severity)] == [
        "moderate", "slide", "large"]
    # given in any order, an event still takes the most severe class it reaches
    ev = find_events(*ramp(30, 5, -0.06), classes=tuple(reversed(DEFAULT_CLASSES)))
    assert ev.classes[ev.cls[0]].name == "large"


def test_labels_cover_the_event_and_the_time_after_it():
    t, p = path({60: -0.08})
    ev = find_events(t, p)
    labels = event_labels(ev, np.array([0, 55 * MINUTE, 60 * MINUTE, 65 * MINUTE,
                                         75 * MINUTE]), after_us=10 * MINUTE)
    assert list(labels) == [-1, -1, index(ev, "large"), index(ev, "large"), -1]


def test_a_slide_cost_is_the_slides_not_the_calm_times():
    t, p = ramp(30, 40, -0.06)
    ev = find_events(t, p)
    slide = index(ev, "slide")
    costs_at = np.array([10, 31, 50, 69, 75, 90, 150]) * MINUTE
    labels = event_labels(ev, costs_at, after_us=10 * MINUTE)
    assert list(labels) == [-1, slide, slide, slide, slide, -1, -1]


def test_historical_calendar_counts_the_shipped_crash_days():
    floor, ceiling = historical_calendar(), historical_calendar(ceiling=True)
    for cal in (floor, ceiling):
        assert cal.per_year["large"] > 0 and cal.per_year["moderate"] > cal.per_year["large"]
        assert "large" in cal.describe()
    assert "floor" in floor.source and "ceiling" in ceiling.source
    # the same events: over five years, or over the four days of data as if 365 a year
    days = 365.0 * 5 / (ceiling.per_year["large"] / floor.per_year["large"])
    assert 3.0 < days < 4.5
    # each class is counted: the shipped days hold slow slides as well as fast crashes
    counts = {k: v * 5 for k, v in floor.per_year.items()}
    assert all(v == round(v) for v in counts.values()) and counts["slide"] > 0
    assert parse_calendar("historical-ceiling").per_year == ceiling.per_year
    assert parse_calendar(None).per_year == floor.per_year


def test_user_calendar_and_its_errors():
    cal = parse_calendar("large=4, moderate=40")
    assert cal.per_year == {"moderate": 40.0, "slide": 0.0, "large": 4.0}
    assert cal.source == "user-supplied"
    assert parse_calendar("slide=12,large=2").per_year == {"moderate": 0.0, "slide": 12.0,
                                                           "large": 2.0}
    assert "slide (≥ 5% within 60 min)" in parse_calendar("slide=12").describe()
    assert parse_calendar("large=2").per_year["moderate"] == 0.0
    assert parse_calendar("large=2,calm_vol=0.7").calm_vol == 0.7
    assert parse_calendar("calm_vol=0.7").source.startswith("shipped")
    assert parse_calendar("large=2").turnover == 730.0  # two turns of open interest a day
    cal = parse_calendar("historical,turnover=365,calm_vol=0.4")
    assert (cal.turnover, cal.calm_vol) == (365.0, 0.4) and cal.source.startswith("shipped")
    assert parse_calendar("turnover=0").turnover == 0.0
    assert "turnover 365/yr" in cal.describe() and cal.as_dict()["turnover_per_year"] == 365
    for bad in ("huge=3", "large=-1", "large", "large=x", "calm_vol=0", "turnover=-1",
                "turnover=36501", "turnover=inf", "turnover="):
        with pytest.raises(SeqlabError) as exc:
            parse_calendar(bad)
        assert exc.value.field == "--calendar"


def test_one_ratio_combination_is_the_pooled_ratio():
    h, y = [2.0, 3.0, 7.0, 4.0], [1.0, 2.0, 3.0, 2.0]
    mean, ci = combined_ratio_ci({"a": (h, y)}, {"a": 1.0})
    ref_mean, ref_ci = pooled_ratio_ci(h, y)
    assert mean == pytest.approx(ref_mean) and ci == pytest.approx(ref_ci)


def test_event_premium_weighs_classes_by_the_calendar():
    # calm: 1 USD per USD·year; large: 0.01 USD per USD of notional per event
    seeds = [{"calm": (1.0 * y, y), "large": (0.01 * n, n), "moderate": (0.0, 0.0)}
             for y, n in ((1.0, 5.0), (2.0, 3.0), (0.5, 8.0))]
    out = event_premium(seeds, {"large": 4.0, "moderate": 40.0}, turnover=730.0)
    assert out["calm_bps_per_year"]["mean_bps"] == pytest.approx(1e4)
    assert out["per_event_bps"]["large"]["mean_bps"] == pytest.approx(100.0)
    assert out["stress_bps_per_year"]["mean_bps"] == pytest.approx(400.0)
    assert out["annual_bps"]["mean_bps"] == pytest.approx(1e4 + 400.0)
    assert out["annual_bps"]["ci95_bps"] == pytest.approx([1e4 + 400.0] * 2)
    assert out["unobserved"] == ["moderate"]  # in the calendar, never seen in the runs


def test_significance_and_seeds_needed():
    assert significance(5.0, [1.0, 9.0], 3) == {"significant": True, "seeds_needed": 3}
    out = significance(1.0, [-3.0, 5.0], 3)
    assert not out["significant"] and out["seeds_needed"] > 3
    assert significance(0.0, [0.0, 0.0], 3) == {"significant": False, "seeds_needed": None}
    # one seed shows no spread: its point "interval" says nothing either way
    assert significance(2.0, [2.0, 2.0], 1) == {"significant": False, "seeds_needed": None}


def test_calm_variance_is_the_calm_minutes_realised_variance():
    t = np.arange(0, 180 * MINUTE + 1, 10 * S, dtype=np.int64)
    rng = np.random.default_rng(3)
    minute_sd = 0.8 / math.sqrt(365 * 24 * 60)  # 80 % a year
    steps = np.repeat(rng.normal(0, minute_sd, len(t) // 6 + 1), 6)[: len(t)] / 6
    p = 2000.0 * np.exp(np.cumsum(steps))
    var = calm_variance((t, p), find_events(t, p))
    assert 0.5 < math.sqrt(var) < 1.1


def test_a_cost_seen_in_one_seed_has_no_interval():
    seeds = [{"calm": (1.0, 1.0), "large": (3.0, 10.0)}, {"calm": (1.2, 1.0), "large": (0, 0)},
             {"calm": (0.9, 1.0), "large": (0, 0)}]
    out = event_premium(seeds, {"large": 4.0}, turnover=730.0)
    large = out["per_event_bps"]["large"]
    assert large["mean_bps"] == pytest.approx(3e3) and large["ci95_bps"] is None
    assert large["seeds_seen"] == 1
    assert out["annual_bps"]["ci95_bps"] is None  # the yearly figure inherits it
    assert out["calm_bps_per_year"]["ci95_bps"] is not None
    assert significance(5.0, None, 3) == {"significant": False, "seeds_needed": None}
    # no cost at all is exact, however few seeds saw the class
    zero = event_premium([{"large": (0.0, 10.0)}, {"large": (0.0, 0.0)}], {"large": 4.0},
                          turnover=730.0)
    assert zero["annual_bps"]["ci95_bps"] == [0.0, 0.0]


def test_event_parts_give_a_slides_cost_to_the_slide_class():
    """A design that costs one long account 100 USD during a 40-minute 6 % fall and 7 USD
    two hours later: the 100 are the slide's (per event, per dollar of the account's
    average notional), the 7 the calm part's; together they are the whole direct cost."""
    t, p = ramp(30, 40, -0.06)
    horizon = int(t[-1])
    years = horizon / YEAR_US
    notional = 1e5

    def view(costs: dict[int, float]) -> RunView:
        minutes = np.array(list(costs), dtype=np.int64) * MINUTE
        usd = np.array(list(costs.values()), dtype=np.float64)
        fills = {k: np.empty(0, dtype=np.int64) for k in ("id", "sender", "a", "submit_us",
                                                          "fill")}
        return RunView(
            summary={}, values=np.zeros(1), managed=np.zeros(1, dtype=bool),
            accounts={"ordering_cost_usd": np.array([usd.sum()]),
                      "long_usd_years": np.array([notional * years]),
                      "short_usd_years": np.zeros(1), "leverage": np.array([10.0])},
            option_tables={}, liquidated=np.zeros(1, dtype=bool), bonus={},
            latency_ms=np.zeros(1), fills=fills,
            cost_events={"accounts": (minutes, np.zeros(len(usd), dtype=np.int64), usd)},
            reference=(t, p), horizon_us=horizon)

    base, run = view({}), view({50: 100.0, 170: 7.0})
    parts = event_parts(run, base, find_events(t, p))["long 10x"]
    assert parts["slide"] == pytest.approx((100.0, notional))
    assert parts["large"][0] == 0.0 and parts["moderate"][0] == 0.0
    assert parts["calm_measured"][0] == pytest.approx(7.0)
    out = event_premium([parts], {"slide": 2.0}, turnover=730.0)
    assert out["per_event_bps"]["slide"]["mean_bps"] == pytest.approx(1e4 * 100.0 / notional)
    assert out["stress_bps_per_year"]["mean_bps"] == pytest.approx(2e4 * 100.0 / notional)


def _timed(rows: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(minute, account, USD)`` rows as a timed table ``(t µs, account, USD)``."""
    return (np.array([m for m, _, _ in rows], dtype=np.int64) * MINUTE,
            np.array([a for _, a, _ in rows], dtype=np.int64),
            np.array([u for _, _, u in rows], dtype=np.float64))


def _trade_view(t, p, fills: dict, penalties: list[tuple[int, int, float]],
                years: np.ndarray, fees: list[tuple[int, int, float]] = (),
                liquidations: list[tuple[int, int, float]] = ()) -> RunView:
    """Three perps accounts (long, short, both) with the given trades, timed penalties
    (minute, account, USD), fees the ledger books without a time (minute ignored) and
    liquidations (minute, account, notional USD) on the path ``(t, p)``."""
    horizon = int(t[-1])
    minutes, owner, usd = _timed(penalties)
    untimed = _timed(list(fees))
    return RunView(
        summary={}, values=np.zeros(3), managed=np.zeros(3, dtype=bool),
        accounts={"ordering_cost_usd": np.bincount(owner, usd, minlength=3)
                  + np.bincount(untimed[1], untimed[2], minlength=3),
                  "long_usd_years": years[0], "short_usd_years": years[1],
                  "leverage": np.array([10.0, 10.0, 20.0])},
        option_tables={}, liquidated=np.zeros(3, dtype=bool), bonus={},
        latency_ms=np.zeros(1), fills=fills, cost_events={"accounts": (minutes, owner, usd)},
        reference=(t, p), horizon_us=horizon,
        liquidation_times={"accounts": _timed(list(liquidations))})


def test_untimed_liquidation_fees_take_their_liquidations_times():
    """A 6 % slide from minute 30 to 70. Account 0 (long) is liquidated under the design
    at minute 50 (10,000 USD closed) and minute 150 (30,000 USD) and pays 40 USD of fees
    the ledger does not time: 10 are the slide's, 30 calm. Account 1 (short) is liquidated
    at minute 60 only under the baseline, for 8 USD of fees: the design saved it 8 inside
    the slide. Account 2 pays 5 USD with no liquidation in either run: it stays calm."""
    t, p = ramp(30, 40, -0.06)
    years = np.array([[1e3, 0.0, 5e2], [0.0, 2e3, 5e2]])
    fills = {k: np.empty(0, dtype=np.int64) for k in ("id", "sender", "a", "submit_us",
                                                      "fill")}
    run = _trade_view(t, p, fills, [], years, fees=[(0, 0, 40.0), (0, 2, 5.0)],
                      liquidations=[(50, 0, 1e4), (150, 0, 3e4)])
    base = _trade_view(t, p, fills, [], years, fees=[(0, 1, 8.0)],
                       liquidations=[(60, 1, 2e4)])
    parts = event_parts(run, base, find_events(t, p))
    assert parts["long 10x"]["slide"][0] == pytest.approx(10.0)
    assert parts["long 10x"]["calm_measured"][0] == pytest.approx(30.0)
    assert parts["short 10x"]["slide"][0] == pytest.approx(-8.0)
    assert parts["short 10x"]["calm_measured"][0] == pytest.approx(0.0)
    for k in ("long 20x", "short 20x"):
        assert parts[k]["slide"][0] == 0.0
        assert parts[k]["calm_measured"][0] == pytest.approx(2.5)


def test_a_residual_is_spread_evenly_when_no_notional_closed():
    """Two liquidations that closed nothing share an owner's residual evenly; an owner
    with a zero residual places nothing."""
    t, owner, usd = place_at_liquidations(np.array([6.0, 0.0]),
                                          (np.array([5, 9, 7]), np.array([0, 0, 1]),
                                           np.zeros(3)))
    assert t.tolist() == [5, 9] and owner.tolist() == [0, 0]
    assert usd.tolist() == [3.0, 3.0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 179), st.integers(0, 2),
                          st.integers(-10**11, 10**11).filter(bool), st.floats(-0.01, 0.01)),
                min_size=1, max_size=30),
       st.lists(st.tuples(st.integers(0, 179), st.integers(0, 2), st.floats(0, 500)),
                max_size=8),
       st.lists(st.tuples(st.integers(0, 179), st.integers(0, 2), st.floats(0, 500)),
                max_size=6),
       st.lists(st.tuples(st.integers(0, 179), st.integers(0, 2), st.floats(0, 1e5)),
                max_size=6),
       st.lists(st.tuples(st.integers(0, 179), st.integers(0, 2), st.floats(0, 1e5)),
                max_size=6))
def test_calm_execution_rest_and_events_add_up_to_the_direct_cost(trades, penalties, fees,
                                                                   liq_run, liq_base):
    """Whatever the trades (time, account, signed notional, fill shift), penalties,
    untimed fees and liquidations in either run: per position type, calm execution + the
    calm rest (unscaled) + every class's cost is the whole direct cost, and the calm
    dollars traded are the calm trades' notional."""
    t, p = ramp(30, 40, -0.06)
    years = np.array([[1e3, 0.0, 5e2], [0.0, 2e3, 5e2]])
    submit = np.array([m for m, *_ in trades], dtype=np.int64) * MINUTE
    base_fills = {"id": np.arange(len(trades)), "sender": np.array([a for _, a, *_ in trades]),
                  "a": np.array([n for *_, n, _ in trades], dtype=np.int64),
                  "submit_us": submit, "fill": np.full(len(trades), 2_000_000_000)}
    shift = np.array([d for *_, d in trades])
    run_fills = dict(base_fills, fill=np.round(2e9 * (1 + shift)).astype(np.int64))
    base = _trade_view(t, p, base_fills, [], years, fees[::2], liq_base)
    run = _trade_view(t, p, run_fills, penalties, years, fees[1::2], liq_run)
    events = find_events(t, p)
    parts = event_parts(run, base, events)
    direct = premium_by_type(run, base, direct_harm(run, base))
    for k, (cost, _) in direct.items():
        total = parts[k]["calm_execution"][0] + parts[k]["calm"][0] + sum(
            parts[k][c.name][0] for c in events.classes)
        assert total == pytest.approx(cost, abs=1e-6), k
    calm = event_labels(events, submit) < 0
    traded = np.abs(base_fills["a"][calm]).sum() / 1e6
    assert parts["perps (all)"]["calm_execution"][1] == pytest.approx(traded)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-0.012, 0.012), min_size=30, max_size=240), st.permutations(
    range(len(DEFAULT_CLASSES))))
def test_events_are_disjoint_cover_every_growing_move_and_take_the_top_class(steps, order):
    """On any 1-minute path: events are ordered and disjoint; every minute at which a
    class's move grew to or past its threshold lies inside an event whose class is at
    least as severe; and the order the classes are given in does not matter."""
    t = np.arange(len(steps) + 1, dtype=np.int64) * MINUTE
    logp = np.r_[0.0, np.cumsum(steps)] + math.log(2000.0)
    p = np.exp(logp)
    ev = find_events(t, p, tuple(DEFAULT_CLASSES[i] for i in order))
    assert [c.name for c in ev.classes] == [c.name for c in DEFAULT_CLASSES]
    same = find_events(t, p)
    for a, b in ((ev.start_us, same.start_us), (ev.end_us, same.end_us), (ev.cls, same.cls)):
        np.testing.assert_array_equal(a, b)
    assert np.all(ev.start_us <= ev.end_us) and np.all(ev.end_us[:-1] < ev.start_us[1:])
    for rank, c in enumerate(ev.classes):
        n = int(c.window_us // MINUTE) + 1
        for i in range(1, len(t)):
            lo, hi = max(i - n + 1, 0), max(i - n, 0)
            now = max(logp[lo:i + 1].max() - logp[i], logp[i] - logp[lo:i + 1].min())
            before = max(logp[hi:i].max() - logp[i - 1], logp[i - 1] - logp[hi:i].min())
            if now >= math.log1p(c.move) and now > before:
                inside = np.flatnonzero((ev.start_us <= t[i]) & (t[i] <= ev.end_us))
                assert inside.size == 1 and ev.cls[inside[0]] >= rank, (c.name, i)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=5),
       st.lists(st.tuples(st.integers(0, 10**9), st.integers(-1, 5), st.floats(0, 1e6)),
                max_size=8),
       st.lists(st.tuples(st.integers(0, 10**9), st.integers(-1, 5), st.floats(0, 1e6)),
                max_size=8))
def test_placing_at_liquidations_keeps_every_timed_owners_residual(residual, first, second):
    """Each owner's placed costs add up to its residual when either table liquidated it,
    and to nothing otherwise; every placed time is a liquidation of that owner in the
    first table that has one."""
    res = np.array(residual)
    tables = [(np.array([r[0] for r in rows], dtype=np.int64),
               np.array([r[1] for r in rows], dtype=np.int64),
               np.array([r[2] for r in rows], dtype=np.float64)) for rows in (first, second)]
    t, owner, usd = place_at_liquidations(res, *tables)
    for i, r in enumerate(res):
        seen = [tab for tab in tables if np.any(tab[1] == i)]
        placed = usd[owner == i]
        if r != 0 and seen:
            assert placed.sum() == pytest.approx(r, rel=1e-9, abs=1e-9)
            assert set(t[owner == i]) <= set(seen[0][0][seen[0][1] == i])
        else:
            assert not np.any(placed)
