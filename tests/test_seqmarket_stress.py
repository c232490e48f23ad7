"""The stress policy: a fast service in calm markets, a censorship-resistant one in a
crash, and back, at most once per dwell."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.market.gbm import YEAR_US
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket import make_policy
from seqlab.seqmarket.schedule import plan
from seqlab.seqmarket.stress import realised_vol
from seqlab.units import MINUTE, S

HOUR = 60 * MINUTE
FAST = Service(name="fast")
SAFE = Service(name="safe", offer="committee")
CFG = SequencingMarket(enabled=True, services=[FAST, SAFE], policy="stress",
                       weights={"latency": 2.0}, switch_delay="12s")


def path(calm: float, crash: float, crash_from: int, crash_to: int, horizon: int):
    """A price whose one-minute log returns alternate ±sigma·√dt: calm, then a crash."""
    t = np.arange(0, horizon + MINUTE, MINUTE)
    vol = np.where((t > crash_from) & (t <= crash_to), crash, calm)
    sign = np.where(np.arange(len(t)) % 2 == 0, 1.0, -1.0)
    r = sign * vol * np.sqrt(MINUTE / YEAR_US)
    r[0] = 0.0
    price = 2000.0 * np.exp(np.cumsum(r))
    return lambda at: np.interp(np.asarray(at, dtype=np.float64), t, price)


def stress_plan(price_at, cfg=CFG, w=None, horizon=3 * HOUR):
    w = w or {"fast": np.empty((0, 2), np.int64), "safe": np.empty((0, 2), np.int64)}
    return plan(cfg.services, w, make_policy("stress", cfg), cfg.timeout, cfg.switch_delay,
                horizon, lambda t: realised_vol(price_at, t, cfg.stress_window), MINUTE)


def test_realised_vol_reads_back_the_vol_of_the_path():
    price_at = path(0.4, 0.4, 0, 0, HOUR)
    assert realised_vol(price_at, 30 * MINUTE, 10 * MINUTE) == pytest.approx(0.4, rel=1e-6)
    assert realised_vol(price_at, MINUTE, 10 * MINUTE) == 0.0


def test_moves_to_the_resistant_service_in_a_crash_and_back_after():
    price_at = path(0.4, 3.0, HOUR, 90 * MINUTE, 3 * HOUR)
    s = stress_plan(price_at)
    assert s.services == ["fast", "safe", "fast"]
    into, back = s.decided[1:].tolist()
    # in: once the trailing window holds enough crash returns to cross 100 %
    assert HOUR < into <= HOUR + 2 * MINUTE
    # back: once the crash has left the window (10 min), and not before the dwell
    assert 90 * MINUTE + 5 * MINUTE <= back <= 90 * MINUTE + 10 * MINUTE
    assert s.starts.tolist() == [0, into + 12 * S, back + 12 * S]
    assert s.down.tolist() == [[into, into + 12 * S], [back, back + 12 * S]]


def test_calm_market_stays_with_the_fast_service_as_static_does():
    s = stress_plan(path(0.5, 0.5, 0, 0, 3 * HOUR))
    static = plan(CFG.services, {"fast": np.empty((0, 2), np.int64),
                                 "safe": np.empty((0, 2), np.int64)},
                  make_policy("static", CFG), CFG.timeout, CFG.switch_delay, 3 * HOUR)
    assert s.services == static.services == ["fast"]


def test_the_resistant_service_down_in_a_crash_means_staying():
    price_at = path(0.4, 3.0, HOUR, 90 * MINUTE, 3 * HOUR)
    w = {"fast": np.empty((0, 2), np.int64),
         "safe": np.array([[50 * MINUTE, 2 * HOUR]], np.int64)}
    assert stress_plan(price_at, w=w).services == ["fast"]


@settings(max_examples=25, deadline=None)
@given(calm=st.floats(0.1, 0.8), crash=st.floats(0.2, 5.0),
       start=st.integers(10, 150), length=st.integers(1, 60),
       dwell=st.sampled_from(["0s", "5min", "20min"]))
def test_switches_respect_the_dwell(calm, crash, start, length, dwell):
    cfg = CFG.model_copy(update={"stress_dwell": SequencingMarket(stress_dwell=dwell)
                                 .stress_dwell})
    price_at = path(calm, crash, start * MINUTE, (start + length) * MINUTE, 3 * HOUR)
    s = stress_plan(price_at, cfg)
    assert all(a != b for a, b in zip(s.services, s.services[1:]))
    gaps = np.diff(s.decided)
    assert (gaps >= cfg.switch_delay).all()
    back = np.array([name == "fast" for name in s.services[1:]], dtype=bool)
    assert (gaps[back] >= cfg.stress_dwell).all()  # calm again: only after the dwell
    if crash < cfg.stress_vol:
        assert s.services == ["fast"]


def _stress_world(fast_offer: str):
    """``tiny`` at 200 % volatility buying from a fast service and a committee under the
    stress policy."""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["market"].update(volatility=2.0)
    data["sequencing_market"] = {"enabled": True, "policy": "stress",
                                 "weights": {"latency": 2.0}, "stress_vol": 1.0,
                                 "services": [{"name": "fast", "offer": fast_offer},
                                              {"name": "safe", "offer": "committee"}]}
    return make_world(parse_scenario(data, "<test>"), 3)


def test_a_run_with_the_stress_policy_balances():
    world = _stress_world("central-fcfs")
    s = world.run().summary
    assert s["ledger_residual"] == 0
    assert s["market"]["policy"] == "stress"
    assert s["market"]["switches"] >= 1 and "safe" in s["market"]["service_time_s"]


@pytest.mark.parametrize("key,value,says", [("stress_vol", 0.0, "greater than 0"),
                                            ("stress_vol", 11.0, "less than or equal"),
                                            ("stress_window", "30s", "at least 2min")])
def test_bad_stress_settings_are_one_line_naming_the_field(key, value, says):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencing_market"] = {key: value}
    with pytest.raises(SeqlabError) as err:
        parse_scenario(data, "<test>")
    text = str(err.value)
    assert "\n" not in text and f"sequencing_market.{key}" in text and says in text


def test_the_estimate_changes_only_on_whole_minutes():
    price_at = path(0.4, 3.0, HOUR, 90 * MINUTE, 3 * HOUR)
    at = [realised_vol(price_at, 70 * MINUTE + k * S, 10 * MINUTE) for k in range(0, 60, 7)]
    assert len(set(at)) == 1


def test_a_switch_leaves_no_operator_position_open():
    """Leaving a service whose hosted operator holds a stale-price trade closes it on the
    next service: the old service's strategy state does not follow the rollup."""
    world = _stress_world("timeboost")
    s = world.run().summary
    assert s["ledger_residual"] == 0 and s["market"]["switches"] >= 1
    for party in world.operator_accounts.parties:
        assert world.protocol.size[party.stale] == 0 == world.protocol.size[party.sandwich]
