"""Who is paid the trading fees (``fee_to_pool_share``) and who carries a loss beyond an
account's margin (``bad_debt``): exact to the micro-USD, with the ledger's proof."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqlab
from seqlab.protocols.fixed import split_ppm
from seqlab.scenario.schema import Perps
from seqlab.txs import Kind
from tests.test_perps import OK, assert_sound, bal, make, margin, oracle, tx, usd

PPM = 1_000_000


# fees ------------------------------------------------------------------------------------
def test_with_the_pool_as_recipient_its_value_rises_by_exactly_the_fee():
    p = make(fee_to_pool_share=1.0)
    oracle(p, 2_000)
    lp0, fees0 = p.lp_value(p.price), bal(p, p.fees)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK  # 9 ETH at 2000, 5 bps: 9 USD
    assert p.lp_value(p.price) - lp0 == usd(9)
    assert bal(p, p.fees) == fees0
    assert p.ledger.totals_by_reason()["fee_to_pool"] == usd(9)
    assert_sound(p)


def test_gmx_v2_pays_63_percent_of_a_fee_to_the_pool_and_the_rest_to_the_protocol():
    assert Perps(preset="gmx-v2").fee_to_pool_share == 0.63
    p = make(fee_to_pool_share=0.63)
    oracle(p, 2_000)
    pool0 = bal(p, p.pool)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    assert bal(p, p.pool) - pool0 == usd(5.67) and bal(p, p.fees) == usd(3.33)
    assert_sound(p)


def test_without_a_share_every_fee_goes_to_the_protocol_as_before():
    p = make()
    oracle(p, 2_000)
    pool0 = bal(p, p.pool)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    assert bal(p, p.pool) == pool0 and bal(p, p.fees) == usd(9)
    assert "fee_to_pool" not in p.ledger.totals_by_reason()


@given(amount=st.integers(0, 10**15), share=st.integers(0, PPM))
def test_a_split_is_exact_and_rounds_the_share_down(amount, share):
    part, rest = split_ppm(amount, share)
    assert part + rest == amount and 0 <= part <= amount
    assert part * PPM <= amount * share < (part + 1) * PPM


@settings(max_examples=40, deadline=None)
@given(share=st.floats(0, 1), trade=st.integers(1, 150_000), fee_bps=st.floats(0, 100),
       close=st.booleans())
def test_fees_split_conserves_value_for_any_share(share, trade, fee_bps, close):
    """Whatever the share, what the trader's margin lost to fees is exactly what the pool
    and the fee account gained, and the ledger balances."""
    p = make(margin=10_000, fee_to_pool_share=share, taker_fee_bps=fee_bps)
    oracle(p, 2_000)
    before = margin(p, 0), bal(p, p.pool), bal(p, p.fees)
    assert tx(p, Kind.TRADE, 0, a=usd(trade)) in (OK, 2)
    if close:
        tx(p, Kind.CLOSE, 0, block=2)  # at the same price: no PnL, a second fee
    paid = before[0] - margin(p, 0)
    flows = p.ledger.totals_by_reason()
    assert paid == flows.get("fee", 0) + flows.get("fee_to_pool", 0)
    assert bal(p, p.pool) - before[1] == flows.get("fee_to_pool", 0)
    assert bal(p, p.fees) - before[2] == flows.get("fee", 0)
    assert flows.get("fee_to_pool", 0) <= paid * p.fee_to_pool_ppm // PPM + 2  # rounded down
    assert_sound(p)


# bad debt --------------------------------------------------------------------------------
def _long_then_drop(rule: str, insurance: float, shorts: list[tuple[float, float]]):
    """Account 0: 1000 margin, long 9 ETH at 2000 (fee 9: margin 991); then each
    (margin, USD short at 2000) short account; the price falls to 1800, where account 0's
    equity is -809, and account 0 is liquidated (closed whole at the oracle price)."""
    p = make(accounts=1 + len(shorts), margin=1_000, insurance_fund_usd=insurance,
             bad_debt=rule)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    for k, (m, short_usd) in enumerate(shorts, start=1):
        p.ledger.transfer(0, int(p.margin[k]), usd(m), "deposit")  # above make's 1000
        assert tx(p, Kind.TRADE, k, a=-usd(short_usd)) == OK
    pool = bal(p, p.pool)
    oracle(p, 1_800, block=2)
    assert p.equity(0) == -usd(809)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    assert p.size[0] == 0
    return p, pool


def test_pool_rule_leaves_the_insurance_fund_alone():
    p, pool = _long_then_drop("pool", 1_000_000, [])
    assert bal(p, p.insurance) == usd(1_000_000)
    assert p.log.bad_debt == usd(809) and p.log.insurance_covered == 0
    assert bal(p, p.pool) == pool + usd(991)
    assert_sound(p)


def test_insurance_then_pool_is_the_default_rule():
    assert Perps().bad_debt == "insurance_then_pool"
    p, pool = _long_then_drop("insurance_then_pool", 500, [])
    assert p.log.insurance_covered == usd(500) and p.log.bad_debt == usd(309)
    assert p.log.deleveraged == 0
    assert bal(p, p.pool) == pool + usd(991) + usd(500)
    assert_sound(p)


def test_deleveraging_makes_an_opposite_position_pay_what_the_fund_could_not():
    """dYdX v4: the fund pays 500, the short on the other side closes at the bankruptcy
    price: it gains 1800 at the oracle and gives back 309. The pool, which held neither
    side net once both closed, ends exactly where it was before the price fell."""
    p, pool = _long_then_drop("insurance_then_deleverage", 500, [(9_000, 18_000)])
    m1 = margin(p, 1)
    assert p.size[1] == 0
    assert p.log.insurance_covered == usd(500) and p.log.deleveraged == usd(309)
    assert p.log.bad_debt == 0 and not p.log.bad_debt_events
    assert m1 == usd(10_000 - 9 + 1_800 - 309)
    assert bal(p, p.pool) == pool
    assert p.ledger.totals_by_reason()["deleveraging"] == usd(309)
    assert_sound(p)


def test_deleveraging_offsets_no_more_than_the_opposite_side_holds():
    """One short of 4.5 ETH offsets half of the bankrupt 9 ETH, so it pays half of the
    309 the fund could not (its share by units); the other half stays with the pool."""
    p, pool = _long_then_drop("insurance_then_deleverage", 500, [(9_000, 9_000)])
    assert p.size[1] == 0
    assert p.log.deleveraged == usd(154.5) and p.log.bad_debt == usd(154.5)
    assert p.log.insurance_covered + p.log.deleveraged + p.log.bad_debt == usd(809)
    assert_sound(p)


def test_deleveraging_passes_over_an_account_that_cannot_pay():
    """A short opened at 1700 loses at 1800: its 9 ETH could offset everything, but its
    equity (92.35) cannot pay 309, so it is left alone and the rest is bad debt."""
    p = make(accounts=2, margin=1_000, insurance_fund_usd=500,
             bad_debt="insurance_then_deleverage")
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    oracle(p, 1_700, block=2)
    assert tx(p, Kind.TRADE, 1, a=-usd(15_300), block=2) == OK  # 9 ETH short at 1700
    oracle(p, 1_800, block=3)
    assert p.equity(1) == usd(92.35)
    before = int(p.size[1]), margin(p, 1)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=3) == OK
    assert (int(p.size[1]), margin(p, 1)) == before
    assert p.log.deleveraged == 0 and p.log.bad_debt == usd(309)
    assert p.log.insurance_covered == usd(500)
    assert_sound(p)


@settings(max_examples=40, deadline=None)
@given(drop=st.integers(1_780, 1_940), shorts=st.lists(
    st.tuples(st.integers(0, 20_000), st.integers(100, 12_000)), max_size=4),
    insurance=st.integers(0, 900),
    rule=st.sampled_from(["pool", "insurance_then_pool", "insurance_then_deleverage"]))
def test_a_loss_beyond_margin_is_carried_exactly_by_someone(drop, shorts, insurance, rule):
    """Whatever the rule and the accounts on the other side: the fund, the deleveraged
    accounts and the pool together carry exactly the bankrupt account's negative equity,
    nobody on the bankrupt's own side pays, and the ledger balances."""
    p = make(accounts=2 + len(shorts), margin=1_000, insurance_fund_usd=insurance,
             bad_debt=rule)
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000)) == OK
    assert tx(p, Kind.TRADE, 1, a=usd(1_000)) == OK  # a small long beside it
    for k, (m, short_usd) in enumerate(shorts, start=2):
        p.ledger.transfer(0, int(p.margin[k]), usd(m), "deposit")
        tx(p, Kind.TRADE, k, a=-usd(short_usd))
    oracle(p, drop, block=2)
    debt = -p.equity(0)
    long1 = margin(p, 1), int(p.size[1])
    if debt <= 0:
        return
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=2) == OK
    log = p.log
    assert log.insurance_covered + log.deleveraged + log.bad_debt == debt
    assert (margin(p, 1), int(p.size[1])) == long1
    if rule == "pool":
        assert log.insurance_covered == 0 and log.deleveraged == 0
    if rule != "insurance_then_deleverage":
        assert log.deleveraged == 0
    assert_sound(p)


