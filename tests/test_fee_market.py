"""The rollup's fee market: tips and auction payments conserve value to the micro-USD,
and a design that declares no capabilities gets no fee handling."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.kernel import Simulation
from seqlab.ledger import Ledger
from seqlab.network import Network
from seqlab.rollup.chain import Rollup
from seqlab.rollup.fees import (NO_CAPABILITIES, SEARCHER_DEPOSIT, TO_PROPOSER, TO_TREASURY,
                                Capabilities, FeeMarket, SequencerAccounts)
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing import DESIGNS, make_design
from seqlab.sequencing.operator import OperatorAccounts, OperatorView
from seqlab.sequencing.txview import TxView
from seqlab.txs import Kind, Status, TxStore
from tests.test_perps import make, usd

AMOUNT = st.integers(0, 10**12)


def market(payers: list[int], caps: Capabilities) -> tuple[FeeMarket, np.ndarray]:
    """A fee market whose payer ``k`` is a fresh account holding ``payers[k]``."""
    ledger, txs = Ledger(), TxStore()
    accounts = SequencerAccounts.open(ledger)
    owners = ledger.open_many("payer", len(payers))
    ledger.transfer_many(0, owners, np.array(payers, dtype=np.int64), "deposit")
    fees = FeeMarket(ledger, txs, accounts, lambda kind, sender: int(owners[sender]))
    fees.capabilities = caps
    return fees, owners


@settings(max_examples=100, deadline=None)
@given(st.lists(AMOUNT, min_size=1, max_size=5),
       st.lists(st.tuples(st.integers(0, 4), AMOUNT), min_size=1, max_size=20))
def test_tips_move_exactly_what_payers_hold_to_the_sequencer(balances, offers):
    fees, owners = market(balances, Capabilities(tips=True))
    senders = [s % len(balances) for s, _ in offers]
    tips = [tip for _, tip in offers]
    ids = fees.txs.add_many(Kind.TRADE, np.array(senders), np.zeros(len(tips), np.int64),
                            np.zeros(len(tips), np.int64), tip=np.array(tips, np.int64))
    left = list(balances)
    expected = 0
    for s, tip in zip(senders, tips):  # in block order, each capped by what is left
        paid = min(tip, left[s])
        left[s] -= paid
        expected += paid
    fees.after_block(ids)
    bal = fees.ledger.balances
    assert fees.ledger.check() == 0
    assert int(bal[fees.accounts.sequencer]) == expected
    assert bal[owners].tolist() == left
    assert int(bal[owners].sum()) + expected == sum(balances)


@settings(max_examples=100, deadline=None)
@given(AMOUNT, st.lists(st.tuples(AMOUNT, st.sampled_from([TO_TREASURY, TO_PROPOSER])),
                        min_size=1, max_size=12))
def test_auction_payments_are_paid_in_full_and_what_the_searchers_lack_is_brought_in(
        funds, payments):
    """Every won auction is paid in full: what the searchers' funds lack they bring from
    outside, booked apart (``SEARCHER_DEPOSIT``), so nothing is paid short and the
    ledger stays exact."""
    fees, _ = market([], Capabilities(express_lane=True, builder_bids=True))
    acc, ledger = fees.accounts, fees.ledger
    ledger.transfer(0, acc.searchers, funds, "deposit")
    left, brought, got = funds, 0, {TO_TREASURY: 0, TO_PROPOSER: 0}
    for amount, to in payments:
        assert fees.settle_auction(0, amount, to, 1, 1_000) == (amount > 0)
        brought += max(0, amount - left)
        left = max(0, left - amount)
        got[to] += amount
    bal = ledger.balances
    assert ledger.check() == 0
    assert int(bal[acc.searchers]) == left
    assert int(bal[acc.treasury]) == got[TO_TREASURY]
    assert int(bal[acc.proposer]) == got[TO_PROPOSER]
    assert ledger.totals_by_reason().get(SEARCHER_DEPOSIT, 0) == brought
    assert left + got[TO_TREASURY] + got[TO_PROPOSER] == funds + brought


def test_without_capabilities_nothing_is_charged_or_settled():
    fees, owners = market([usd(100)], NO_CAPABILITIES)
    acc, ledger = fees.accounts, fees.ledger
    ledger.transfer(0, acc.searchers, usd(50), "deposit")
    ids = fees.txs.add_many(Kind.TRADE, 0, np.zeros(1, np.int64), np.zeros(1, np.int64),
                            tip=usd(3))
    fees.after_block(ids)
    assert not fees.settle_auction(0, usd(10), TO_TREASURY, 1, 1_000)
    assert not fees.settle_auction(0, usd(10), TO_PROPOSER, 1, 1_000)
    assert ledger.balances[[acc.sequencer, acc.treasury, acc.proposer]].tolist() == [0, 0, 0]
    assert int(ledger.balances[owners[0]]) == usd(100)
    assert int(ledger.balances[acc.searchers]) == usd(50)


def test_a_lane_sold_by_one_design_is_not_a_builder_bid():
    fees, _ = market([], Capabilities(express_lane=True))
    fees.ledger.transfer(0, fees.accounts.searchers, usd(50), "deposit")
    assert fees.settle_auction(0, usd(10), TO_TREASURY, 1, 1_000)
    assert not fees.settle_auction(0, usd(10), TO_PROPOSER, 1, 1_000)
    assert int(fees.ledger.balances[fees.accounts.proposer]) == 0


def test_designs_declare_capabilities_and_the_defaults_declare_none():
    declared = {name: make_design(Sequencer(design=name)).capabilities for name in DESIGNS}
    assert all(isinstance(c, Capabilities) for c in declared.values())
    assert declared["fcfs"] == NO_CAPABILITIES
    assert declared["priority"].tips and not declared["priority"].auctions
    assert declared["timeboost"].express_lane
    assert declared["builders"].builder_bids and declared["builders"].tips
    assert declared["batch-auction"].batch_clearing


def run_block(design: str) -> tuple:
    """One block of two tipped trades on a perps market under ``design``, through the
    rollup with its fee market; returns (market, fee market, tx ids)."""
    p = make(accounts=2, skew_scale=5_000.0)
    fees = FeeMarket(p.ledger, p.txs, SequencerAccounts.open(p.ledger), p.payer)
    p.attach(fees)
    sim, net = Simulation(1), Network()
    cfg = Sequencer(design=design)
    design = make_design(cfg)
    design.attach(OperatorView(p, TxView(p.txs), OperatorAccounts.after(2, 2), 1,
                               sequencer_side=fees.accounts))
    rollup = Rollup(sim, design, net, p.txs, p, 10 * cfg.block_time, fees=fees)
    t = np.array([1, 2, 3], dtype=np.int64)
    ids = p.txs.add_many(np.array([Kind.ORACLE, Kind.TRADE, Kind.TRADE]), np.array([0, 0, 1]),
                         t, t, np.array([usd(2_000), usd(50_000), usd(50_000)]), 0,
                         np.array([0, usd(1), usd(2)]))
    net.preload(ids, t)
    rollup.start()
    sim.run(until=10 * cfg.block_time)
    return p, fees, ids


def test_a_design_declaring_no_capabilities_gets_no_fee_handling():
    """Under fcfs (no capabilities) the rollup charges no tip and fills trades one by
    one; under a tip-taking design the same block pays its tips to the sequencer, and
    under a batch auction both trades fill at one price."""
    p, fees, ids = run_block("fcfs")
    assert (p.txs.status[ids] == Status.OK).all()
    assert int(p.ledger.balances[fees.accounts.sequencer]) == 0
    assert p.txs.fill[ids[1]] != p.txs.fill[ids[2]]  # the second moved the skew further
    p, fees, ids = run_block("priority")
    assert int(p.ledger.balances[fees.accounts.sequencer]) == usd(3)
    p, fees, ids = run_block("batch-auction")
    assert p.txs.block[ids[1]] == p.txs.block[ids[2]]
    assert p.txs.fill[ids[1]] == p.txs.fill[ids[2]]
    assert p.ledger.check() == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Kind.TRADE, Kind.CLOSE, Kind.TOPUP, Kind.ORACLE,
                                           Kind.LIQUIDATE, Kind.AUCTION]),
                          st.integers(0, 1)), min_size=1, max_size=8))
def test_a_blocks_payers_at_once_are_each_ones_payer(rows):
    """The perps market's payers of a block, answered at once where every transaction is
    a user's own, are exactly ``payer`` asked one by one (updates, bots' attempts and the
    fee market's own auction payments among them)."""
    p = make(accounts=2)
    p.attach(FeeMarket(p.ledger, p.txs, SequencerAccounts.open(p.ledger), p.payer, p.payers))
    kind = np.array([int(k) for k, _ in rows], dtype=np.int8)
    sender = np.array([s for _, s in rows], dtype=np.int32)  # as the store keeps them
    assert p.payers(kind, sender).tolist() == [p.payer(int(k), int(s)) for k, s in rows]
