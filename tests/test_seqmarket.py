"""The sequencing market: services, selection policies, failover and its costs."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket import POLICIES, State, make_policy, register_policy
from seqlab.seqmarket.schedule import plan
from seqlab.txs import Status
from seqlab.units import MINUTE, S

HOUR = 60 * MINUTE


def market(**kw) -> SequencingMarket:
    services = kw.pop("services", [Service(name="a"), Service(name="b"), Service(name="c")])
    return SequencingMarket(enabled=True, services=services, **kw)


def windows(**by_name) -> dict[str, np.ndarray]:
    return {n: np.asarray(w, dtype=np.int64).reshape(-1, 2) for n, w in by_name.items()}


def test_failover_switches_after_timeout_and_pays_the_switch_delay():
    cfg = market(order=["a", "b", "c"], timeout="10s", switch_delay="12s")
    w = windows(a=[(HOUR, 2 * HOUR)], b=[], c=[])
    s = plan(cfg.services, w, make_policy("failover", cfg), cfg.timeout, cfg.switch_delay,
             3 * HOUR)
    assert s.services == ["a", "b"]
    assert s.decided.tolist() == [0, HOUR + 10 * S]
    assert s.starts.tolist() == [0, HOUR + 22 * S]
    assert s.down.tolist() == [[HOUR, HOUR + 22 * S]]


def test_failover_skips_a_service_that_is_down_too_and_stays_when_all_are():
    cfg = market(order=["a", "b", "c"], timeout="10s", switch_delay="0s")
    w = windows(a=[(HOUR, 2 * HOUR)], b=[(0, 3 * HOUR)], c=[(HOUR, 90 * MINUTE)])
    s = plan(cfg.services, w, make_policy("failover", cfg), cfg.timeout, cfg.switch_delay,
             3 * HOUR)
    # at HOUR+10s b and c are both down: stay; c comes back at 90 min, a is still down
    assert s.services == ["a", "c"]
    assert s.starts.tolist() == [0, 90 * MINUTE]
    assert s.down.tolist() == [[HOUR, 90 * MINUTE]]


def test_static_policy_never_moves_and_picks_by_weights():
    fast = Service(name="fast")
    safe = Service(name="safe", latency="40ms", nodes=4, faulty=1)
    cfg = market(services=[fast, safe], policy="static")
    w = windows(fast=[(HOUR, 2 * HOUR)], safe=[])
    s = plan(cfg.services, w, make_policy("static", cfg), cfg.timeout, cfg.switch_delay,
             3 * HOUR)
    assert s.services == ["fast"] and s.down.tolist() == [[HOUR, 2 * HOUR]]
    heavy = market(services=[fast, safe], policy="static", weights={"resistance": 5.0})
    assert make_policy("static", heavy).choose(
        State(0, None, 0, {"fast": True, "safe": True}, (fast, safe), 0)) == "safe"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3 * HOUR),
                          st.integers(1, HOUR)), max_size=8),
       st.integers(1, 120 * S), st.integers(0, 60 * S))
def test_schedule_invariants(outages, timeout, delay):
    """Switches are decided on time and take effect ``delay`` later; the rollup is down
    exactly where no service in use produces; failover never moves to a down service,
    and never moves before the service in use has been silent for ``timeout``."""
    names = ["a", "b", "c"]
    w = windows(**{n: sorted((s, s + d) for k, s, d in outages if k == i)
                   for i, n in enumerate(names)})
    from seqlab.outages import merge_windows, down_until
    w = {n: merge_windows([tuple(x) for x in v.tolist()]) for n, v in w.items()}
    cfg = market(timeout=f"{timeout}us", switch_delay=f"{delay}us")
    horizon = 4 * HOUR
    s = plan(cfg.services, w, make_policy("failover", cfg), timeout, delay, horizon)
    assert (np.diff(s.starts) > 0).all() or len(s.starts) == 1
    assert (s.starts[1:] - s.decided[1:] == delay).all()
    for k in range(1, len(s.services)):
        t, prev = int(s.decided[k]), s.services[k - 1]
        assert down_until(w[s.services[k]], t) is None
        assert down_until(w[prev], t) is not None
        assert down_until(w[prev], t - timeout) is not None or t - timeout < s.starts[k - 1]
    down = s.down
    assert (down[:, 1] > down[:, 0]).all() and (down[1:, 0] > down[:-1, 1]).all()
    probe = np.linspace(0, horizon - 1, 997).astype(np.int64)
    seg = s.segment_at(probe)
    for t, k in zip(probe.tolist(), seg.tolist()):
        in_gap = any(d <= t < st_ for d, st_ in zip(s.decided[1:].tolist(),
                                                    s.starts[1:].tolist()))
        producing = not in_gap and down_until(w[s.services[k]], t) is None
        assert producing == (down_until(down, t) is None)


# the engine ---------------------------------------------------------------------------
def scenario(**market_kw):
    loaded = load_scenario("tiny")
    data = loaded.scenario.model_dump(mode="python")
    data["sequencing_market"] = {"enabled": True, **market_kw}
    return parse_scenario(data, "<test>")


PRIMARY_DOWN = [{"name": "primary", "offer": "timeboost",
                 "outages": [{"start": "3min", "duration": "4min"}]},
                {"name": "backup", "offer": "central-fcfs"}]


@pytest.mark.parametrize("stranded", ["resend", "l1"])
def test_failover_run_balances_and_strands_nothing_for_good(stranded):
    loaded = scenario(services=PRIMARY_DOWN, order=["primary", "backup"], stranded=stranded,
                      switch_delay="5s", timeout="10s")
    world = make_world(loaded, 3)
    result = world.run()
    s = result.summary
    assert s["ledger_residual"] == 0
    assert s["market"]["switches"] == 1 and s["market"]["stranded"] > 0
    assert s["downtime_s"] == pytest.approx(15.0)
    txs = world.txs
    inc, arr = txs.column("included_us"), txs.column("arrival_us")
    switch = 3 * MINUTE + 15 * S
    held = (arr < 3 * MINUTE) & ((inc < 0) | (inc >= switch))
    if stranded == "resend":  # re-sent, they go in as soon as the backup starts
        assert (inc[held] >= switch).all() and (inc[held] < switch + S).all()
    else:  # through L1: not before the inbox delay (here: after the run's end)
        assert ((arr < 3 * MINUTE) & (inc < 0)).sum() == s["market"]["stranded"]


def test_sequencing_is_paid_from_fees_and_the_ledger_balances():
    services = [{"name": "paid", "offer": "central-fcfs", "price_per_block_usd": 0.01,
                 "price_per_tx_usd": 0.001}]
    result = make_world(scenario(services=services), 3).run()
    s = result.summary
    blocks = result.tables["blocks"]
    owed = len(blocks["block"]) * 0.01 + blocks["n_txs"].sum() * 0.001
    assert s["market"]["sequencing_cost_usd"] == pytest.approx(owed, abs=0.01)
    assert s["ledger_residual"] == 0


def test_a_policy_written_outside_seqlab_plugs_in():
    """The docs' example: a policy that leaves a service at the first sign of trouble."""
    class Impatient:
        def __init__(self, cfg):
            self.names = [s.name for s in cfg.services]

        def choose(self, state):
            if state.current is not None and state.up[state.current]:
                return state.current
            return next((n for n in self.names if state.up[n]), self.names[0])

    register_policy("impatient", Impatient)
    try:
        result = make_world(scenario(services=PRIMARY_DOWN, policy="impatient",
                                     switch_delay="0s"), 3).run()
        with pytest.raises(ValueError, match="already registered"):
            register_policy("impatient", Impatient)
    finally:
        del POLICIES["impatient"]
    m = result.summary["market"]
    assert m["policy"] == "impatient" and m["switches"] == 1
    assert result.summary["downtime_s"] == 0.0


