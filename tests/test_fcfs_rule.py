"""A design's ``FcfsRule`` says which of its blocks are first-come-first-served, and the
stretch kernel reads it: each of the kernel's readings gives the answer of the
operator's own code (``Operator._censor``, ``admit_delayed``, ``_sandwiches``,
``_stale_open_trade``, ``_liquidations``) on the same state, or leaves the block to
the design where it cannot say exactly."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.protocols import stretch_kernel as sk
from seqlab.protocols.margin_kernel import account_margin
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.extractive import ExtractiveDesign
from seqlab.sequencing.fcfs import FcfsDesign
from seqlab.sequencing.fcfs_rule import FCFS, NO_UPDATES, UPDATES_FIRST, UPDATES_IN_PLACE
from seqlab.txs import Kind, KindInt
from tests.worlds import STRESS, tiny_world

MID = 300_000_000  # halfway through ``tiny``: positions open, some near maintenance


@pytest.fixture(scope="module")
def operator_world():
    """An extractive world stopped halfway, crash-stressed, with trades worth wrapping."""
    world = tiny_world("extractive", 2, {**STRESS, "protocol.perps.skew_scale": 2000.0,
                                         "protocol.perps.taker_fee_bps": 5.0})
    world.rollup.start()
    world.sim.run(MID)
    world.protocol.margin_view.refresh()
    return world


def _slots(world) -> tuple[np.ndarray, np.ndarray]:
    """The kernel's scalars as a stretch would load them now."""
    runner = world.rollup.runner
    runner._rule = world.rollup.design.fcfs_rule()
    runner._load(world.sim.now)
    return runner.sc, runner.fl


def _arrays(p) -> tuple:
    return p.size, p.basis, p.ledger.balances, p.margin


@pytest.mark.parametrize("changes, rule", [
    ({}, dict(updates=UPDATES_FIRST, stale_move=0.002, hold_for=600_000_000)),
    ({"sequencer.strategy.censor": True},
     dict(updates=UPDATES_IN_PLACE, wrap_least=sk.NOT_DUE)),
    ({"sequencer.strategy.backrun": True}, dict(updates=UPDATES_FIRST, stale_move=math.inf,
                                                 hold_for=0)),
    ({"sequencer.strategy.stale_oracle": True, "sequencer.strategy.oracle_delay": "2s"},
     dict(updates=NO_UPDATES)),
    ({"sequencer.strategy.sandwich": True},
     dict(updates=UPDATES_IN_PLACE, wrap_least=50_000_000_000, wrap_scale=10 ** 12)),
])
def test_an_operators_rule_follows_its_strategies(changes, rule):
    """Updates go first where it backruns or trades ahead of them, are its own where it
    holds them; it holds top-ups only where it censors; it wraps only where it
    sandwiches, from ``sandwich_min_usd`` on (synthetix-v2's skew scale: 1,000,000)."""
    made = tiny_world("extractive", 1, changes).rollup.design.fcfs_rule()
    for key, value in rule.items():
        assert getattr(made, key) == value, key


@pytest.mark.parametrize("changes", [{"sequencer.strategy.hold_takes": True},
                                     {"sequencer.max_txs_per_block": 3}])
def test_an_operator_that_acts_on_every_block_has_no_rule(changes):
    assert tiny_world("extractive", 1, changes).rollup.design.fcfs_rule() is None
    assert tiny_world("honest", 1).rollup.design.fcfs_rule() is FCFS


PRICES = np.linspace(0.8, 1.2, 17)  # moves of the on-chain price an update may bring


def _open_accounts(p) -> list[int]:
    return np.flatnonzero(p.size[:200] != 0).tolist()


