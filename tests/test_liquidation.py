"""Liquidation mechanisms: partial per-block caps and Clipper-style Dutch auctions."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.experiments.compare import compare
from seqlab.scenario import load_scenario, parse_scenario
from tests.test_perps import OK, FAILED, bal, make, oracle, tx, usd
from seqlab.txs import Kind


def long_at_risk(**cfg):
    """Account 0: 10 ETH long at 2000 on 1,100 USD margin; then the price drops to 1,915."""
    p = make(margin=1_100.0, wallet=5_000.0, **cfg)
    oracle(p, 2000.0, block=1)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000.0), block=1) == OK
    oracle(p, 1915.0, block=2)
    assert p.is_liquidatable(0)
    return p


def test_partial_never_takes_more_than_the_cap_per_block():
    p = long_at_risk(liquidation="partial", partial_cap=0.1, close_factor=0.5,
                     liquidation_fee=0.005)
    size0 = int(p.size[0])
    for _ in range(4):  # four liquidators in the same block
        tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=3_000)
    assert size0 - int(p.size[0]) <= size0 // 10 + 1
    assert size0 - int(p.size[0]) > 0
    size1 = int(p.size[0])
    tx(p, Kind.LIQUIDATE, 1, b=0, block=4, t=4_000)
    tx(p, Kind.LIQUIDATE, 1, b=0, block=4, t=4_000)
    assert size1 - int(p.size[0]) <= size1 // 10 + 1
    assert p.ledger.totals_by_reason()["liquidation_fee"] > 0
    assert p.ledger.check() == 0


def dutch(**extra):
    params = {"curve": "linear", "buf": 1.2, "tau": "100s", "tail": "1h", "cusp": 0.1,
              "tip_usd": 10.0, "chip": 0.001, **extra}
    return long_at_risk(liquidation="dutch", dutch=params)


def test_dutch_kick_pays_the_keeper_and_locks_the_account():
    p = dutch()
    ins = bal(p, p.insurance)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=10_000_000) == OK  # kick
    incentive = usd(10.0) + (abs(int(p.size[0])) * 1915 // 1000)  # tip + tab·chip
    assert ins - bal(p, p.insurance) == incentive
    assert bal(p, p.liquidator_account[0]) == incentive
    assert tx(p, Kind.TOPUP, 0, a=usd(1_000.0), block=3, t=10_000_000) == FAILED  # seized
    assert tx(p, Kind.CLOSE, 0, block=3, t=10_000_000) == FAILED
    assert p.ledger.check() == 0


def test_dutch_take_pays_the_discount_when_the_price_has_fallen():
    p = dutch()
    p.fund_liquidators(0, [100_000.0, 100_000.0])
    start = 10_000_000
    tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=start)  # top = 1915 × 1.2 = 2298
    bid = usd(1915.0 * 0.995)  # 1905.425
    early = start + 10_000_000  # linear over 100 s: 2298 · 0.9 = 2068.2 > bid
    assert tx(p, Kind.LIQUIDATE, 1, a=bid, b=0, block=4, t=early) == FAILED
    late = start + 17_500_000  # 2298 · 0.825 = 1895.85 <= bid
    lot = abs(int(p.size[0]))
    before = bal(p, p.liquidator_account[1])
    assert tx(p, Kind.LIQUIDATE, 1, a=bid, b=0, block=5, t=late) == OK
    price = 2_298_000_000 * 82_500 // 100_000
    # the keeper pays the auction price and sells at the oracle (no venue impact here)
    expected = lot * usd(1915.0) // 1_000_000 - lot * price // 1_000_000  # about 191.5 USD
    assert bal(p, p.liquidator_account[1]) - before == expected
    assert p.size[0] == 0 and not p.liquidation.locks(0)
    assert p.ledger.check() == 0


def test_dutch_auction_resets_after_tail():
    p = dutch(tail="30s", curve="stairstep", cut=0.99, step="10s")
    tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=1_000_000)
    auction = p.liquidation.auctions[0]
    assert tx(p, Kind.LIQUIDATE, 1, a=1, b=0, block=4, t=31_000_000) == FAILED  # not yet
    paid = bal(p, p.liquidator_account[1])
    assert tx(p, Kind.LIQUIDATE, 1, a=1, b=0, block=5, t=31_000_001) == OK  # redo
    assert auction.start_us == 31_000_001 and bal(p, p.liquidator_account[1]) > paid


def test_dutch_auctions_cut_what_the_operator_takes():
    """Under the extractive sequencer, Dutch auctions leave the operator far less of the
    liquidation value than a fixed bonus does (paired seeds)."""
    def scenario(mode):
        data = load_scenario("tiny").scenario.model_dump(mode="python")
        # a 2 % bonus and a 0.5 % fee: together below the 3 % maintenance margin
        data["protocol"]["perps"].update(liquidation=mode, liquidation_bonus=0.02,
                                         liquidation_fee=0.005, initial_margin=0.05,
                                         maintenance_margin=0.03)
        return parse_scenario(data, f"tiny-{mode}")

    fixed = compare(scenario("fixed"), ["honest", "extractive"], seeds=3).summary
    auction = compare(scenario("dutch"), ["honest", "extractive"], seeds=3).summary
    take = lambda s: s["designs"]["extractive"]["operator_profit_by_strategy"]["backrun"]
    assert take(fixed) > 0
    assert take(auction) < 0.5 * take(fixed)
    for s in (fixed, auction):
        assert s["designs"]["honest"]["operator_profit_usd"] == 0


def test_dutch_reward_is_what_the_kick_pays():
    p = dutch()
    expected = p.liquidation.reward(0, 3)
    assert expected > 0
    tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=10_000_000)  # kick
    assert bal(p, p.liquidator_account[0]) == expected
    assert p.liquidation.reward(0, 3) == 0  # already under auction


def test_reward_is_zero_for_a_healthy_account():
    p = make(margin=1_100.0, wallet=5_000.0)
    oracle(p, 2000.0, block=1)
    tx(p, Kind.TRADE, 0, a=usd(5_000.0), block=1)
    assert p.liquidation.reward(0, 2) == 0


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(["fixed", "partial", "fillable", "keeper_fee"]),
       st.lists(st.tuples(st.floats(50.0, 5_000.0), st.floats(-60_000.0, 60_000.0)),
                min_size=1, max_size=10),
       st.floats(800.0, 2_600.0))
def test_rewards_of_many_accounts_are_each_accounts_plan(mechanism, accounts, crash):
    """The bots' batch estimate (up to ``FEW_REWARDS`` accounts one by one, beyond that
    accounts under water answered without a plan) equals,
    account by account, the plan's reward the liquidation would pay: zero where the
    account has nothing above zero, whatever the mechanism would want."""
    extra = {"keeper_fee": dict(keeper_fee_ratio=0.0035, min_keeper_fee_usd=1.0,
                                max_keeper_fee_usd=1_000.0),
             "partial": dict(partial_cap=0.1)}.get(mechanism, {})
    p = make(accounts=len(accounts), margin=10_000.0, liquidation=mechanism, **extra)
    oracle(p, 2000.0, block=1)
    for i, (margin_usd, trade_usd) in enumerate(accounts):
        tx(p, Kind.WITHDRAW, i, a=usd(10_000.0 - margin_usd), block=1)
        tx(p, Kind.TRADE, i, a=usd(trade_usd), block=1)
    oracle(p, crash, block=2)
    who = np.arange(len(accounts), dtype=np.int64)
    planned = [p.liquidation.plan(i, -1)[1] if p.is_liquidatable(i) else 0
               for i in range(len(accounts))]
    assert p.liquidation.rewards(who, -1).tolist() == planned
    assert p.underwater(who).tolist() == [p.equity(i) <= 0 for i in range(len(accounts))]


def test_an_account_under_water_pays_no_keeper_however_large_its_position():
    """Synthetix-style keeper fees have a floor, but the plan pays it only from equity
    above zero: an account under water is worth nothing to a bot."""
    p = long_at_risk(liquidation="keeper_fee", keeper_fee_ratio=0.0035,
                     min_keeper_fee_usd=1.0, max_keeper_fee_usd=1_000.0)
    oracle(p, 1_000.0, block=3)
    assert p.equity(0) < 0 and p.is_liquidatable(0)
    assert p.liquidation.wants(0, int(p.size[0]))[0] > 0
    assert p.liquidation.rewards(np.array([0]), -1).tolist() == [0]
    assert p.liquidation.plan(0, -1)[1] == 0
