"""The perpetuals protocol: exact integer accounting of trades, PnL, margin, liquidation,
insurance, bad debt and funding, with the ledger's conservation proof after every scenario.

Units: size micro-ETH, price micro-USD per ETH, money micro-USD.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from seqlab.ledger import EXTERNAL, Ledger
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario.schema import Perps
from seqlab.txs import Kind, Status, TxStore

PPM = 1_000_000
OK, FAILED = int(Status.OK), int(Status.FAILED)


def usd(x: float) -> int:
    """USD to micro-USD, exactly (for values with at most 6 decimals)."""
    return int(round(x * PPM))


def eth(x: float) -> int:
    return int(round(x * PPM))


def make(accounts: int = 2, margin: float = 10_000.0, wallet: float = 1_000.0,
         **cfg) -> PerpsProtocol:
    # explicit values, so the tests do not depend on the schema's defaults
    cfg = {**dict(taker_fee_bps=5.0, initial_margin=0.05, maintenance_margin=0.03,
                  liquidation="fixed", liquidation_bonus=0.02, liquidation_fee=0.0,
                  close_factor=0.5, full_close_health=0.0, funding_interval="1h",
                  funding_rate_cap=0.0005, insurance_fund_usd=1_000_000.0,
                  pool_usd=100_000_000.0), **cfg}
    ledger, txs = Ledger(), TxStore()
    p = PerpsProtocol(Perps(**cfg), ledger, txs, accounts=accounts, liquidators=["a", "b"])
    p.fund_accounts(np.full(accounts, float(margin)), np.full(accounts, float(wallet)))
    return p


def tx(p: PerpsProtocol, kind: Kind, sender: int, a: int = 0, b: int = 0,
       block: int = 1, t: int = 1_000) -> int:
    """Execute one transaction in its own block, and close the block as the rollup does
    (gas per liquidation attempt); returns its status."""
    ids = p.txs.add_many(kind, sender, submit_us=np.array([t]), arrival_us=np.array([t]),
                         a=a, b=b)
    status = int(p.execute(ids, block=np.array([block]), t_us=np.array([t]))[0])
    p.end_block(ids)
    return status


def oracle(p: PerpsProtocol, price_usd: float, block: int = 1) -> None:
    assert tx(p, Kind.ORACLE, 0, a=usd(price_usd), block=block) == OK


def bal(p: PerpsProtocol, account) -> int:
    return p.ledger.balance_of(int(account))


def margin(p: PerpsProtocol, i: int) -> int:
    return bal(p, p.margin[i])


def wallet(p: PerpsProtocol, i: int) -> int:
    return bal(p, p.wallet[i])


def deposits(p: PerpsProtocol) -> int:
    return -bal(p, EXTERNAL)


def assert_sound(p: PerpsProtocol) -> None:
    """Conservation and the per-account invariants that must hold after any sequence."""
    led = p.ledger
    assert led.check() == 0
    n = len(led.names)
    inside = led.balances[1:n]
    assert (inside >= 0).all(), dict(zip(led.names[1:], inside.tolist()))
    assert int(inside.sum()) == deposits(p)
    src, _, amt, _ = led.journal()
    assert int(amt[src == EXTERNAL].sum()) == deposits(p)
    assert np.array_equal(p.size == 0, p.basis == 0)
    # a long has a positive cost basis, a short a negative one
    assert np.array_equal(np.sign(p.size), np.sign(p.basis))


# trading -------------------------------------------------------------------------------
def test_trade_before_any_oracle_price_fails_and_moves_nothing():
    p = make()
    before = p.ledger.balances.copy()
    assert tx(p, Kind.TRADE, 0, a=usd(2_000)) == FAILED
    assert tx(p, Kind.CLOSE, 0) == FAILED
    assert tx(p, Kind.REDUCE, 0, a=5_000) == FAILED
    assert p.size[0] == 0 and p.basis[0] == 0
    assert np.array_equal(p.ledger.balances, before)
    assert_sound(p)


def test_trade_opens_notional_over_price_and_charges_exact_fee():
    p = make(taker_fee_bps=5.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(3_000)) == OK
    assert p.size[0] == eth(1.5)
    assert p.basis[0] == usd(3_000)
    fee = usd(3_000) * 5 // 10_000  # 1.50 USD
    assert fee == usd(1.5)
    assert bal(p, p.fees) == fee
    assert margin(p, 0) == usd(10_000) - fee
    # a short: negative size and basis, the fee on the absolute notional
    assert tx(p, Kind.TRADE, 1, a=-usd(1_000)) == OK
    assert p.size[1] == -eth(0.5)
    assert p.basis[1] == -usd(1_000)
    assert margin(p, 1) == usd(10_000) - usd(0.5)
    assert bal(p, p.fees) == usd(1.5) + usd(0.5)
    # zero notional, or one smaller than a micro-unit of size, is not a trade
    assert tx(p, Kind.TRADE, 0, a=0) == FAILED
    assert tx(p, Kind.TRADE, 0, a=1_000) == FAILED  # 0.001 USD < 1 micro-ETH at $2000
    assert_sound(p)


def test_fee_rate_in_basis_points_is_exact_for_other_rates():
    p = make(taker_fee_bps=12.5)
    oracle(p, 2_500)
    assert tx(p, Kind.TRADE, 0, a=usd(10_000)) == OK
    assert p.size[0] == eth(4)
    assert bal(p, p.fees) == usd(12.5)  # 10_000 × 0.00125
    assert_sound(p)


@pytest.mark.parametrize("side", [1, -1])
def test_pnl_on_close_is_exact_and_paid_by_the_pool(side):
    p = make(taker_fee_bps=5.0)
    pool0 = bal(p, p.pool)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=side * usd(2_000)) == OK
    assert p.size[0] == side * eth(1)
    oracle(p, 2_000 + side * 200, block=2)  # the position gains 200 either way
    assert tx(p, Kind.CLOSE, 0, block=2) == OK
    assert p.size[0] == 0 and p.basis[0] == 0
    fees = usd(1.0) + usd(2_000 + side * 200) * 5 // 10_000
    assert margin(p, 0) == usd(10_000) + usd(200) - fees
    assert bal(p, p.pool) == pool0 - usd(200)
    assert bal(p, p.fees) == fees
    assert p.ledger.totals_by_reason()["pnl"] == usd(200)
    assert tx(p, Kind.CLOSE, 0, block=2) == FAILED  # nothing left to close
    assert_sound(p)


def test_loss_on_close_goes_to_the_pool():
    p = make(taker_fee_bps=0.0)
    pool0 = bal(p, p.pool)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(4_000)) == OK  # 2 ETH
    oracle(p, 1_900, block=2)
    assert tx(p, Kind.CLOSE, 0, block=2) == OK
    assert margin(p, 0) == usd(10_000) - usd(200)
    assert bal(p, p.pool) == pool0 + usd(200)
    assert_sound(p)


def test_initial_margin_limits_leverage_exactly_without_fee():
    # margin 1000, initial margin 5 %: at most 20 000 notional
    p = make(margin=1_000, taker_fee_bps=0.0, initial_margin=0.05, maintenance_margin=0.03)
    oracle(p, 2_000)
    # one micro-ETH (0.002 USD) beyond 20× fails, exactly 20× succeeds
    assert tx(p, Kind.TRADE, 0, a=usd(20_000) + 2_000) == FAILED
    assert p.size[0] == 0 and margin(p, 0) == usd(1_000)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000)) == OK
    assert p.size[0] == eth(10)
    # at the limit, any further risk-increasing trade fails...
    assert tx(p, Kind.TRADE, 0, a=usd(2_000)) == FAILED
    # ...but a risk-reducing one does not need initial margin
    oracle(p, 1_990, block=2)
    assert tx(p, Kind.TRADE, 0, a=-usd(1_990), block=2) == OK
    assert p.size[0] == eth(9)
    assert_sound(p)


def test_initial_margin_counts_the_fee():
    p = make(margin=1_000, taker_fee_bps=5.0)
    oracle(p, 2_000)
    # 20 000 notional: the 10 USD fee leaves equity 990 < 1000 required
    assert tx(p, Kind.TRADE, 0, a=usd(20_000)) == FAILED
    assert tx(p, Kind.TRADE, 0, a=usd(19_800)) == OK  # equity 990.1 >= 990 required
    assert p.size[0] == eth(9.9)
    assert margin(p, 0) == usd(1_000) - usd(9.9)
    assert_sound(p)


def test_reduce_half_halves_size_and_realizes_half_the_pnl():
    p = make(taker_fee_bps=5.0)
    pool0 = bal(p, p.pool)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(4_000)) == OK  # 2 ETH, fee 2
    oracle(p, 2_100, block=2)
    assert tx(p, Kind.REDUCE, 0, a=5_000, block=2) == OK
    assert p.size[0] == eth(1)
    assert p.basis[0] == usd(2_000)
    assert margin(p, 0) == usd(10_000) - usd(2) + usd(100) - usd(1.05)
    assert bal(p, p.pool) == pool0 - usd(100)
    # the rest of the PnL is still unrealized and is realized on close
    assert tx(p, Kind.CLOSE, 0, block=2) == OK
    assert margin(p, 0) == usd(10_000) - usd(2) + usd(200) - usd(2.10)
    assert bal(p, p.pool) == pool0 - usd(200)
    assert_sound(p)


def test_reduce_short_half():
    p = make(taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=-usd(6_000)) == OK  # -3 ETH
    oracle(p, 1_800, block=2)
    assert tx(p, Kind.REDUCE, 0, a=5_000, block=2) == OK
    assert p.size[0] == -eth(1.5)
    assert p.basis[0] == -usd(3_000)
    assert margin(p, 0) == usd(10_000) + usd(300)
    assert_sound(p)


@pytest.mark.parametrize("bps", [0, -5_000, -10_000, 10_001, 20_000])
def test_reduce_outside_zero_to_hundred_percent_fails(bps):
    """REDUCE is a fraction of the position in (0, 100 %]: anything else must not trade,
    in particular never grow or flip the position around the initial-margin check."""
    p = make(margin=1_000, taker_fee_bps=5.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK  # 9 ETH, near 20× leverage
    size, basis, before = int(p.size[0]), int(p.basis[0]), p.ledger.balances.copy()
    assert tx(p, Kind.REDUCE, 0, a=bps) == FAILED
    assert (int(p.size[0]), int(p.basis[0])) == (size, basis)
    assert np.array_equal(p.ledger.balances, before)
    assert_sound(p)


def test_reduce_full_closes():
    p = make(taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(3_000)) == OK
    oracle(p, 2_200, block=2)
    assert tx(p, Kind.REDUCE, 0, a=10_000, block=2) == OK
    assert p.size[0] == 0 and p.basis[0] == 0
    assert margin(p, 0) == usd(10_000) + usd(300)
    assert_sound(p)


def test_flip_closes_long_with_pnl_and_opens_short():
    p = make(taker_fee_bps=5.0)
    pool0 = bal(p, p.pool)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(2_000)) == OK  # long 1 ETH, fee 1
    oracle(p, 2_200, block=2)
    assert tx(p, Kind.TRADE, 0, a=-usd(4_400), block=2) == OK  # sell 2 ETH
    assert p.size[0] == -eth(1)
    assert p.basis[0] == -usd(2_200)  # the short opens at the current price
    assert margin(p, 0) == usd(10_000) - usd(1) + usd(200) - usd(2.2)
    assert bal(p, p.pool) == pool0 - usd(200)
    # and the new short then gains when the price falls
    oracle(p, 2_100, block=3)
    assert tx(p, Kind.CLOSE, 0, block=3) == OK
    assert margin(p, 0) == usd(10_000) - usd(1) + usd(200) - usd(2.2) + usd(100) - usd(1.05)
    assert_sound(p)


def test_partial_opposite_trade_only_reduces():
    p = make(taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(6_000)) == OK  # 3 ETH
    oracle(p, 2_500, block=2)
    assert tx(p, Kind.TRADE, 0, a=-usd(2_500), block=2) == OK  # sell 1 ETH
    assert p.size[0] == eth(2)
    assert p.basis[0] == usd(4_000)
    assert margin(p, 0) == usd(10_000) + usd(500)
    assert_sound(p)


def test_flip_into_an_oversized_short_fails_atomically():
    p = make(margin=1_000, taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(10_000)) == OK  # 5 ETH
    size, basis, before = int(p.size[0]), int(p.basis[0]), p.ledger.balances.copy()
    # selling 30 ETH would leave a 25 ETH short on 1000 of margin
    assert tx(p, Kind.TRADE, 0, a=-usd(60_000)) == FAILED
    assert (int(p.size[0]), int(p.basis[0])) == (size, basis)
    assert np.array_equal(p.ledger.balances, before)
    assert_sound(p)


# liquidation -----------------------------------------------------------------------------
def _levered_long(**cfg) -> PerpsProtocol:
    """Account 0: 1000 margin, long 9 ETH at 2000 (fee 9, margin left 991)."""
    p = make(margin=1_000, taker_fee_bps=5.0, initial_margin=0.05, maintenance_margin=0.03,
             **cfg)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    assert margin(p, 0) == usd(991)
    return p


def test_liquidation_needs_equity_below_maintenance():
    p = _levered_long()
    assert not p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0) == FAILED
    assert tx(p, Kind.LIQUIDATE, 1, b=1) == FAILED  # no position at all
    # at 1950: equity 991 - 450 = 541 >= 3 % of 17 550 = 526.5
    oracle(p, 1_950, block=2)
    assert not p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == FAILED
    assert p.log.liquidations == []
    assert_sound(p)


def test_partial_liquidation_closes_close_factor_and_pays_bonus():
    p = _levered_long(liquidation_bonus=0.02, close_factor=0.5)
    pool0 = bal(p, p.pool)
    # at 1940: equity 991 - 540 = 451 < 3 % of 17 460 = 523.8
    oracle(p, 1_940, block=5)
    assert p.is_liquidatable(0)
    assert p.liquidatable().tolist() == [0]
    assert tx(p, Kind.LIQUIDATE, 1, b=0, block=7, t=2_000) == OK
    assert p.size[0] == eth(4.5)
    assert p.basis[0] == usd(9_000)
    closed_notional = usd(4.5 * 1_940)  # 8730
    bonus = closed_notional * 2 // 100  # 174.6
    assert bonus == usd(174.6)
    assert bal(p, p.liquidator_account[1]) == bonus
    assert bal(p, p.liquidator_account[0]) == 0
    assert margin(p, 0) == usd(991) - usd(270) - bonus
    assert bal(p, p.pool) == pool0 + usd(270)
    # 2 blocks and 1,000 µs after the update (block 5, t 1,000) that made it liquidatable
    assert p.log.liquidations == [(2_000, 7, 0, 1, closed_notional, bonus, 2, 1_000)]
    assert p.log.bad_debt == 0
    assert_sound(p)


def test_liquidation_bonus_is_capped_by_the_equity_left():
    p = _levered_long(liquidation_bonus=0.02, close_factor=0.5)
    oracle(p, 1_895, block=2)  # equity 991 - 945 = 46
    assert p.equity(0) == usd(46)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    # 2 % of 8527.5 = 170.55 > 46: the bonus takes the equity, not the margin that must
    # still cover the open half's 472.5 loss
    assert bal(p, p.liquidator_account[0]) == usd(46)
    assert margin(p, 0) == usd(472.5) and p.equity(0) == 0
    assert p.size[0] == eth(4.5)
    assert p.log.liquidations[0][5] == usd(46)
    assert tx(p, Kind.CLOSE, 0, block=3) == OK  # the rest closes without bad debt
    assert p.log.bad_debt == 0 and bal(p, p.insurance) == usd(1_000_000)
    assert_sound(p)


def test_small_remainder_is_liquidated_whole():
    # 0.09 ETH long: half of it would leave under $100 of notional, so all of it closes
    p = make(margin=10, taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(180)) == OK
    oracle(p, 1_940, block=2)
    assert p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    assert p.size[0] == 0 and p.basis[0] == 0
    assert p.log.liquidations[0][4] == usd(0.09 * 1_940)
    assert_sound(p)


def test_underwater_liquidation_closes_all_and_insurance_covers_shortfall():
    p = _levered_long(insurance_fund_usd=1_000_000)
    pool0, ins0 = bal(p, p.pool), bal(p, p.insurance)
    # at 1800: equity 991 - 1800 = -809
    oracle(p, 1_800, block=2)
    assert p.equity(0) == -usd(809)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    assert p.size[0] == 0 and p.basis[0] == 0
    assert margin(p, 0) == 0
    assert bal(p, p.liquidator_account[0]) == 0  # nothing left for a bonus
    assert bal(p, p.insurance) == ins0 - usd(809)
    assert bal(p, p.pool) == pool0 + usd(1_800)  # the pool gets its whole 1800 gain
    assert p.log.bad_debt == 0
    assert p.log.liquidations[0][4] == usd(9 * 1_800)
    assert p.log.liquidations[0][5] == 0
    assert_sound(p)


def test_underwater_liquidation_beyond_insurance_is_bad_debt():
    p = _levered_long(insurance_fund_usd=500)
    pool0 = bal(p, p.pool)
    oracle(p, 1_800, block=2)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    assert bal(p, p.insurance) == 0
    assert p.log.bad_debt == usd(309)
    assert bal(p, p.pool) == pool0 + usd(991) + usd(500)
    assert p.ledger.totals_by_reason()["insurance"] == usd(500)
    assert_sound(p)


def test_short_liquidation_on_price_rise():
    p = make(margin=1_000, taker_fee_bps=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=-usd(18_000)) == OK  # -9 ETH
    oracle(p, 2_060, block=2)  # equity 1000 - 540 = 460 < 3 % of 18 540
    assert p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    assert p.size[0] == -eth(4.5)
    assert bal(p, p.liquidator_account[0]) == usd(4.5 * 2_060) * 2 // 100
    assert_sound(p)


# margin movements ------------------------------------------------------------------------
def test_withdraw_keeps_initial_margin():
    p = _levered_long()  # equity 991, initial margin on 18 000 is 900
    assert tx(p, Kind.WITHDRAW, 0, a=usd(91) + 1) == FAILED
    assert margin(p, 0) == usd(991) and wallet(p, 0) == usd(1_000)
    assert tx(p, Kind.WITHDRAW, 0, a=usd(91)) == OK  # exactly down to initial margin
    assert margin(p, 0) == usd(900)
    assert wallet(p, 0) == usd(1_091)
    assert tx(p, Kind.WITHDRAW, 0, a=1) == FAILED
    assert tx(p, Kind.WITHDRAW, 0, a=0) == FAILED
    assert tx(p, Kind.WITHDRAW, 0, a=-5) == FAILED
    assert_sound(p)


def test_withdraw_without_position_is_capped_by_margin():
    p = make(margin=500, wallet=0)
    assert tx(p, Kind.WITHDRAW, 1, a=usd(200)) == OK
    assert margin(p, 1) == usd(300) and wallet(p, 1) == usd(200)
    assert tx(p, Kind.WITHDRAW, 1, a=usd(10_000)) == OK
    assert margin(p, 1) == 0 and wallet(p, 1) == usd(500)
    assert tx(p, Kind.WITHDRAW, 1, a=usd(1)) == FAILED
    assert_sound(p)


def test_topup_moves_wallet_to_margin_capped_by_wallet():
    p = make(margin=100, wallet=1_000)
    assert tx(p, Kind.TOPUP, 0, a=usd(300)) == OK
    assert margin(p, 0) == usd(400) and wallet(p, 0) == usd(700)
    assert tx(p, Kind.TOPUP, 0, a=usd(5_000)) == OK
    assert margin(p, 0) == usd(1_100) and wallet(p, 0) == 0
    assert tx(p, Kind.TOPUP, 0, a=usd(1)) == FAILED
    assert tx(p, Kind.TOPUP, 1, a=0) == FAILED
    assert tx(p, Kind.TOPUP, 1, a=-usd(1)) == FAILED
    assert margin(p, 1) == usd(100) and wallet(p, 1) == usd(1_000)
    assert_sound(p)


def test_topup_rescues_from_liquidation():
    p = _levered_long()
    oracle(p, 1_940, block=2)
    assert p.is_liquidatable(0)
    assert tx(p, Kind.TOPUP, 0, a=usd(100), block=2) == OK
    assert not p.is_liquidatable(0)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == FAILED
    assert_sound(p)


# funding ----------------------------------------------------------------------------------
def test_funding_with_only_longs_charges_the_cap_to_longs():
    p = make(accounts=3, taker_fee_bps=0.0, funding_rate_cap=0.0005)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(2_000)) == OK
    assert tx(p, Kind.TRADE, 1, a=usd(8_000)) == OK
    pool0 = bal(p, p.pool)
    p.apply_funding()
    assert margin(p, 0) == usd(10_000) - usd(1)   # 0.05 % of 2000
    assert margin(p, 1) == usd(10_000) - usd(4)   # 0.05 % of 8000
    assert margin(p, 2) == usd(10_000)            # no position, no funding
    assert bal(p, p.pool) == pool0 + usd(5)
    assert p.ledger.totals_by_reason()["funding"] == usd(5)
    assert_sound(p)


def test_funding_with_only_shorts_charges_shorts():
    p = make(taker_fee_bps=0.0, funding_rate_cap=0.001)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=-usd(4_000)) == OK
    pool0 = bal(p, p.pool)
    p.apply_funding()
    assert margin(p, 0) == usd(10_000) - usd(4)
    assert bal(p, p.pool) == pool0 + usd(4)
    assert_sound(p)


def test_funding_rate_follows_skew_and_pays_the_other_side():
    p = make(taker_fee_bps=0.0, funding_rate_cap=0.001)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(6_000)) == OK   # long 6000
    assert tx(p, Kind.TRADE, 1, a=-usd(2_000)) == OK  # short 2000
    pool0 = bal(p, p.pool)
    p.apply_funding()  # rate = 0.001 × 4000 / 8000 = 0.0005
    assert margin(p, 0) == usd(10_000) - usd(3)
    assert margin(p, 1) == usd(10_000) + usd(1)
    assert bal(p, p.pool) == pool0 + usd(2)
    assert_sound(p)


def test_funding_is_capped_by_margin_and_logs_shortfall():
    p = make(margin=1_000, taker_fee_bps=0.0, funding_rate_cap=0.1, initial_margin=0.05,
             maintenance_margin=0.01, liquidation_bonus=0.005)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000)) == OK
    p.apply_funding()  # 10 % of 20 000 = 2000 due, only 1000 there
    assert margin(p, 0) == 0
    assert p.log.funding_shortfall == usd(1_000)
    assert_sound(p)


def test_funding_never_overdraws_an_empty_pool():
    # the crowded short (20× on 1000) runs out of margin; an empty pool then cannot pay
    # the long side, and must not go negative trying
    p = make(margin=1_000, taker_fee_bps=0.0, funding_rate_cap=0.1, pool_usd=0.0)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=-usd(20_000)) == OK
    assert tx(p, Kind.TOPUP, 1, a=usd(1_000)) == OK
    assert tx(p, Kind.TRADE, 1, a=usd(6_000)) == OK
    paid_to_long = []
    for _ in range(6):
        before = margin(p, 1)
        p.apply_funding()
        paid_to_long.append(margin(p, 1) - before)
        assert_sound(p)  # includes: the pool is never negative
    assert margin(p, 0) == 0
    assert paid_to_long[0] > 0
    assert paid_to_long[-1] == 0  # the pool ran dry: nothing paid rather than an overdraft
    assert bal(p, p.pool) >= 0


def test_execute_applies_funding_when_the_interval_passes():
    p = make(taker_fee_bps=0.0, funding_rate_cap=0.0005, funding_interval="1h")
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(2_000)) == OK
    hour = 3_600 * PPM
    oracle(p, 2_000, block=2)  # t < 1 h: no funding yet
    assert margin(p, 0) == usd(10_000)
    # one block more than two intervals later: a single payment, next one after 3 h
    assert tx(p, Kind.ORACLE, 0, a=usd(2_000), block=3, t=2 * hour + 5) == OK
    assert margin(p, 0) == usd(10_000) - usd(1)
    assert p.next_funding == 3 * hour
    assert tx(p, Kind.ORACLE, 0, a=usd(2_000), block=4, t=3 * hour - 1) == OK
    assert margin(p, 0) == usd(10_000) - usd(1)
    assert_sound(p)


def test_block_of_several_txs_runs_in_order():
    p = make(taker_fee_bps=0.0)
    kinds = np.array([Kind.ORACLE, Kind.TRADE, Kind.ORACLE, Kind.CLOSE, Kind.CLOSE], np.int8)
    senders = np.array([0, 0, 0, 0, 1])
    a = np.array([usd(2_000), usd(2_000), usd(2_300), 0, 0])
    t = np.arange(5, dtype=np.int64) + 10
    ids = p.txs.add_many(kinds, senders, t, t, a, 0)
    st_ = p.execute(ids, block=np.full(5, 3), t_us=t)
    assert st_.tolist() == [OK, OK, OK, OK, FAILED]
    assert margin(p, 0) == usd(10_300)
    assert p.log.oracle[-1] == (12, 3, usd(2_300), 0)
    assert_sound(p)


# property: any sequence conserves value ----------------------------------------------------
KINDS = [Kind.ORACLE, Kind.ORACLE, Kind.TRADE, Kind.TRADE, Kind.TRADE, Kind.CLOSE,
         Kind.REDUCE, Kind.TOPUP, Kind.WITHDRAW, Kind.LIQUIDATE, Kind.LIQUIDATE]

# hypothesis favours small integers: mix in values that matter to the protocol
LEVERAGE = st.one_of(
    st.sampled_from([s * x for s in (1, -1)
                     for x in (1_000, 10_000, 50_000, 100_000, 190_000, 200_000, 300_000)]),
    st.integers(-300_000, 300_000))
MOVE = st.one_of(st.sampled_from([-1_500, -800, -400, -200, -50, 50, 200, 400, 800, 1_500]),
                 st.integers(-1_500, 1_500))


@st.composite
def scenarios(draw):
    n = draw(st.integers(3, 5))
    im, mm = draw(st.sampled_from([(0.05, 0.03), (0.05, 0.03), (0.1, 0.05), (0.5, 0.2)]))
    cfg = dict(
        initial_margin=im, maintenance_margin=mm, funding_interval="1h",
        liquidation="fixed", liquidation_fee=0.0,
        full_close_health=draw(st.sampled_from([0.0, 0.95])),
        taker_fee_bps=draw(st.sampled_from([0.0, 5.0, 30.0])),
        liquidation_bonus=draw(st.sampled_from([0.0, 0.01, 0.02])),
        close_factor=draw(st.sampled_from([0.25, 0.5, 1.0])),
        funding_rate_cap=draw(st.sampled_from([0.0, 0.0005, 0.1])),
        insurance_fund_usd=draw(st.sampled_from([0.0, 1_000.0, 1_000_000.0])),
        pool_usd=draw(st.sampled_from([5_000.0, 100_000_000.0])),
    )
    money = st.builds(lambda base, jitter: base * PPM + jitter,
                      st.sampled_from([0, 100, 1_000, 5_000, 20_000]),
                      st.integers(0, 999 * PPM))
    margins = draw(st.lists(money, min_size=n, max_size=n))
    amounts = money  # topup / withdraw
    wallets = draw(st.lists(money, min_size=n, max_size=n))
    op = st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, n - 1),                       # account
        LEVERAGE,                                    # trade: leverage on margin, in 1e-4
        st.integers(500 * PPM, 5_000 * PPM),         # oracle price after a jump
        MOVE,                                        # oracle move in bps otherwise
        st.booleans(),                               # jump or move
        st.one_of(st.sampled_from([2_500, 5_000, 9_999, 10_000]), st.integers(1, 10_000)),
        amounts,
        st.integers(0, 1),                           # liquidator
        st.booleans(),                               # end the block after this tx
        st.booleans(),                               # call apply_funding after the block
    )
    first_price = draw(st.integers(500 * PPM, 5_000 * PPM))
    ops = draw(st.lists(op, min_size=10, max_size=60))
    return n, cfg, margins, wallets, first_price, ops


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_random_sequences_conserve_value(scenario):
    n, cfg, margins, wallets, first_price, ops = scenario
    ledger, txs = Ledger(), TxStore()
    p = PerpsProtocol(Perps(**cfg), ledger, txs, accounts=n, liquidators=["a", "b"])
    # whole micro-USD amounts, passed as USD floats (exact after rounding)
    p.fund_accounts(np.array(margins) / PPM, np.array(wallets) / PPM)
    assert margin(p, 0) == margins[0] and wallet(p, n - 1) == wallets[n - 1]
    total = deposits(p)
    assert total == sum(margins) + sum(wallets) + usd(cfg["pool_usd"]) + \
        usd(cfg["insurance_fund_usd"])

    block, t = 1, 0
    ok_kinds: set[int] = set()
    watermarks = {"fees": 0, "insurance": bal(p, p.insurance)}
    pending: list[tuple[int, int, int, int, int]] = []  # kind, sender, a, b, t

    def run_block(funding: bool) -> None:
        nonlocal block
        if pending:
            kinds, senders, a, b, ts = (np.array(c, dtype=np.int64) for c in zip(*pending))
            ids = txs.add_many(kinds, senders, ts, ts, a, b)
            status = p.execute(ids, block=np.full(len(ids), block), t_us=ts)
            assert set(status.tolist()) <= {OK, FAILED}
            ok_kinds.update(int(k) for k in kinds[status == OK])
            pending.clear()
            block += 1
        if funding and p.price:
            p.apply_funding()
        assert_sound(p)
        assert deposits(p) == total
        # fees only accrue, the insurance fund only pays out
        assert bal(p, p.fees) >= watermarks["fees"]
        assert bal(p, p.insurance) <= watermarks["insurance"]
        watermarks.update(fees=bal(p, p.fees), insurance=bal(p, p.insurance))
        assert min(p.log.bad_debt, p.log.pool_shortfall, p.log.funding_shortfall) >= 0
        # every bonus on a liquidator's account is a logged liquidation within the rule
        for j, account in enumerate(p.liquidator_account):
            rows = [r for r in p.log.liquidations if r[3] == j]
            assert bal(p, account) == sum(r[5] for r in rows)
            assert all(0 <= r[5] <= r[4] * p.bonus_ppm // PPM for r in rows)

    price = first_price
    pending.append((Kind.ORACLE, 0, price, 0, t))
    for kind, acct, lev, jump_to, move, jump, bps, amount, liq, end, funding in ops:
        t += 60 * PPM  # a minute per tx: execute applies hourly funding as well
        if kind == Kind.ORACLE:
            price = jump_to if jump else min(max(price + price * move // 10_000, 500 * PPM),
                                             5_000 * PPM)
            pending.append((kind, 0, price, 0, t))
        elif kind == Kind.TRADE:  # up to ±30× the margin now (beyond the 20× limit)
            notional = lev * max(margin(p, acct), 100 * PPM) // 10_000
            pending.append((kind, acct, notional, 0, t))
        elif kind == Kind.REDUCE:
            pending.append((kind, acct, bps, 0, t))
        elif kind in (Kind.TOPUP, Kind.WITHDRAW):
            pending.append((kind, acct, amount, 0, t))
        elif kind == Kind.LIQUIDATE:  # like a bot: aim at an account that looks liquidatable
            smart = liq == 0 or acct % 2 == 0  # otherwise: a blind attempt on acct
            if smart:
                run_block(False)  # the bot looks at the state after the last block
            seen = p.liquidatable()
            target = int(seen[acct % len(seen)]) if len(seen) and smart else acct
            pending.append((kind, liq, 0, target, t))
        else:
            pending.append((kind, acct, 0, 0, t))
        if end:
            run_block(funding)
    run_block(False)
    # everything can be unwound: closing every position keeps the books exact
    t += 1
    for i in np.flatnonzero(p.size).tolist():
        pending.append((Kind.CLOSE, i, 0, 0, t))
    run_block(False)
    assert not p.size.any() and not p.basis.any()
    for k in ok_kinds:
        event(f"ok {Kind(k).name}")
    event(f"liquidations {min(len(p.log.liquidations), 3)}")
    for name in ("bad_debt", "pool_shortfall", "funding_shortfall"):
        if getattr(p.log, name):
            event(name)