def test_a_censored_top_up_stays_held_as_the_operator_says(operator_world):
    """``_still_held`` keeps a top-up exactly where ``Operator._censor`` holds it and
    ``_liquidations`` leaves its account alone, for every open account at the on-chain
    price and at updates' prices, waiting up to, at and past the hold."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    now, hold = world.sim.now, op.params.max_censor_delay
    sc, fl = _slots(world)
    met = set()
    for who in _open_accounts(p):
        for move in PRICES:
            price = int(p.price * move)
            for waited in (0, hold - 1, hold):
                arrival = now - waited
                tx = world.txs.add_one(KindInt.TOPUP, who, arrival, arrival, a=1_000_000)
                censored, mask = op._censor(np.array([tx]), np.array([KindInt.TOPUP]),
                                            np.array([arrival]), price, now)
                held = mask is not None and bool(mask[0])
                acts = held and bool(op._liquidations(price, censored, now, False))
                mine = sk._still_held(now, price, np.array([tx]), np.array([arrival]),
                                      world.txs.sender, *_arrays(p), sc, fl)
                assert mine == (held and not acts), (who, move, waited)
                met.add((held, acts, waited == hold))
    assert {(True, False, False), (True, True, False), (False, False, True),
            (False, False, False)} <= met, met


def test_an_inbox_top_up_waits_as_the_operator_says(operator_world):
    """``_inbox_waits`` holds the inbox's first message exactly where
    ``Operator.admit_delayed`` admits none (a top-up the operator has held before;
    one it has not is left to it), and waits while nothing is includable: for every open
    account at several on-chain prices, includable for up to, at and past the hold."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    now, saved, hold = world.sim.now, p.price, op.params.max_censor_delay
    delay = world.rollup.inbox.delay_us
    met = set()
    try:
        for move in PRICES[::2]:
            p.price = int(saved * move)
            p.margin_view.refresh()
            sc, fl = _slots(world)
            for who in _open_accounts(p):
                for since in (-1, 0, hold - 1, hold):  # includable for this long
                    ready_at = now - since
                    posted = ready_at - delay
                    tx = world.txs.add_one(KindInt.TOPUP, who, posted, posted)
                    world.txs.held[tx] = 1
                    sc[sk.INBOX_AT], sc[sk.INBOX_DELAY] = posted, delay
                    theirs = since < 0 or op.admit_delayed(
                        np.array([tx]), np.array([ready_at]), now) == 0
                    for before in (True, False):
                        sc[sk.INBOX_WHO] = who if before else -1
                        mine = sk._inbox_waits(now, sc, fl, *_arrays(p))
                        assert mine == (theirs and (before or since < 0)), \
                            (who, move, since)
                    met.add((theirs, since))
    finally:
        p.price = saved
        p.margin_view.refresh()
    assert {(True, -1), (True, 0), (False, 0), (False, hold)} <= met, met


def _at_the_edge(p, who: int, margin: float, step: int) -> None:
    """Account ``who``'s margin balance set so its equity is ``step`` micro-dollars
    from ``margin`` × its notional (the edge of risk)."""
    bal = p.ledger.balances
    bal[p.margin[who]] = 0
    equity, notional, _ = account_margin(who, p.price / 1e6, p.mm_ppm, bal, p.margin,
                                         p.size, p.basis)
    bal[p.margin[who]] = math.floor(margin * notional - equity) + step


