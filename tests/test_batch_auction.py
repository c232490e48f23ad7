"""Sealed batch auctions: no last look for the operator, one netted clearing price.

A batch's contents are sealed while it is open (reading them raises, the operator's view
included) and its order is committed before it executes; the commitment cannot be
reordered. The operator's own liquidations are decided from the last executed batch and
travel like a bot's, so outside liquidators win their share. The clearing price nets a
batch's buys against its sells and moves with the net imbalance only.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.ledger import Ledger
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Perps
from seqlab.sequencing.batch_auction import BatchAuctionDesign, hash_order
from seqlab.sequencing.operator import OperatorAccounts, OperatorView
from seqlab.sequencing.sealed_batch import BatchLog, CommittedBatch
from seqlab.sequencing.txview import UNKNOWN_KIND, SealedContent, TxView
from seqlab.txs import Kind, Status, TxStore
from seqlab.world import World

PPM = 1_000_000
TICK = 250_000
FIXED_BONUS = {"liquidation": "fixed", "liquidation_bonus": 0.02, "liquidation_fee": 0.005,
               "initial_margin": 0.05, "maintenance_margin": 0.03}


def tiny(design: str = "batch-auction", strategies: dict | None = None,
         perps: dict | None = None) -> dict:
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = design
    data["sequencer"]["strategy"].update(strategies or {})
    data["protocol"]["perps"].update(perps or {})
    return data


# the design alone: sealed while open, committed order fixed --------------------------
def standalone(seed: int, arrival: list[int], oracle: list[bool], interval_ticks: int
               ) -> tuple[BatchAuctionDesign, TxView, TxStore]:
    data = tiny()
    data["sequencer"]["batch_auction"]["interval"] = f"{interval_ticks * TICK // 1000}ms"
    cfg = parse_scenario(data).scenario.sequencer
    txs = TxStore()
    t = np.array(arrival, dtype=np.int64)
    kind = np.where(oracle, int(Kind.ORACLE), int(Kind.TRADE)).astype(np.int8)
    txs.add_many(kind, np.arange(len(t)), t, t, a=np.arange(len(t)) + 1)
    design = BatchAuctionDesign(cfg)
    view = TxView(txs, design.contents_visible, design.senders_visible)
    design.attach(OperatorView(None, view, OperatorAccounts.after(len(t), 3), seed))
    return design, view, txs


def run_ticks(design: BatchAuctionDesign, view: TxView, txs: TxStore
              ) -> list[tuple[int, np.ndarray]]:
    """Deliver transactions tick by tick as the network would, check the open batch is
    sealed before each close, and return the (close tick, ids) of every batch."""
    order = np.lexsort((np.arange(txs.n), txs.arrival_us[: txs.n]))
    arrival = txs.arrival_us[order]
    out, sent = [], 0
    end = int(arrival.max()) + (design.every + 1) * TICK
    for tick in range(TICK, end + 1, TICK):
        n = int(np.searchsorted(arrival, tick, side="right"))
        design.receive(order[sent:n], arrival[sent:n])
        sent = n
        if len(design.queue):
            with pytest.raises(SealedContent):
                view.kind(design.queue.ids)
            assert (view.known_kind(design.queue.ids) == UNKNOWN_KIND).all()
        blocks = design.build_blocks(np.array([tick], dtype=np.int64))
        if len(blocks.ids):
            out.append((tick, blocks.ids))
            assert np.array_equal(view.kind(blocks.ids), txs.kind[blocks.ids])  # opened
    return out


arrivals = st.lists(st.tuples(st.integers(0, 3_000_000), st.booleans()), min_size=1,
                    max_size=40)


@settings(max_examples=60, deadline=None)
@given(arrivals, st.integers(0, 2**31), st.integers(1, 6), st.randoms(use_true_random=False))
def test_open_batches_are_sealed_and_committed_orders_are_fixed(rows, seed, every, rnd):
    arrival, oracle = [r[0] for r in rows], [r[1] for r in rows]
    design, view, txs = standalone(seed, arrival, oracle, every)
    batches = run_ticks(design, view, txs)
    done = np.concatenate([ids for _, ids in batches])
    assert np.array_equal(np.sort(done), np.arange(len(rows)))  # each once, none held
    for (tick, ids), committed in zip(batches, design.log.batches):
        assert committed.close_us == tick and (tick // TICK) % design.every == 0
        assert np.array_equal(committed.ids, ids)
        assert (txs.arrival_us[ids] <= tick).all()  # nothing after the close
        is_oracle = txs.kind[ids] == Kind.ORACLE
        k = int(is_oracle.sum())
        assert is_oracle[:k].all()
        # the order is a function of the batch's set alone, not of how it arrived
        rest = ids[k:].copy()
        rnd.shuffle(rest)
        assert np.array_equal(ids[k:], hash_order(seed, np.asarray(rest)))
        with pytest.raises(ValueError):  # a committed order cannot be rearranged in place
            committed.ids[::-1].sort()
        with pytest.raises(AttributeError):
            committed.ids = ids[::-1]
    assert design.log.intact()


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=2, max_size=20, unique=True),
       st.integers(1, 10**9))
def test_a_substituted_order_breaks_its_commitment(ids, close):
    ids = np.array(ids, dtype=np.int64)
    log = BatchLog()
    committed = log.commit(close, ids)
    swapped = committed.copy()
    swapped[[0, 1]] = swapped[[1, 0]]
    forged = CommittedBatch(close, swapped, log.batches[0].digest)
    assert log.intact() and not forged.intact()
    with pytest.raises(ValueError):
        log.commit(close, ids)  # a batch cannot be committed twice


# whole runs: no last look, outside liquidators win, ledger exact ---------------------
operator_strategies = st.fixed_dictionaries(
    {s: st.booleans() for s in ("backrun", "censor", "stale_oracle", "sandwich")})


@settings(max_examples=6, deadline=None)
@given(st.integers(1, 50), operator_strategies)
def test_the_operator_sends_before_the_close_like_everyone(seed, strategies):
    w = World(parse_scenario(tiny(strategies=strategies, perps=FIXED_BONUS)), seed)
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    d, txs = w.design, w.txs
    assert d.log.intact()
    closes = np.array([b.close_us for b in d.log.batches], dtype=np.int64)
    own = d.view.txs.inserted_since(0)
    if not strategies["backrun"] and any(strategies.values()):
        assert not len(own)  # nothing it could do without a look inside the batch
    included = own[txs.block[own] >= 0]
    for tx in included.tolist():
        close = int(txs.included_us[tx])
        assert txs.arrival_us[tx] <= close  # it reached the sequencer before the close
        decided = int(txs.submit_us[tx])
        assert decided < close and decided in closes  # from an earlier batch's result
        assert txs.arrival_us[tx] > decided  # after a network delay
    # the rollup executes each committed order as committed (forced messages go first)
    executed = w.rollup.executed_order()
    for batch in d.log.batches:
        got = executed[txs.included_us[executed] == batch.close_us]
        assert np.array_equal(got[len(got) - len(batch.ids):], batch.ids)


def test_outside_liquidators_win_most_bonuses():
    op = total = 0.0
    for seed in (2, 3, 5, 7, 8):
        w = World(parse_scenario(tiny(perps=FIXED_BONUS)), seed)
        s = w.run().summary
        assert s["ledger_residual"] == 0
        op += s["operator_bonus_share"] * s["liquidation_bonus_usd"]
        total += s["liquidation_bonus_usd"]
        outside = sum(v for k, v in s["liquidation_bonus_by_liquidator"].items()
                      if not k.startswith("operator"))
        assert outside > 0 or not s["liquidations"]  # where there is a race, bots win some
    assert total > 0 and 0 < op / total < 0.5


# one clearing price, netted ------------------------------------------------------------
def perps(accounts: int, skew_scale: float) -> PerpsProtocol:
    cfg = Perps(taker_fee_bps=5.0, initial_margin=0.05, maintenance_margin=0.03,
                liquidation="fixed", liquidation_bonus=0.02, liquidation_fee=0.0,
                close_factor=0.5, full_close_health=0.0, skew_scale=skew_scale,
                insurance_fund_usd=1_000_000.0, pool_usd=100_000_000.0)
    txs = TxStore()
    p = PerpsProtocol(cfg, Ledger(), txs, accounts=accounts, liquidators=["a"])
    p.fund_accounts(np.full(accounts, 100_000.0), np.zeros(accounts))
    return p


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(-200_000, 200_000).filter(bool), min_size=1, max_size=8))
def test_clearing_price_nets_buys_against_sells(orders_usd):
    p = perps(len(orders_usd), 5_000.0)
    price = 2_000 * PPM
    t = np.array([1_000])
    p.execute(p.txs.add_many(Kind.ORACLE, 0, t, t, a=price), np.array([1]), t)
    n = len(orders_usd)
    a = np.array(orders_usd, dtype=np.int64) * PPM
    ids = p.txs.add_many(Kind.TRADE, np.arange(n), np.full(n, 2_000), np.full(n, 2_000), a=a)
    status = p.execute(ids, np.full(n, 2), np.full(n, 2_000), batch=True)
    assert p.ledger.check() == 0
    filled = status == Status.OK
    assert filled.all()
    net = sum(x * PPM // price if x > 0 else -(-x * PPM // price) for x in a.tolist())
    expect = price + price * net // (2 * p.scale_units)
    assert (p.txs.fill[ids] == expect).all()  # one price, from the net imbalance only
    if net == 0:
        assert expect == price  # balanced buys and sells clear at the oracle price


def test_without_price_impact_every_fill_is_at_the_oracle_price():
    p = perps(2, 0.0)
    t = np.array([1_000])
    p.execute(p.txs.add_many(Kind.ORACLE, 0, t, t, a=2_000 * PPM), np.array([1]), t)
    ids = p.txs.add_many(Kind.TRADE, np.arange(2), np.full(2, 2_000), np.full(2, 2_000),
                         a=np.array([150_000, 90_000]) * PPM)
    assert (p.execute(ids, np.full(2, 2), np.full(2, 2_000), batch=True) == Status.OK).all()
    assert (p.txs.fill[ids] == 2_000 * PPM).all()


def test_same_seed_same_result_with_the_operator_racing():
    runs = [World(parse_scenario(tiny(perps=FIXED_BONUS)), 3).run().summary for _ in range(2)]
    assert runs[0]["liquidations"] > 0 and runs[0]["operator_bonus_share"] > 0
    assert runs[0]["digest"] == runs[1]["digest"]