# a run -----------------------------------------------------------------------------------
def test_a_synthetix_run_pays_every_fee_to_the_pool_and_says_who_bore_bad_debt():
    s = seqlab.run("tiny").summary
    assert s["fees_usd"] > 0 and s["fees_to_pool_usd"] == s["fees_usd"]
    borne = s["bad_debt_borne_usd"]
    assert set(borne) == {"insurance fund", "deleveraged accounts", "liquidity pool"}
    assert borne["liquidity pool"] == s["bad_debt_usd"]
    assert borne["insurance fund"] == borne["deleveraged accounts"] == 0  # the pool's rule
    assert s["l1_cost_usd"] > 0 and s["ledger_residual"] == 0  # the chain's costs still paid


@pytest.mark.parametrize("preset, share, rule", [
    ("synthetix-v2", 1.0, "pool"), ("gmx-v2", 0.63, "pool"),
    ("dydx-v4", 0.0, "insurance_then_deleverage"), ("aave-v3", 0.0, "insurance_then_pool")])
def test_each_preset_names_its_recipient_and_its_rule(preset, share, rule):
    cfg = Perps(preset=preset)
    assert (cfg.fee_to_pool_share, cfg.bad_debt) == (share, rule)


def test_several_rollups_sum_what_their_pools_were_paid_and_who_bore_bad_debt():
    from seqlab.metrics.contagion import combined_summary

    def part(fees, to_pool, fund, deleveraged, pool, digest):
        return {"digest": digest, "fees_usd": fees, "fees_to_pool_usd": to_pool,
                "bad_debt_borne_usd": {"insurance fund": fund,
                                       "deleveraged accounts": deleveraged,
                                       "liquidity pool": pool}}
    out = combined_summary([part(10.0, 6.3, 1.0, 2.0, 3.0, "a"),
                            part(20.0, 12.6, 0.5, 0.25, 0.0, "b")])
    assert out["fees_usd"] == 30.0 and out["fees_to_pool_usd"] == 18.9
    assert out["bad_debt_borne_usd"] == {"insurance fund": 1.5, "deleveraged accounts": 2.25,
                                         "liquidity pool": 3.0}


def test_the_payer_split_counts_an_insurance_payout_once():
    """Under the design the fund paid 6 USD more to the pool and the pool, fund included,
    ended 10 USD lower: the fund's row is the 6, the pool's the other 4, and the two sum
    to the 10 that left them (the fund's payout is not counted again on top)."""
    import numpy as np

    from seqlab.experiments.paired import RunView, payer_harm

    def view(lp: float, fund: float) -> RunView:
        fills = {k: np.empty(0, dtype=np.int64) for k in ("id", "sender", "a", "submit_us",
                                                          "fill")}
        return RunView(summary={"lp_value_usd": lp, "insurance_fund_end_usd": fund},
                       values=np.zeros(1), managed=np.zeros(1, dtype=bool),
                       accounts={"ordering_cost_usd": np.zeros(1)}, option_tables={},
                       liquidated=np.zeros(1, dtype=bool), bonus={}, latency_ms=np.zeros(1),
                       fills=fills, cost_events={}, reference=(np.zeros(1), np.zeros(1)),
                       horizon_us=1)
    split = payer_harm(view(90.0, 4.0), view(100.0, 10.0))
    assert split["insurance fund"] == (6.0, 6.0)
    assert split["liquidity pool"] == (4.0, 4.0)