def test_the_edge_of_risk_is_the_operators_own(operator_world):
    """At the edge of risk, to the micro-dollar, the kernel's tests of a censored
    top-up and of the inbox's first message answer as ``Operator._censor`` and
    ``admit_delayed`` do (their two expressions of the margin round apart)."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    now, prm = world.sim.now, op.params
    delay = world.rollup.inbox.delay_us
    saved = p.ledger.balances.copy()
    met = set()
    try:
        for who in _open_accounts(p):
            for margin in (prm.censor_trigger * (p.mm_ppm / 1e6),
                           prm.censor_trigger * p.mm_ppm / 1e6):
                for step in range(-2, 3):
                    _at_the_edge(p, who, margin, step)
                    p.margin_view.stale()
                    p.margin_view.refresh()
                    sc, fl = _slots(world)
                    tx = world.txs.add_one(KindInt.TOPUP, who, now, now, a=1_000_000)
                    _, mask = op._censor(np.array([tx]), np.array([KindInt.TOPUP]),
                                         np.array([now]), p.price, now)
                    held = mask is not None and bool(mask[0])
                    flagged = who in p.liquidatable().tolist()
                    assert sk._still_held(now, p.price, np.array([tx]), np.array([now]),
                                          world.txs.sender, *_arrays(p), sc, fl) \
                        == (held and not flagged)
                    sc[sk.INBOX_AT], sc[sk.INBOX_DELAY] = now - delay, delay
                    sc[sk.INBOX_WHO] = who
                    admitted = op.admit_delayed(np.array([tx]), np.array([now]), now)
                    assert sk._inbox_waits(now, sc, fl, *_arrays(p)) == (admitted == 0)
                    met.add((held, admitted == 0))
    finally:
        p.ledger.balances[:] = saved
        p.margin_view.stale()
        p.margin_view.refresh()
    assert {(True, True), (False, False)} <= met, met


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(-10 ** 13, 10 ** 13), st.integers(-2 ** 63, 2 ** 63 - 1)),
       st.floats(0.5, 2.0))
def test_a_trade_is_left_to_the_operator_where_it_may_wrap_it(operator_world, amount, move):
    """Where ``_wrappable`` says no, ``Operator._sandwiches`` wraps nothing; where it says
    yes within exact integers, the impact pays two fees (the operator then asks whether
    the victim still fills)."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    price = int(p.price * move)
    who = int(np.flatnonzero(p.size == 0)[0])
    tx = world.txs.add_one(KindInt.TRADE, who, world.sim.now, world.sim.now, a=amount)
    sc, fl = _slots(world)
    mine = sk._wrappable(amount, price, sc, fl)
    block = op._sandwiches(np.array([tx]), np.array([KindInt.TRADE]), price, world.sim.now)
    wrapped = not isinstance(block, np.ndarray)
    assert mine or not wrapped
    size = abs(amount)
    if size <= sk._NO_OVERFLOW and size * 1_000_000 // price < sk._EXACT:
        pays = size >= op.params.sandwich_min_usd * 1_000_000 \
            and (size * 1_000_000 // price) / p.scale_units > 2 * (p.fee_ppm / 1_000_000)
        assert mine == pays


def test_a_wrap_is_decided_at_the_operators_threshold(operator_world):
    """On either side of the least amount whose impact pays two fees, at several prices,
    ``_wrappable`` answers as the operator's test does, to the micro-dollar: where
    ``sandwich_min_usd`` decides (the scenario's) and where the fees do."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    sc, fl = _slots(world)
    leasts = (op.params.sandwich_min_usd * 1_000_000, 1e9)  # the scenario's; 1,000 USD
    for least, move in itertools.product(leasts, PRICES):
        sc[sk.WRAP_LEAST] = math.ceil(least)
        price = int(p.price * move)

        def pays(size: int) -> bool:
            return size >= least and (size * 1_000_000 // price) / p.scale_units \
                > 2 * (p.fee_ppm / 1_000_000)

        lo, hi = 0, 10 ** 13  # the least paying amount, by bisection on the monotone test
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (lo, mid) if pays(mid) else (mid, hi)
        for size in range(hi - 3, hi + 3):
            assert sk._wrappable(size, price, sc, fl) == pays(size) == (size >= hi)
            assert sk._wrappable(-size, price, sc, fl) == pays(size)


@settings(max_examples=60, deadline=None)
@given(st.floats(0.9, 1.1))
def test_updates_lead_quietly_as_the_operator_says(operator_world, move):
    """Where ``_leads_quietly`` puts a block's updates first with nothing added, the
    operator trades nothing ahead of the update and liquidates nobody behind it."""
    world = operator_world
    p, op = world.protocol, world.rollup.design.operator
    now = world.sim.now
    coming = int(p.price * move)
    update = world.txs.add_one(KindInt.ORACLE, -1, now, now, a=coming, b=10 ** 6)
    sc, fl = _slots(world)
    mine = sk._leads_quietly(coming, sc, fl, *_arrays(p))
    try:
        ahead = op._stale_open_trade(update, now)
        behind = op._liquidations(coming, np.empty(0, np.int64), now, True)
    finally:
        op._stale_open.clear()
    quiet = not ahead and not behind
    assert not mine or quiet
    moved = abs(coming - p.price) > op.params.stale_min_move * p.price
    flagged = len(p.liquidatable(coming)) > 0
    assert mine == (not moved and not flagged)


def test_updates_go_first_in_their_order():
    kinds = np.array([KindInt.TRADE, KindInt.ORACLE, KindInt.CLOSE, KindInt.ORACLE,
                      KindInt.TRADE], np.int8)
    ids = np.arange(5, dtype=np.int64)
    arrival = np.arange(10, 15, dtype=np.int64)
    sk._updates_first(ids, arrival, kinds)
    assert ids.tolist() == [1, 3, 0, 2, 4]
    assert arrival.tolist() == [11, 13, 10, 12, 14]
    assert int(Kind.ORACLE) == sk.ORACLE


def test_a_subclass_says_its_own_rule():
    """A design built on FCFS or on the extractive operator may build blocks its own way
    (``tests/test_forced_inclusion.py``'s censor): it inherits no rule."""
    class Mine(FcfsDesign):
        pass

    class Theirs(ExtractiveDesign):
        pass

    assert FcfsDesign(Sequencer()).fcfs_rule() is FCFS
    assert Mine(Sequencer()).fcfs_rule() is None
    assert Theirs(Sequencer()).fcfs_rule() is None