BAD = {
    "unknown offer": ({"services": [{"name": "x", "offer": "nope"}]}, "offer"),
    "faulty": ({"services": [{"name": "x", "nodes": 3, "faulty": 3}]}, "faulty"),
    "unknown policy": ({"services": [{"name": "x"}], "policy": "nope"}, "policy"),
    "unknown design": ({"services": [{"name": "x", "design": "magic"}]}, "design"),
    "order": ({"services": [{"name": "x"}], "order": ["y"]}, "order"),
    "policies": ({"services": [{"name": "x"}], "policies": ["static", "failover"]},
                 "policies"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_market_input_is_one_line_naming_the_field(case):
    kw, field = BAD[case]
    with pytest.raises(SeqlabError) as info:
        make_world(scenario(**kw), 3)
    line = info.value.line()
    assert "\n" not in line and field in line and "sequencing_market" in line


def test_each_rollup_has_its_policy_and_sees_the_same_service_outages():
    loaded = load_scenario("tiny")
    data = loaded.scenario.model_dump(mode="python")
    data["rollups"] = {"count": 2, "sequencing": "isolated"}
    data["sequencing_market"] = {"enabled": True, "policies": ["failover", "static"],
                                 "services": PRIMARY_DOWN, "order": ["primary", "backup"],
                                 "weights": {"latency": 0.0, "price": 0.0,
                                             "resistance": 0.0, "reliability": 0.0}}
    cluster = make_world(parse_scenario(data, "<test>"), 3)
    a, b = (chain.design for chain in cluster.chains)
    assert a.policy == "failover" and b.policy == "static"
    assert a.schedule.services == ["primary", "backup"] and b.schedule.services == ["primary"]
    assert b.schedule.down.tolist() == [[3 * MINUTE, 7 * MINUTE]]
    assert cluster.run().summary["ledger_residual"] == 0


@pytest.mark.parametrize("key,value,field", [
    ("sequencer.outages", [{"start": "1min", "duration": "1min"}], "sequencer.outages"),
    ("rollups", {"count": 2, "sequencing": "shared"}, "rollups.sequencing"),
])
def test_settings_a_market_replaces_are_refused(key, value, field):
    from seqlab.experiments.sweep import set_dotted
    data = scenario(services=[{"name": "x"}]).scenario.model_dump(mode="python")
    set_dotted(data, key, value)
    with pytest.raises(SeqlabError) as info:
        make_world(parse_scenario(data, "<test>"), 3)
    assert field in info.value.line() and "\n" not in info.value.line()
