"""The recapture feed's fallback: a withheld update's price lands from the standard feed.

Whatever a sequencer does with the bundled update, every round's price is stored by the
first block past its standard copy's record plus the delay; a private transmission that
lands in time keeps its auction, and one that lands after its standard copy changes
nothing. Whole runs: an operator holding every update for ten minutes keeps the price
stale for at most the delay, and an honest sequencer never needs the fallback.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.experiments.sweep import set_dotted
from seqlab.oracle.fallback import Fallback
from seqlab.scenario import parse_scenario
from seqlab.txs import Kind
from tests.pinned import shrunk
from tests.test_perps import OK, make, tx, usd

S = 1_000_000
BLOCK = 250_000


def first_block_at(t: int) -> int:
    return -(-t // BLOCK) * BLOCK


# the fallback alone ---------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 120 * S), st.lists(st.integers(0, 30 * S), min_size=1, max_size=12),
       st.data())
def test_no_round_stays_unstored_past_its_delay(delay, gaps, data):
    """Rounds reach the sequencer in order; each private transmission lands in some block
    or never. At every block each round whose standard copy was recorded ``delay`` ago
    is stored or superseded, a round falls back only once that is due, and rounds whose
    private transmission lands in time never fall back."""
    arrival = np.cumsum(gaps).astype(np.int64).tolist()
    n = len(arrival)
    lands = [data.draw(st.one_of(st.none(), st.integers(0, 200 * S)), label=f"lands {i}")
             for i in range(n)]
    landed = [None if lands[s] is None else first_block_at(max(lands[s], arrival[s]))
              for s in range(n)]
    deadline = [first_block_at(a) + delay for a in arrival]
    fb = Fallback(np.array(arrival), np.arange(n, dtype=np.int64), delay)
    for t in range(0, arrival[-1] + delay + 2 * BLOCK, BLOCK):
        seq = fb.due(t)  # the block's start
        if seq >= 0:
            assert t >= deadline[seq]
            fb.stored(seq, t, True)
        for s in range(n):  # the private transmissions landing in this block, in order
            if landed[s] == t and fb.accepts(s):
                fb.stored(s, t, False)
        assert all(fb.newest >= s for s in range(n) if deadline[s] <= t)
    assert max(fb.lags) < delay + 2 * BLOCK  # recorded, then stored, at block starts
    if all(landed[s] is not None and landed[s] < deadline[s] for s in range(n)):
        assert fb.rounds == 0


def test_a_round_stored_in_time_never_falls_back():
    fb = Fallback(np.array([S, 2 * S]), np.array([10, 20]), 60 * S)
    assert fb.due(S) == -1
    fb.stored(0, S, False)
    assert fb.due(3 * S) == -1  # round 1's standard copy is recorded in this block
    assert fb.due(61 * S) == -1  # round 0's is readable, but round 0 is stored
    assert fb.due(63 * S) == 1 and not fb.accepts(0) and fb.accepts(1)


# the protocol ---------------------------------------------------------------------------
def test_a_withheld_update_is_stored_from_its_standard_copy_without_an_auction():
    p = make(accounts=3, margin=1_000.0)
    p.fallback = Fallback(np.array([S, 2 * S]), np.array([usd(2000.0), usd(1950.0)]),
                          60 * S)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0), b=0, block=1, t=S) == OK
    assert p.price == usd(2000.0)
    # round 1 reaches the sequencer at 2 s and is withheld: at 62 s its standard copy
    # is read at the block's start, before the block's own transaction
    assert tx(p, Kind.TRADE, 1, a=usd(100.0), block=2, t=2 * S) == OK
    assert p.price == usd(2000.0)
    assert tx(p, Kind.TRADE, 1, a=usd(100.0), block=3, t=62 * S) == OK
    assert p.price == usd(1950.0) and p.log.oracle[-1][:2] == (62 * S, 3)
    # the private transmission, released later, changes nothing
    assert tx(p, Kind.ORACLE, 0, a=usd(1950.0), b=1, block=4, t=90 * S) == OK
    assert len(p.log.oracle) == 2 and p.fallback.rounds == 1
    assert p.ledger.check() == 0


# whole runs -----------------------------------------------------------------------------
def run(design, **settings_):
    loaded = shrunk("default+crash", design)
    data = loaded.scenario.model_dump(mode="python")
    for key, value in {"oracle.recapture.enabled": True, **settings_}.items():
        set_dotted(data, key, value)
    return make_world(parse_scenario(data, loaded.source, loaded.base_dir)).run().summary


def test_an_operator_holding_updates_keeps_the_price_stale_only_for_the_delay():
    hold = {"sequencer.strategy.oracle_delay": "600s"}
    held = run("extractive", **hold)
    stuck = run("extractive", **hold, **{"oracle.recapture.fallback_delay": "0s"})
    rec = held["recapture"]
    assert rec["fallback_rounds"] > 0
    assert rec["update_lag_s"]["max"] <= 60 + 2 * BLOCK / S
    assert "fallback_rounds" not in stuck["recapture"]
    assert held["oracle_error_bps"]["mean"] < stuck["oracle_error_bps"]["mean"] / 3
    assert held["ledger_residual"] == stuck["ledger_residual"] == 0


def test_an_honest_sequencer_never_needs_the_fallback():
    on, off = run("fcfs"), run("fcfs", **{"oracle.recapture.fallback_delay": "0s"})
    assert on["recapture"]["fallback_rounds"] == 0
    assert on["recapture"]["update_lag_s"]["max"] <= BLOCK / S
    assert on["digest"] == off["digest"]


def test_a_fallback_delay_past_a_day_is_refused():
    loaded = shrunk("default", "fcfs")
    data = loaded.scenario.model_dump(mode="python")
    set_dotted(data, "oracle.recapture.fallback_delay", "2d")
    with pytest.raises(SeqlabError, match="fallback_delay"):
        parse_scenario(data, loaded.source, loaded.base_dir)


def test_a_holding_operator_closes_once_the_fallback_has_landed_the_price():
    """An operator holding every update ten minutes trades ahead of one and closes as
    soon as the chain has made the move without it (the fallback stores the round from
    its public copy after 60 s), not when it releases its own copy: every stale-price
    trade is closed within the fallback delay and a few blocks, one round trip at a
    time, and the account ends flat."""
    loaded = shrunk("default+crash", "extractive-stale-oracle")
    data = loaded.scenario.model_dump(mode="python")
    for key, value in {"oracle.recapture.enabled": True,
                       "sequencer.strategy.oracle_delay": "600s"}.items():
        set_dotted(data, key, value)
    w = make_world(parse_scenario(data, loaded.source, loaded.base_dir))
    w.run()
    txs, stale = w.txs, w.operator_accounts.stale
    own = [i for i in w.rollup.executed_order().tolist()
           if txs.sender[i] == stale and txs.status[i] == OK
           and txs.kind[i] in (Kind.TRADE, Kind.CLOSE)]
    kinds = [int(txs.kind[i]) for i in own]
    assert kinds.count(Kind.TRADE) >= 2 and kinds[::2] == [Kind.TRADE] * len(kinds[::2])
    assert kinds[1::2] == [Kind.CLOSE] * len(kinds[1::2])
    held = [int(txs.included_us[c] - txs.included_us[t]) for t, c in zip(own[::2], own[1::2])]
    assert len(held) == len(own[::2]) and max(held) <= 60 * S + 3 * BLOCK
    assert w.protocol.size[stale] == 0
