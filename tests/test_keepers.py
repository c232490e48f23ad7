"""Dutch-auction keepers: takes paid with the keeper's capital, the discount borne by the
account (then the insurance fund, then bad debt), gas and congestion, healthy accounts
released, and the Black Thursday replay in both directions."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.agents.keepers import Keepers
from seqlab.ledger import EXTERNAL
from seqlab.protocols.keeper_venue import KeeperVenue
from seqlab.rollup.gas import GasMarket
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import BatchPoster, Dutch, Liquidator
from seqlab.txs import Kind
from seqlab.world import World
from tests.test_perps import FAILED, OK, assert_sound, bal, make, oracle, tx, usd

PPM = 1_000_000
TAU = 100_000_000  # linear curve from the oracle price to 0 over 100 s: discount = t / tau
KICK_T = 10_000_000


def at_risk(side: int = 1, insurance: float = 1_000_000.0, capital: float = 100_000.0,
            drop: float = 0.0425):
    """Account 0: 10 ETH (long if ``side`` > 0) at 2,000 on 1,100 USD margin, then the price
    moves ``drop`` against it and keeper 0 kicks its auction (linear, buf 1: the auction
    price is oracle × (1 − t/100 s))."""
    p = make(margin=1_100.0, wallet=5_000.0, insurance_fund_usd=insurance,
             liquidation="dutch", dutch={"curve": "linear", "buf": 1.0, "tau": "100s",
                                         "tail": "1h", "cusp": 0.0})
    p.fund_liquidators(0, [capital, capital])
    oracle(p, 2000.0, block=1)
    assert tx(p, Kind.TRADE, 0, a=side * usd(20_000.0), block=1) == OK
    oracle(p, 2000.0 * (1 - side * drop), block=2)
    assert p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=3, t=KICK_T) == OK
    return p


def take(p, after_us: int, bid: int = 0, keeper: int = 1) -> int:
    return tx(p, Kind.LIQUIDATE, keeper, a=bid, b=0, block=4, t=KICK_T + after_us)


def test_keeper_pays_the_auction_price_and_the_account_bears_the_discount():
    p = at_risk()
    keeper, pool = p.liquidator_account[1], p.pool
    k0, pool0 = bal(p, keeper), bal(p, pool)
    assert take(p, TAU // 100) == OK  # 1 % below the oracle (1,915)
    px = 1_915 * PPM * 99 // 100
    paid, value = 10 * px, 10 * 1_915 * PPM
    assert bal(p, keeper) - k0 == value - paid == usd(191.5)
    # the account's 10 ETH closed at the auction price: 20,000 − 18,958.5 lost from margin
    assert bal(p, p.margin[0]) == usd(1_090.0) - (usd(20_000.0) - paid)
    assert p.log.bad_debt == 0 and p.liquidation.takes[0].bad_debt == 0
    # the pool ends as if the position had closed at the oracle price: it is neutral
    assert bal(p, pool) - pool0 == usd(20_000.0) - value
    assert p.size[0] == 0 and not p.liquidation.locks(0)
    assert_sound(p)


def test_bad_debt_only_when_the_proceeds_fall_short():
    p = at_risk(insurance=0.0)
    # with no insurance fund the kicker's incentive was paid unbacked (Maker's suck)
    kick = p.log.bad_debt
    assert kick == bal(p, p.liquidator_account[0]) - usd(100_000.0) > 0
    assert take(p, 30 * TAU // 100) == OK  # 30 % below the oracle
    px = 1_915 * PPM * 70 // 100
    shortfall = usd(20_000.0) - 10 * px - usd(1_090.0)  # the loss beyond the margin
    assert shortfall > 0
    assert p.log.bad_debt - kick == shortfall == p.liquidation.takes[0].bad_debt
    assert bal(p, p.margin[0]) == 0
    assert_sound(p)


def test_the_insurance_fund_pays_before_bad_debt():
    p = at_risk(insurance=10_000.0)
    ins = bal(p, p.insurance)
    assert take(p, 30 * TAU // 100) == OK
    assert p.log.bad_debt == 0
    assert ins - bal(p, p.insurance) == usd(20_000.0) - 10 * (1_915 * PPM * 70 // 100) \
        - usd(1_090.0)


def test_a_keeper_takes_no_more_than_its_capital_pays_for():
    p = at_risk(capital=5_000.0)
    assert take(p, TAU // 10) == OK
    price = 1_915 * PPM * 9 // 10
    taken = usd(5_000.0) * PPM // price
    assert int(p.size[0]) == 10 * PPM - taken and p.liquidation.locks(0)
    assert p.liquidation.takes[0].units == taken
    assert bal(p, p.liquidator_account[1]) >= 0
    assert_sound(p)


def test_a_short_lot_is_taken_over_at_the_mirror_price():
    p = at_risk(side=-1)
    k0 = bal(p, p.liquidator_account[1])
    assert take(p, 2 * TAU // 100) == OK  # the account buys back 2 % above the oracle
    oracle_px = 2_085 * PPM
    price = oracle_px * 98 // 100
    assert bal(p, p.liquidator_account[1]) - k0 == 10 * (2 * oracle_px - price) \
        - 10 * oracle_px
    assert p.size[0] == 0
    assert_sound(p)


def test_venue_impact_is_the_keepers_loss():
    p = at_risk()
    p.liquidation.venue = KeeperVenue(1_000_000.0, 10_000_000)  # a thin pool
    k0, out0 = bal(p, p.liquidator_account[1]), bal(p, EXTERNAL)
    assert take(p, TAU // 10) == OK
    loss = bal(p, EXTERNAL) - out0
    assert loss > 0
    assert bal(p, p.liquidator_account[1]) - k0 == usd(1_915.0) - loss  # 10 % of 19,150
    assert p.ledger.check() == 0  # the impact left for the venue's other side


def test_gas_is_paid_even_when_the_take_fails():
    p = at_risk()
    p.liquidation.gas = lambda j, t: usd(5.0)
    k0 = bal(p, p.liquidator_account[1])
    assert take(p, TAU // 100, bid=usd(1_000.0)) == FAILED  # the price is above its bid
    assert k0 - bal(p, p.liquidator_account[1]) == usd(5.0)
    assert p.ledger.totals_by_reason()["keeper_gas"] == usd(5.0)


def test_an_account_healthy_again_has_its_auction_ended_and_its_lock_released():
    p = at_risk()
    assert p.liquidation.locks(0)
    assert tx(p, Kind.TOPUP, 0, a=usd(100.0), block=4, t=KICK_T + 1) == FAILED
    oracle(p, 2_000.0, block=5)  # the price recovers: equity back above maintenance
    assert not p.liquidation.locks(0) and p.liquidation.ended == 1
    assert tx(p, Kind.TOPUP, 0, a=usd(100.0), block=6, t=KICK_T + 2) == OK
    assert take(p, TAU // 10) == FAILED  # nothing left to take
    assert_sound(p)


@settings(max_examples=60, deadline=None)
@given(side=st.sampled_from([1, -1]), drop=st.floats(0.03, 0.3),
       after=st.integers(0, TAU - 1), capital=st.floats(100.0, 50_000.0),
       insurance=st.sampled_from([0.0, 2_000.0, 1_000_000.0]))
def test_takes_keep_the_ledger_exact_and_the_pool_whole(side, drop, after, capital,
                                                         insurance):
    p = at_risk(side=side, insurance=insurance, capital=capital, drop=drop)
    keeper = p.liquidator_account[1]
    size, basis, px_oracle = int(p.size[0]), int(p.basis[0]), p.price
    k0, pool0, debt0 = bal(p, keeper), bal(p, p.pool), p.log.bad_debt  # debt0: the kick's
    if take(p, after) != OK:
        assert bal(p, keeper) == k0
        return
    t = p.liquidation.takes[-1]
    closed_basis = basis if t.units == size else basis * t.units // size
    # the pool is left as if the units had closed at the oracle, less the bad debt
    assert bal(p, p.pool) - pool0 == closed_basis - t.units * px_oracle // PPM - t.bad_debt
    assert abs(t.units) * t.price // PPM <= k0  # it paid no more than it had
    px = t.price if t.units > 0 else 2 * px_oracle - t.price  # the account's price
    paid, value = abs(t.units * px // PPM), abs(t.units * px_oracle // PPM)
    assert bal(p, keeper) - k0 == (value - paid if t.units > 0 else paid - value) >= 0
    assert t.bad_debt == p.log.bad_debt - debt0
    assert_sound(p)


def keepers_for(capitals, offer=None, gas_gwei=100.0, keeper_gas=100_000):
    cfgs = [Liquidator(name=f"k{j}", gas_price_gwei=offer) for j in range(len(capitals))]
    gas = GasMarket(BatchPoster(gas_price_gwei=gas_gwei))
    return Keepers(cfgs, Dutch(congestion=True, keeper_gas=keeper_gas), gas,
                   np.random.default_rng(0), 12_000_000, 3_600_000_000)


def test_a_poor_keeper_is_priced_out_by_gas():
    oracle_px = 2_000 * PPM
    keepers = keepers_for([0, 0])
    assert keepers.gas_cost(0, 0, oracle_px) == usd(20.0)  # 100k gas × 100 gwei × 2,000
    prices = np.array([oracle_px * 9 // 10])  # a 10 % discount on a 10 ETH lot
    capital = np.array([usd(100.0), usd(100_000.0)])
    bids, delays = keepers.plan(0, prices, np.array([10 * PPM]), oracle_px, capital,
                                KeeperVenue(0.0, 1))
    assert bids[0, 0] == 0  # 100 USD of lot earns 10 USD: less than the gas
    assert bids[1, 0] >= prices[0] and delays[1, 0] == 0
    # its highest price still pays for the gas: 10 ETH × (oracle − bid) ≥ 20 USD
    assert 10 * (oracle_px - bids[1, 0]) >= usd(20.0)


def test_a_fixed_gas_offer_waits_longer_as_the_days_prices_climb():
    gas = GasMarket(BatchPoster(gas_series="gas-2020-03-12"), start_us=0)
    hour = 3_600_000_000
    assert gas.inclusion(8 * hour, 15.0) > gas.inclusion(13 * hour, 15.0) > 0
    assert gas.inclusion(13 * hour, 15.0) < gas.inclusion(13 * hour, 60.0) < 1.0
    assert gas.inclusion(13 * hour, None) == 1.0
    rng = np.random.default_rng(1)
    morning = np.mean([gas.wait_us(8 * hour, 15.0, rng, 12_000_000, 24 * hour)
                       for _ in range(200)])
    noon = np.mean([gas.wait_us(13 * hour, 15.0, rng, 12_000_000, 24 * hour)
                    for _ in range(200)])
    assert noon > 2 * morning


def black_thursday(**changes):
    loaded = load_scenario("black-thursday-dutch")
    data = loaded.scenario.model_dump(mode="python")
    for key, value in changes.items():
        section = data
        *path, leaf = key.split(".")
        for part in path:
            section = section[part]
        section[leaf] = value
    return World(parse_scenario(data, loaded.source, loaded.base_dir)).run().summary


def test_black_thursday_with_congestion_clears_at_deep_discounts_with_bad_debt():
    """The shipped 2020-03-12 replay (prices and gas): keepers whose gas offers were set
    overnight are priced out as gas climbs; auctions clear deep and the protocol books
    bad debt."""
    auction = black_thursday()["auction"]
    assert auction["takes"] > 100
    assert auction["max_discount"] >= 0.30
    assert auction["bad_debt_usd"] > 0


def test_black_thursday_without_congestion_clears_near_the_oracle():
    """The same day without congestion (10:00-12:00, the crash): keepers take as soon as
    their discount is reached and nobody books bad debt."""
    summary = black_thursday(**{"protocol.perps.dutch.congestion": False,
                                "market.start": "10h", "duration": "2h",
                                "agents.traders.accounts": 1000})
    auction = summary["auction"]
    assert auction["takes"] > 20
    assert auction["median_discount"] <= 0.02
    assert auction["max_discount"] < 0.05
    assert auction["bad_debt_usd"] == 0 == summary["bad_debt_usd"]


def test_an_operator_holding_competing_takes_lets_the_price_fall_and_takes_itself():
    """``hold_takes``: the censoring operator holds outside keepers' takes (never longer
    than ``max_censor_delay``) and buys the lots itself, deeper than they would have."""
    def run(hold: bool) -> dict:
        data = load_scenario("tiny").scenario.model_dump(mode="python")
        data["duration"] = "30min"
        data["protocol"]["perps"]["liquidation"] = "dutch"
        data["sequencer"]["design"] = "extractive-censor"
        data["sequencer"]["strategy"]["hold_takes"] = hold
        return World(parse_scenario(data, "tiny-dutch")).run().summary

    plain, held = run(False), run(True)
    assert held["held_txs"] > plain["held_txs"]
    assert held["max_censorship_delay_ms"] <= 10 * 60 * 1000 + 250  # the bound, one block
    assert held["auction"]["median_discount"] > plain["auction"]["median_discount"]
    assert held["auction"]["max_discount"] > 0.2 > plain["auction"]["max_discount"]
    censor = lambda s: s["operator_profit_by_strategy"]["censor"]
    assert censor(held) > censor(plain) + 100_000
