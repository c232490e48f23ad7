"""The stale-price trade's size: the argmax of its round trip's profit under the market's
bounds, checked against the closed forms and against the protocol's own execution."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqlab.scenario.presets import PERPS_PRESETS
from seqlab.scenario.schema import Strategy
from seqlab.sequencing.stale_size import (ROUNDING_MARGIN, StaleMarket, best_size,
                                          known_fill, margin_units, round_trip_profit,
                                          rule_value, stale_profit_usd, stale_sizing,
                                          stale_trade_usd)
from seqlab.txs import Kind
from tests.test_perps import OK, make, tx, usd

OWN = Strategy(capital_usd=1e9)  # capital the account's own equity binds before


def test_a_short_with_price_impact_stops_at_the_top_of_its_concave_profit():
    m = StaleMarket(fill=2000.0, coming=1990.0, fee=0.0005, scale=1_000.0)
    s = best_size(m)
    # π(x) = x·(10 - 0.0005·3990) - 10·x²/2000: the top is at (10 - 1.995)·1000/10
    assert s.bound == "price" and s.side == -1
    assert s.units == pytest.approx((10.0 - 1.995) * 1_000.0 / 10.0)
    top = round_trip_profit(m, s.units)
    assert top == pytest.approx((10.0 - 1.995) ** 2 * 1_000.0 / 20.0)
    for other in (0.9 * s.units, 1.1 * s.units):
        assert round_trip_profit(m, other) < top


def test_a_long_earns_more_per_unit_the_more_it_trades_so_a_bound_decides():
    m = StaleMarket(fill=2000.0, coming=2010.0, fee=0.0005, scale=1_000.0, equity=100_000.0)
    assert m.quadratic() > 0  # convex: no interior top
    s = best_size(m)
    assert s.bound == "margin" and s.side == 1
    assert s.units == pytest.approx(margin_units(m) * (1 - ROUNDING_MARGIN))


def test_a_convex_profit_that_starts_below_the_fees_trades_at_its_bound_if_that_pays():
    """A long against a short skew: the first units earn less than the two fees, but
    the premium grows with size, so the largest size allowed earns; where even that
    loses, nothing is traded."""
    m = StaleMarket(fill=100.0, coming=100.0568, fee=0.00025, skew=-6.25, scale=50.0,
                    initial_margin=0.125, equity=1_000.0, room_usd=1_000.0)
    assert m.linear() < 0 < m.quadratic()
    s = best_size(m)
    assert s.bound == "open_interest" and s.units == pytest.approx(10.0, rel=2e-6)
    assert round_trip_profit(m, s.units) > 0
    small = StaleMarket(fill=100.0, coming=100.0568, fee=0.00025, skew=-6.25, scale=50.0,
                        initial_margin=0.125, equity=1_000.0, room_usd=20.0)
    assert round_trip_profit(small, 0.2) < 0
    assert best_size(small).bound == "fees" and best_size(small).units == 0.0


def test_without_price_impact_the_tightest_bound_sets_the_size():
    base = dict(fill=2000.0, coming=2010.0, fee=0.0005, initial_margin=0.05)
    # margin: 10k of equity covers x·2000·(0.05 + 0.0005): about 99 units, 198 k USD
    m = StaleMarket(**base, equity=10_000.0)
    assert best_size(m).bound == "margin"
    assert best_size(m).units == pytest.approx(10_000.0 / (2000.0 * 0.0505), rel=2e-6)
    assert best_size(StaleMarket(**base, equity=1e6, room_usd=50_000.0)).bound == \
        "open_interest"
    capped = best_size(StaleMarket(**base, equity=1e6, room_usd=80_000.0,
                                   capital_usd=40_000.0))
    assert capped.bound == "capital" and capped.units == pytest.approx(20.0, rel=2e-6)
    fees = best_size(StaleMarket(fill=2000.0, coming=2001.0, fee=0.0005, equity=1e6))
    assert fees.bound == "fees" and fees.units == 0.0  # 1 USD of move, 2 USD of fees


@settings(max_examples=200, deadline=None)
@given(fill=st.floats(100.0, 5000.0), move=st.floats(-0.05, 0.05),
       fee_bps=st.floats(0.0, 20.0), skew=st.floats(-0.3, 0.3),
       scale=st.one_of(st.just(0.0), st.floats(50.0, 1e6)),
       equity=st.floats(1_000.0, 1e7), room=st.floats(1_000.0, 1e8),
       im=st.floats(0.01, 0.2))
# a convex profit that crosses zero just below its bound: the bound's rounding cut costs
# the slope there times the cut, many times the (tiny) profit itself
@example(fill=100.0, move=0.001381664275561044, fee_bps=8.0, skew=0.0, scale=50.0,
         equity=1000.0, room=1589.0, im=0.125)
def test_the_chosen_size_is_feasible_and_no_feasible_size_earns_more(
        fill, move, fee_bps, skew, scale, equity, room, im):
    if abs(move) < 1e-6:
        return
    m = StaleMarket(fill=fill, coming=fill * (1 + move), fee=fee_bps / 1e4,
                    skew=skew * scale, scale=scale, initial_margin=im, equity=equity,
                    room_usd=room)
    s = best_size(m)
    assert s.units >= 0.0
    cap = min(margin_units(m), room / fill)
    assert s.units <= cap * (1 + 1e-9)
    best = round_trip_profit(m, s.units)
    assert best >= 0.0
    # what cutting a size at its bound by ROUNDING_MARGIN may cost: that share of the
    # size times the profit's slope there (the profit itself where the profit is linear)
    slope = abs(m.linear() + 2.0 * m.quadratic() * cap) if cap > 0 else 0.0
    cut = 2.5 * ROUNDING_MARGIN * max(abs(round_trip_profit(m, cap)), cap * slope)
    for y in np.linspace(0.0, cap, 201).tolist():
        assert round_trip_profit(m, y) <= best + 1e-9 * max(1.0, abs(best)) + cut


@pytest.mark.parametrize("prior", [0, 1, -1])
def test_the_margin_bound_is_the_protocols_own_check(prior):
    """The size at the margin bound opens; a thousandth more is refused: the closed form
    counts the entry fee and the skew premium the way the protocol does."""
    p = make(accounts=3, margin=20_000.0, skew_scale=50_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    if prior:  # another account has skewed the market
        assert tx(p, Kind.TRADE, 1, a=prior * usd(8_000.0)) == OK
    up = usd(2010.0)
    sized = stale_sizing(p, 2, up, known_fill(p), OWN)
    assert sized is not None and sized[1].bound == "margin"
    size = stale_trade_usd(p, 2, up, known_fill(p), OWN)
    assert p.can_trade(2, size, 0) and not p.can_trade(2, int(size * 1.001), 0)


def test_the_round_trip_earns_what_the_sizing_expected():
    p = make(accounts=3, margin=1_000_000.0, skew_scale=2_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    assert tx(p, Kind.TRADE, 1, a=-usd(20_000.0)) == OK  # a short skew to trade against
    down = usd(1997.8)  # 11 bps: barely past the two fees, so a small size earns most
    expected = stale_profit_usd(p, 2, down, known_fill(p), OWN)
    assert stale_sizing(p, 2, down, known_fill(p), OWN)[1].bound == "price"
    before = p.equity(2)
    assert tx(p, Kind.TRADE, 2, a=stale_trade_usd(p, 2, down, known_fill(p), OWN)) == OK
    assert tx(p, Kind.ORACLE, 0, a=down, block=2) == OK
    assert tx(p, Kind.CLOSE, 2, block=2) == OK
    assert p.size[2] == 0 and expected > 0
    assert (p.equity(2) - before) / 1e6 == pytest.approx(expected, rel=1e-4)
    assert p.ledger.check() == 0


def test_it_trades_its_capital_not_what_it_has_won():
    """An account richer than ``capital_usd`` margins the trade with the capital only;
    a poorer one with what it has."""
    p = make(accounts=3, margin=1_000_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    up = usd(2010.0)
    for capital, equity in ((10_000.0, 10_000.0), (5e6, 1e6)):
        size = stale_trade_usd(p, 2, up, known_fill(p), Strategy(capital_usd=capital))
        assert size / usd(1) == pytest.approx(equity / 0.0505, rel=2e-6)


def test_no_known_fill_no_trade():
    p = make(accounts=3, margin=50_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    assert stale_trade_usd(p, 2, usd(2100.0), 0, OWN) == 0
    assert stale_profit_usd(p, 2, usd(2100.0), 0, OWN) == 0.0


@settings(max_examples=40, deadline=None)
@given(moves=st.lists(st.floats(-0.03, 0.03), min_size=1, max_size=6),
       min_move=st.floats(0.0, 0.01), scale=st.sampled_from([0.0, 50_000.0, 1e6]))
def test_the_lane_values_no_more_than_its_rule_takes_on_the_same_updates(moves, min_move,
                                                                        scale):
    """The express lane's valuation of a run of updates (``rule_value`` of the sized
    round trip's profit) against the rule carried out through the protocol on the same
    updates: trade the sized trade at the stale price ahead of each update that moves the
    price past ``min_move``, apply the update, close. The capital binds (the account has
    more), so the market is the same for every update and the two agree to the rounding;
    the valuation never exceeds what the trades made."""
    prm = Strategy(capital_usd=20_000.0)
    p = make(accounts=3, margin=100_000.0, skew_scale=scale)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    prices, price = [], 2000.0
    for m in moves:
        price *= 1.0 + m
        prices.append(usd(price))
    valued = rule_value(p.price, prices, min_move,
                        lambda fill, coming: stale_profit_usd(p, 2, coming, fill, prm))
    before, block = p.equity(2), 1
    for coming in prices:
        size = stale_trade_usd(p, 2, coming, known_fill(p), prm) \
            if abs(coming - p.price) > min_move * p.price else 0
        if size:
            assert tx(p, Kind.TRADE, 2, a=size, block=block) == OK
        assert tx(p, Kind.ORACLE, 0, a=coming, block=block) == OK
        if size:
            assert tx(p, Kind.CLOSE, 2, block=block) == OK
        block += 1
    taken = (p.equity(2) - before) / 1e6
    assert valued <= taken + 1e-4 * max(1.0, abs(taken)) + 1e-3 * len(prices)
    assert taken == pytest.approx(valued, rel=1e-4, abs=1e-3 * len(prices))
    assert p.ledger.check() == 0


def test_moves_below_the_rules_threshold_are_worth_nothing_to_it():
    """A 0.15 % update beats two 5 bps fees, so a trade ahead of it would earn; a rule
    that acts only past 0.2 % does not make it, and values it at nothing."""
    p = make(accounts=3, margin=100_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK

    def profit(fill, coming):
        return stale_profit_usd(p, 2, coming, fill, OWN)

    small = [usd(2003.0), usd(2006.0045)]  # two 0.15 % steps
    assert profit(usd(2000.0), usd(2003.0)) > 0
    assert rule_value(p.price, small, 0.002, profit) == 0.0
    assert rule_value(p.price, small, 0.0, profit) == pytest.approx(
        profit(usd(2000.0), small[0]) + profit(small[0], small[1]))
    assert rule_value(0, [usd(2100.0)], 0.002, profit) == 0.0  # no price before it: no fill


def test_fills_follow_synthetix_perps_v2_fill_price():
    """PerpsV2's fill price is the oracle price times 1 + the mean of the premium before
    and after the trade (skew / skewScale): 100 ETH bought on a flat market at 1,200 USD
    with a 1,000,000 ETH scale fill at 1,200 × (1 + 0.00005) = 1,200.06. A round trip
    kept together around an update pays that premium in at the old price and is paid it
    back at the new one, so a long's profit grows faster than its size: the convexity is
    the formula's, not an artefact."""
    p = make(accounts=3, margin=1_000_000.0, skew_scale=1_000_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(1200.0)) == OK
    assert p.fill_units(100 * 10**6) == usd(1200.06)
    m = StaleMarket(fill=1200.0, coming=1212.0, fee=0.0, scale=1_000_000.0)
    assert m.quadratic() > 0
    per_unit = [round_trip_profit(m, x) / x for x in (1_000.0, 10_000.0, 100_000.0)]
    assert per_unit == sorted(per_unit) and per_unit[0] > 12.0


def test_the_open_interest_cap_sets_the_trade_when_it_leaves_less_than_the_capital():
    """With the ``synthetix-v2`` preset's cap and traders holding most of it, the room
    left on the side, not the operator's capital, sizes the trade, and the trade fits
    the cap to the rounding: a thousandth more is refused."""
    cap = PERPS_PRESETS["synthetix-v2"]["max_open_interest_usd"]
    assert cap == 31_000 * 2_500.0  # sETH PERP's maxMarketValue at 2,500 USD per ETH
    p = make(accounts=3, margin=5_000_000.0, max_open_interest_usd=cap)
    assert tx(p, Kind.ORACLE, 0, a=usd(2500.0)) == OK
    assert tx(p, Kind.TRADE, 1, a=usd(65_000_000.0)) == OK  # the traders' longs
    up = usd(2550.0)
    sized = stale_sizing(p, 2, up, known_fill(p), Strategy())
    assert sized is not None and sized[1].bound == "open_interest"
    size = stale_trade_usd(p, 2, up, known_fill(p), Strategy())
    assert size / usd(1) == pytest.approx(12_500_000.0, rel=1e-5)
    assert p.can_trade(2, size, 0) and not p.can_trade(2, int(size * 1.001), 0)
