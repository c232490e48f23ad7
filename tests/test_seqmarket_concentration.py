"""A market of several protocols: shared service outages, concentration, contagion."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.experiments.compare import with_design
from seqlab.experiments.sweep import set_dotted
from seqlab.report.html import render_html
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.concentration import (expected_simultaneous_s_per_day, hhi,
                                            simultaneous_down_s, window_hits)
from seqlab.seqmarket import make_policy
from seqlab.seqmarket.design import rollup_home
from seqlab.seqmarket.schedule import plan
from seqlab.units import DAY, MINUTE, S

HOUR = 60 * MINUTE

# A small, fast world: three rollups, a crash, fcfs-1 down from minute 3 to minute 8,
# transactions sent to it meanwhile refused (the default).
SMALL = {"duration": "15min", "agents.traders.accounts": 100,
         "market.jump_intensity": 600.0, "market.jump_mean": -0.08,
         "sequencing_market.services": [
             {"name": "fcfs-1", "offer": "central-fcfs",
              "outages": [{"start": "3min", "duration": "5min"}]},
             {"name": "fcfs-2", "offer": "central-fcfs"},
             {"name": "fcfs-3", "offer": "central-fcfs"}]}


def small(**changes):
    loaded = load_scenario("market-concentration")
    data = loaded.scenario.model_dump(mode="python")
    for key, value in {**SMALL, **changes}.items():
        set_dotted(data, key, value)
    return parse_scenario(data, loaded.source, loaded.base_dir)


@pytest.fixture(scope="module")
def runs():
    """The small world with every rollup on one service, and spread over three."""
    out = {}
    for spread in (1, 3):
        world = make_world(small(**{"sequencing_market.spread": spread}))
        out[spread] = (world, world.run())
    return out


def test_one_service_outage_halts_all_its_customers_at_once(runs):
    world, result = runs[1]
    down = [c.outages.tolist() for c in world.chains]
    assert down == [[[3 * MINUTE, 8 * MINUTE]]] * 3
    m = result.summary["seqmarket"]
    assert m["most_down_at_once"] == 3 and m["simultaneous_down_s"] == 3 * 300.0
    assert [s["protocols"] for s in m["services"]] == [3, 0, 0] and m["hhi"] == 10_000


def test_spread_puts_one_rollup_on_each_service_and_only_the_failed_ones_halt(runs):
    world, result = runs[3]
    m = result.summary["seqmarket"]
    assert [p["service"] for p in m["protocols"]] == ["fcfs-1", "fcfs-2", "fcfs-3"]
    assert [c.outages.tolist() for c in world.chains] == [[[3 * MINUTE, 8 * MINUTE]], [], []]
    assert m["simultaneous_down_s"] == 0 and m["contagion"]["protocols_halted"] == 1
    assert m["hhi"] == pytest.approx(10_000 / 3, abs=1)


def test_concentration_raises_simultaneous_downtime_and_contagion(runs):
    together, spread = (runs[k][1].summary["seqmarket"] for k in (1, 3))
    for key in ("hhi", "simultaneous_down_s", "expected_simultaneous_down_s_per_day"):
        assert together[key] > spread[key], key
    for key in ("protocols_halted", "displaced_liquidations", "value_moved_usd"):
        assert together["contagion"][key] > spread["contagion"][key], key
    # the no-failure baselines are one world (like offers): users end poorer concentrated
    assert together["contagion"]["baseline_user_value_usd"] == \
        spread["contagion"]["baseline_user_value_usd"]
    assert together["contagion"]["excess_user_value_usd"] < \
        spread["contagion"]["excess_user_value_usd"]
    assert together["contagion"]["excess_user_value_usd"] < 0
    assert together["contagion"]["excess_bad_debt_usd"] > \
        spread["contagion"]["excess_bad_debt_usd"] > 0


def test_the_baseline_is_the_same_world_without_the_failure(runs):
    world, result = runs[1]
    quiet, quiet_result = world._quiet_run()
    assert all(len(c.outages) == 0 for c in quiet.chains)
    assert quiet_result.summary["seqmarket"]["contagion"]["displaced_liquidations"] == 0
    rows = result.summary["seqmarket"]["protocols"]
    assert [r["baseline_user_value_usd"] for r in rows] == \
        [r["user_value_usd"] for r in quiet_result.summary["rollups"]]


def test_the_report_shows_the_market(runs):
    page = render_html(runs[1][1])
    assert "Sequencing market" in page and "What the failure reached" in page
    assert "HHI" in page
    one = make_world(with_design(load_scenario("sequencer-market"),
                                 "fcfs@duration=10min@agents.traders.accounts=100"))
    assert "Time and blocks by service" in render_html(one.run())


def test_spread_homes_go_round_robin_over_the_ranking():
    services = [Service(name=n) for n in ("x", "y", "z")]
    cfg = SequencingMarket(enabled=True, services=services, spread=2)
    assert [rollup_home(services, cfg, k) for k in range(4)] == ["x", "y", "x", "y"]
    one = SequencingMarket(enabled=True, services=services)
    assert rollup_home(services, one, 2) is None


def test_a_home_is_ranked_first_by_every_policy():
    services = [Service(name=n) for n in ("x", "y", "z")]
    cfg = SequencingMarket(enabled=True, services=services, order=["x", "y", "z"],
                           timeout="10s", switch_delay="0s")
    w = {"x": np.empty((0, 2), np.int64), "y": np.array([[HOUR, 2 * HOUR]]),
         "z": np.empty((0, 2), np.int64)}
    s = plan(services, w, make_policy("failover", cfg), cfg.timeout, cfg.switch_delay,
             3 * HOUR, home="y")
    assert s.services == ["y", "x"] and s.starts.tolist() == [0, HOUR + 10 * S]
    s = plan(services, w, make_policy("static", cfg), cfg.timeout, cfg.switch_delay,
             3 * HOUR, home="z")
    assert s.services == ["z"] and len(s.down) == 0


def test_spread_beyond_the_services_is_refused():
    with pytest.raises(SeqlabError, match="spread"):
        small(**{"sequencing_market.spread": 4})


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
def test_hhi_lies_between_an_even_split_and_a_monopoly(weights):
    total = sum(weights)
    if total <= 0:
        return
    shares = [w / total for w in weights]
    assert 10_000 / len(shares) - 1e-6 <= hhi(shares) <= 10_000 + 1e-6


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=6),
       st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4))
def test_expected_simultaneous_downtime_matches_enumeration(homes, p):
    names = [f"s{h}" for h in homes]
    p_down = {f"s{k}": p[k] for k in range(4)}
    together, total = expected_simultaneous_s_per_day(names, p_down)
    want_together = want_total = 0.0
    used = sorted(set(names))
    for state in itertools.product((0, 1), repeat=len(used)):
        prob = np.prod([p_down[s] if b else 1 - p_down[s] for s, b in zip(used, state)])
        down = sum(names.count(s) for s, b in zip(used, state) if b)
        want_total += prob * down
        want_together += prob * down * (down >= 2)
    day = DAY / S
    assert together == pytest.approx(want_together * day, abs=1e-6)
    assert total == pytest.approx(want_total * day, abs=1e-6)


window_lists = st.lists(st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)),
                                 max_size=3), min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(window_lists)
def test_simultaneous_downtime_counts_every_second_two_or_more_are_down(raw):
    horizon = 70
    windows = []
    for rows in raw:
        grid = np.zeros(horizon, dtype=bool)
        for start, length in rows:
            grid[start:min(start + length, horizon)] = True
        edges = np.flatnonzero(np.diff(np.r_[0, grid.astype(int), 0]))
        windows.append(edges.reshape(-1, 2).astype(np.int64) * S)
    down = np.zeros(horizon, dtype=int)
    for w in windows:
        for lo, hi in (w // S).tolist():
            down[lo:hi] += 1
    together, most = simultaneous_down_s(windows, horizon * S)
    assert together == float(down[down >= 2].sum())
    assert most == int(down.max(initial=0))


@given(st.lists(st.integers(0, 100), max_size=30), st.integers(1, 20))
def test_during_and_after_are_disjoint_and_after_ends_with_its_window(times, after):
    t = np.array(times, dtype=np.int64)
    w = np.array([[10, 30], [50, 55]], dtype=np.int64)
    during, later = window_hits(t, w, after)
    assert not (during & later).any()
    assert set(t[during].tolist()) <= set(range(10, 30)) | set(range(50, 55))
    assert all(any(e <= x < e + after for e in (30, 55)) for x in t[later].tolist())
