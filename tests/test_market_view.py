"""The read-only market view: its answers are what execution then does, its events have
named fields, and nothing can be written through it."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.protocols.fixed import toward_zero
from seqlab.protocols.market_view import LIQUIDATION, ORACLE_UPDATE, MarketView, NoMarket
from seqlab.txs import Kind
from tests.test_perps import OK, _levered_long, make, oracle, tx, usd

FAST = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])


def _liquidated() -> tuple:
    """Account 0 long 9 ETH at 2000, made liquidatable at 1940 (block 2) and liquidated
    in block 3; returns the protocol and its view."""
    p = _levered_long()
    oracle(p, 1_940, block=2)
    assert tx(p, Kind.LIQUIDATE, 0, b=0, block=3) == OK
    return p, p.market_view()


def test_the_view_is_a_market_view_and_cannot_be_written_through():
    p, view = _liquidated()
    assert isinstance(view, MarketView) and p.market_view() is view
    with pytest.raises(AttributeError, match="read-only"):
        view.price = 1  # type: ignore[misc]
    with pytest.raises(AttributeError, match="read-only"):
        view._p = None  # type: ignore[misc]
    events = view.events_since(0)
    with pytest.raises(ValueError, match="read-only"):
        events.liquidations["bonus"][0] = 0
    with pytest.raises(ValueError, match="read-only"):
        events.oracle_updates["price"][:] = 1
    with pytest.raises(AttributeError):
        events.liquidations = events.oracle_updates  # type: ignore[misc]
    oracle(p, 1_000, block=4)
    with pytest.raises(ValueError, match="read-only"):
        view.liquidatable()[0] = 1
    with pytest.raises(ValueError, match="read-only"):
        view.at_risk_if_delayed(int(Kind.CLOSE), 0, 0)[0] = 1
    with pytest.raises(AttributeError, match="read-only"):
        NoMarket().x = 1  # type: ignore[attr-defined]


def test_events_have_named_fields_and_start_at_the_block_asked():
    p, view = _liquidated()
    events = view.events_since(0)
    assert events.liquidations.dtype == LIQUIDATION
    assert events.oracle_updates.dtype == ORACLE_UPDATE
    liq = events.liquidations
    assert len(liq) == 1 and liq["account"][0] == 0 and liq["block"][0] == 3
    assert liq["blocks_after_oracle"][0] == 1  # made liquidatable by block 2's update
    assert liq["bonus"][0] > 0 and liq["liquidator"][0] == 0
    assert events.oracle_updates["price"].tolist() == [usd(2_000), usd(1_940)]
    later = view.events_since(3)
    assert len(later.liquidations) == 1 and len(later.oracle_updates) == 0
    assert view.events_since(2).oracle_updates["price"].tolist() == [usd(1_940)]
    assert len(view.events_since(4).liquidations) == 0
    oracle(p, 1_930, block=5)  # a row logged after a read shows in the next one
    assert view.events_since(4).oracle_updates["block"].tolist() == [5]


def test_liquidatable_now_and_at_a_price():
    p = _levered_long()
    view = p.market_view()
    assert view.price == usd(2_000) and len(view.liquidatable()) == 0
    assert view.liquidatable(usd(1_940)).tolist() == [0]
    oracle(p, 1_940, block=2)
    assert view.liquidatable().tolist() == [0] and view.liquidatable(usd(2_000)).size == 0


@FAST
@given(st.integers(-2_000, 5_000), st.integers(-1, 1_000_000))
def test_fill_price_is_what_a_trade_then_fills_at(usd_delta, skew_scale):
    p = make(accounts=2, margin=1_000_000, skew_scale=max(skew_scale, 0))
    oracle(p, 2_000)
    assert tx(p, Kind.TRADE, 1, a=usd(3_000)) == OK  # some skew to price against
    units = toward_zero(usd(usd_delta) * 10**6, p.price)
    expected = p.market_view().fill_price(units)
    ids = p.txs.add_many(Kind.TRADE, 0, submit_us=np.array([2_000]),
                         arrival_us=np.array([2_000]), a=usd(usd_delta))
    status = p.execute(ids, block=np.array([2]), t_us=np.array([2_000]))
    if units and status[0] == OK:
        assert int(p.txs.fill[ids[0]]) == expected
    else:
        assert expected == 0 or status[0] != OK


def _rescued(kind: Kind, amount: int, price_usd: float) -> tuple[bool, bool]:
    """(the view says the transaction rescues account 0, executing it did)."""
    p = _levered_long(skew_scale=1_000_000.0)
    assert tx(p, Kind.TRADE, 1, a=usd(-2_000)) == OK  # skew: closes fill off the oracle
    oracle(p, price_usd, block=2)
    was = p.is_liquidatable(0)
    said = p.market_view().at_risk_if_delayed(int(kind), 0, amount).tolist()
    assert said in ([], [0])
    tx(p, kind, 0, a=amount, block=3)
    return said == [0], was and not p.is_liquidatable(0)


@FAST
@given(st.integers(-100, 2_000), st.floats(1_900, 2_100))
def test_a_top_up_is_at_risk_exactly_when_it_would_rescue(amount_usd, price):
    said, did = _rescued(Kind.TOPUP, usd(amount_usd), round(price, 2))
    assert said == did


@FAST
@given(st.integers(-10, 10_010), st.floats(1_900, 2_100))
def test_a_reduce_is_at_risk_exactly_when_it_would_rescue(bps, price):
    said, did = _rescued(Kind.REDUCE, bps, round(price, 2))
    assert said == did


def test_a_close_of_a_liquidatable_account_rescues_it():
    assert _rescued(Kind.CLOSE, 0, 1_940) == (True, True)
    assert _rescued(Kind.CLOSE, 0, 2_000) == (False, False)  # nothing to rescue


@FAST
@given(st.floats(1_900, 2_100), st.floats(1_800, 2_200))
def test_an_update_is_at_risk_for_those_its_price_would_rescue(now, new):
    p = make(accounts=3, margin=1_000)
    oracle(p, 2_000)
    for i, usd_size in enumerate((18_000, -18_000, 10_000)):
        assert tx(p, Kind.TRADE, i, a=usd(usd_size)) == OK
    oracle(p, round(now, 2), block=2)
    before = set(p.market_view().liquidatable().tolist())
    said = p.market_view().at_risk_if_delayed(int(Kind.ORACLE), 0, usd(round(new, 2)))
    oracle(p, round(new, 2), block=3)
    assert set(said.tolist()) == before - set(p.market_view().liquidatable().tolist())


def test_kinds_that_rescue_nobody_and_the_unpriced_market():
    p, view = _liquidated()
    for kind in (Kind.TRADE, Kind.WITHDRAW, Kind.LIQUIDATE):
        assert view.at_risk_if_delayed(int(kind), 0, usd(10)).size == 0
    assert view.at_risk_if_delayed(int(Kind.TOPUP), 99, usd(10)).size == 0  # no such account
    none = NoMarket()
    assert none.price == 0 and none.fill_price(5) == 0 and none.liquidatable().size == 0
    assert len(none.events_since(0).liquidations) == 0


@FAST
@given(st.integers(-100, 1_500), st.floats(2_300, 2_900))
def test_options_view_top_up_and_events(topup_usd, price):
    """A writer's top-up is at risk exactly when it would lift the writer back above
    maintenance; the fill price is what a buy pays per unit; liquidations are named."""
    from tests.test_options import market

    p, opt = market(writers=1, collateral=700.0)
    view = opt.market_view()
    t = 1_000
    unit = view.fill_price(1_000_000, series=0)
    before = int(opt.ledger.balances[opt.wallet[0]])
    assert tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=0, t=t) == OK
    assert before - int(opt.ledger.balances[opt.wallet[0]]) == unit  # one unit's premium
    assert tx(p, Kind.ORACLE, 0, a=usd(round(price, 2)), block=2, t=3_000) == OK
    was = 0 in view.liquidatable().tolist()
    said = view.at_risk_if_delayed(int(Kind.OPT_TOPUP), 0, usd(topup_usd)).tolist()
    tx(p, Kind.OPT_TOPUP, 0, a=usd(topup_usd), block=3, t=3_000)
    assert (said == [0]) == (was and 0 not in opt.liquidatable(3_000).tolist())
    if 0 in opt.liquidatable(3_000).tolist():
        assert tx(p, Kind.OPT_LIQUIDATE, 1, b=0, block=4, t=4_000) == OK
        liq = view.events_since(4).liquidations
        assert liq["writer"].tolist() == [0] and liq["liquidator"].tolist() == [1]
    with pytest.raises(AttributeError, match="read-only"):
        view.price = 0  # type: ignore[misc]
