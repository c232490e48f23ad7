"""Oracle-value recapture as a bundle behind the update, and the protections around it.

The auction for an update's backrun: bidders value the liquidations the update enables
at the new price net of their gas and never bid beyond that less their minimum profit;
the winner's liquidations run in the update's own transaction (atomic) or, as a separate
bundle, only where the block's producer keeps it together; an operator that backruns for
itself splits a separate bundle and the winner pays gas, not its bid. Also: a pull
consumer refusing liquidations on a price older than ``max_age``, and the keeper deposit
a delayed order pays its settler.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.agents.liquidators import Costs, Liquidators
from seqlab.errors import SeqlabError
from seqlab.kernel import Simulation
from seqlab.network import Network
from seqlab.experiments.sweep import set_dotted
from seqlab.oracle.recapture import Bidder, RecaptureAuction, bid_for
from seqlab.protocols.perps import PPM
from seqlab.protocols.price_rule import PriceRule
from seqlab.scenario import parse_scenario
from seqlab.scenario.schema import Liquidator, Recapture
from seqlab.txs import Kind
from tests.pinned import shrunk
from tests.test_perps import FAILED, OK, bal, make, tx, usd

S = 1_000_000
GAS = (usd(1.0), usd(2.0))  # bidder 0 pays less gas than bidder 1


# the bid ------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 10**10), min_size=1, max_size=20), st.integers(0, 10**9),
       st.integers(0, 10**9), st.integers(0, PPM))
def test_a_bidder_never_bids_above_the_value_net_of_gas_and_its_profit(rewards, gas,
                                                                         min_profit, shade):
    lots = np.array(rewards, dtype=np.int64)
    bid = bid_for(lots, gas, min_profit, shade)
    assert (bid.take == (lots > gas)).all()  # only lots worth their gas
    net = int((lots[bid.take] - gas).sum())
    if net - min_profit <= 0:
        assert bid.amount == -1  # stays out
    else:
        assert 0 <= bid.amount <= net - min_profit
        assert bid.amount <= net * shade // PPM


# a market with one account an update makes liquidatable ---------------------------------
def market(mode: str = "atomic", honoured: bool = True, online=lambda j, t: True,
           outside: int = 2) -> tuple:
    p = make(accounts=3, margin=1_000.0)
    p.fund_liquidators(0, [10_000.0, 10_000.0])
    p.attempt_gas[:] = GAS
    auction = RecaptureAuction(Recapture(enabled=True, bundle=mode), p,
                               [Bidder(j, GAS[j], 0) for j in range(2)], online, outside,
                               lambda t: honoured)
    p.bundle = auction
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    assert tx(p, Kind.TRADE, 0, a=usd(19_000.0)) == OK
    return p, auction


def crash(p, block: int = 2, t: int = 2 * S) -> int:
    """The update that makes account 0 liquidatable; returns the first liquidation's
    reward as the bidders see it at the new price."""
    assert not p.is_liquidatable(0)
    p.price = usd(1950.0)  # what the bidders see before it lands
    reward = p.liquidation.reward(0, -1)
    p.price = usd(2000.0)
    p.margin_view.stale()
    assert tx(p, Kind.ORACLE, 0, a=usd(1950.0), b=1, block=block, t=t) == OK
    return reward


def test_the_winners_liquidations_run_right_behind_the_update():
    p, auction = market()
    insurance = bal(p, p.insurance)
    reward = crash(p)
    rows = p.log.liquidations
    assert rows and all(r[1] == 2 and r[3] == 0 and r[6] == 0 for r in rows)  # same block
    bid = (reward - GAS[0]) * 990_000 // PPM  # the cheaper bidder outbids the other
    assert bal(p, p.insurance) - insurance == bid * 650_000 // PPM
    assert bal(p, auction.network) == bid - bid * 650_000 // PPM
    auction.on_block()
    s = auction.summary()["recapture"]
    assert s["auctions"] == 1 and s["bypassed_usd"] == 0 and s["split_bundles"] == 0
    assert s["bundled_usd"] == s["backrun_value_usd"] > 0
    assert p.ledger.check() == 0


def test_a_bidder_past_its_loss_limit_stays_out():
    p, auction = market(online=lambda j, t: j != 0)
    crash(p)
    assert {r[3] for r in p.log.liquidations} == {1}
    assert p.ledger.check() == 0


def test_a_bot_whose_losses_pass_its_limit_stops_bidding():
    """The auction asks the bots' own loss limit: bot 0, allowed to lose nothing, burns
    gas on a failed attempt, stops, and the dearer bot 1 wins."""
    p = make(accounts=3, margin=1_000.0)
    p.fund_liquidators(0, [10_000.0, 10_000.0])
    p.attempt_gas[:] = GAS
    cfgs = [Liquidator(name=f"bot{j}", gas_usd=GAS[j] / PPM, max_loss_usd=0.0)
            for j in range(2)]
    profit = lambda j: bal(p, p.liquidator_account[j]) - int(p.keeper_capital[j])
    bots = Liquidators(cfgs, Simulation(1), p.txs, Network(), 3,
                       Costs(lambda who, n: np.zeros(len(who), np.int64), 0.0, profit), 60 * S)
    auction = RecaptureAuction(Recapture(enabled=True), p, [Bidder(j, GAS[j], 0)
                                                             for j in range(2)],
                               bots.active, 2, lambda t: True)
    p.bundle = auction
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    assert tx(p, Kind.TRADE, 0, a=usd(19_000.0)) == OK
    assert tx(p, Kind.LIQUIDATE, 0, b=0) == FAILED  # healthy: bot 0 pays gas for nothing
    crash(p)
    assert bots.stopped.tolist() == [True, False]
    assert {r[3] for r in p.log.liquidations} == {1}
    assert p.ledger.check() == 0


def test_no_bundle_when_no_bidder_covers_its_gas():
    p, auction = market()
    p.attempt_gas[:] = usd(1e6)
    auction.bidders = [Bidder(j, usd(1e6), 0) for j in range(2)]
    crash(p)
    assert not p.log.liquidations and p.is_liquidatable(0)  # left to the race
    assert bal(p, auction.network) == 0


def test_an_operator_that_backruns_splits_a_separate_bundle():
    """Identity 1 is the operator's: it liquidates right behind the update; the winner's
    bundle, moved to the end of the block, finds nothing and pays gas but no bid."""
    p, auction = market("separate", honoured=False, outside=1)
    p.attempt_gas[1] = 0
    auction.bidders = auction.bidders[:1]
    crash(p)
    assert not p.log.liquidations  # the bundle waits for the block's end
    while p.is_liquidatable(0):
        assert tx(p, Kind.LIQUIDATE, 1, b=0, block=2, t=2 * S) == OK
    bot = bal(p, p.liquidator_account[0])
    auction.on_block()
    assert bot - bal(p, p.liquidator_account[0]) == GAS[0]  # one failed attempt's gas
    s = auction.summary()["recapture"]
    assert s["split_bundles"] == s["unpaid_bundles"] == 1 and s["auctions"] == 0
    assert s["protocol_usd"] == 0 and s["bypassed_usd"] == s["backrun_value_usd"] > 0
    assert p.ledger.check() == 0


def test_an_atomic_bundle_cannot_be_split():
    p, auction = market("atomic", honoured=False, outside=1)
    auction.bidders = auction.bidders[:1]
    crash(p)
    assert {r[3] for r in p.log.liquidations} == {0}
    assert tx(p, Kind.LIQUIDATE, 1, b=0, block=2, t=2 * S) == FAILED  # nothing left


# whole runs ---------------------------------------------------------------------------
class Writers:
    """Option writers as the auction sees them: writer 1 becomes liquidatable below
    1,960 USD (writer 0 already was), each worth ``REWARD`` to its liquidator."""

    REWARD = usd(300.0)

    def __init__(self, p) -> None:
        self.p, self.liquidations, self.done = p, [], set()

    def liquidatable(self, t: int) -> np.ndarray:
        crashed = self.p.price < usd(1960.0)
        return np.array([w for w in (0, 1) if (w == 0 or crashed) and w not in self.done],
                        dtype=np.int64)

    def reward(self, writer: int, t: int) -> int:
        return self.REWARD

    def liquidate(self, liquidator: int, writer: int, block: int, t: int) -> bool:
        self.done.add(writer)
        self.liquidations.append((t, block, writer, liquidator, 0, self.REWARD))
        return True


def test_option_writers_an_update_makes_liquidatable_join_its_bundle():
    p, auction = market()
    auction.options = writers = Writers(p)
    reward = crash(p)
    assert writers.liquidations == [(2 * S, 2, 1, 0, 0, Writers.REWARD)]  # not writer 0
    bid = (reward - GAS[0] + Writers.REWARD - GAS[0]) * 990_000 // PPM
    assert bal(p, auction.network) == bid - bid * 650_000 // PPM
    auction.on_block()
    assert auction.summary()["recapture"]["bundled_usd"] == auction.summary()[
        "recapture"]["backrun_value_usd"]


# the price's age and the settler's fee ---------------------------------------------------
def test_a_pull_consumer_refuses_a_liquidation_on_a_stale_price():
    for refuse in (False, True):
        p = make(accounts=3, margin=1_000.0)
        p.set_price_rule(PriceRule(np.array([0, S], np.int64), max_age=60 * S,
                                   keep_newest=True))
        p.refuse_stale_liquidations = refuse
        assert tx(p, Kind.ORACLE, 0, a=usd(2000.0), t=S // 10) == OK
        assert tx(p, Kind.TRADE, 0, a=usd(19_000.0), t=S // 5) == OK
        assert tx(p, Kind.ORACLE, 0, a=usd(1950.0), b=1, t=S) == OK
        assert p.is_liquidatable(0)
        assert p.may_liquidate(61 * S)  # published at 1 s: 60 s old is still fresh
        assert p.may_liquidate(61 * S + 1) is not refuse
        status = tx(p, Kind.LIQUIDATE, 0, b=0, t=62 * S)  # the price is 61 s old
        assert status == (FAILED if refuse else OK)
        assert p.is_liquidatable(0) is refuse
        assert p.ledger.check() == 0


def test_max_age_liquidations_needs_a_pull_oracle():
    loaded = shrunk("default", "fcfs")
    data = loaded.scenario.model_dump(mode="python")
    set_dotted(data, "oracle.max_age_liquidations", True)
    with pytest.raises(SeqlabError, match="max_age_liquidations"):
        parse_scenario(data, loaded.source, loaded.base_dir)


def test_the_keeper_settling_or_cancelling_a_delayed_order_is_paid_its_deposit():
    p = make(accounts=3, margin=100_000.0)
    p.set_price_rule(PriceRule(np.array([0, 3 * S, 4 * S, 200 * S], np.int64), delayed=True,
                               min_delay=2 * S, max_delay=60 * S), usd(1.0))
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0), t=S // 10) == OK
    assert tx(p, Kind.TRADE, 0, a=usd(20_000.0), t=S) == OK
    before = bal(p, p.margin[0])
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0), b=1, t=3 * S) == OK  # settles it
    assert bal(p, p.settlement_keeper) == usd(1.0)
    assert p.size[0] > 0 and before - bal(p, p.margin[0]) >= usd(1.0)
    assert tx(p, Kind.TRADE, 1, a=usd(20_000.0), t=3 * S) == OK
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0), b=3, t=200 * S) == OK  # too late: cancelled
    assert p.price_rule.cancelled == 1 and bal(p, p.settlement_keeper) == usd(2.0)
    assert p.ledger.check() == 0
