"""Sequencer outages and the grace-period sentinel."""
import numpy as np

from seqlab.outages import REAL_OUTAGES_US, in_grace, outage_windows
from seqlab.kernel import make_rng
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Sequencer
from seqlab.world import World

HOUR = 3_600_000_000


def run(grace="0s", **seq):
    data = load_scenario("outage").scenario.model_dump(mode="python")
    data["protocol"]["perps"]["grace_period"] = grace
    data["sequencer"].update(seq)
    w = World(parse_scenario(data))
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result


def test_nothing_is_sequenced_while_down_and_the_queue_clears_at_restart():
    w, result = run(while_down="queue")
    blocks = result.tables["blocks"]
    inside = (blocks["t_us"] >= HOUR) & (blocks["t_us"] < 2 * HOUR)
    assert not inside.any()
    first = blocks["t_us"][blocks["t_us"] >= 2 * HOUR][0]
    assert first == 2 * HOUR
    txs = result.tables["txs"]
    queued = (txs["arrival_us"] >= HOUR) & (txs["arrival_us"] < 2 * HOUR)
    assert queued.sum() > 10_000 and (txs["included_us"][queued] >= 2 * HOUR).all()
    assert result.summary["downtime_s"] == 3600.0
    assert result.summary["max_block_gap_ms"] >= 3_600_000


def test_grace_period_blocks_liquidations_and_lets_users_top_up():
    _, none = run("0s")
    w, grace = run("30min")
    liq = grace.tables["liquidations"]
    window = (liq["t_s"] * 1e6 >= 2 * HOUR) & (liq["t_s"] * 1e6 < 2.5 * HOUR)
    assert not window.any()
    liq0 = none.tables["liquidations"]
    assert ((liq0["t_s"] * 1e6 >= 2 * HOUR) & (liq0["t_s"] * 1e6 < 2.5 * HOUR)).any()
    txs = grace.tables["txs"]
    topped = (txs["kind"] == 4) & (txs["status"] == 1) & (txs["included_us"] >= 2 * HOUR) \
        & (txs["included_us"] < 2.5 * HOUR)
    assert topped.sum() > 0


def test_random_outages_last_as_long_as_real_ones():
    cfg = Sequencer(outage_rate_per_day=20.0)
    windows = outage_windows(cfg, 30 * 24 * HOUR, make_rng(1, "outages"))
    assert len(windows) > 10
    assert (np.diff(windows[:, 0]) > 0).all()
    assert (windows[1:, 0] > windows[:-1, 1]).all()  # merged, disjoint
    lengths = windows[:, 1] - windows[:, 0]
    assert set(np.unique(lengths)) & set(REAL_OUTAGES_US.tolist())


def test_in_grace_boundaries():
    windows = np.array([[10, 20]], dtype=np.int64)
    assert not in_grace(windows, 9, 5)
    assert in_grace(windows, 10, 5) and in_grace(windows, 24, 5)
    assert not in_grace(windows, 25, 5)
    assert not in_grace(windows, 15, 0)
