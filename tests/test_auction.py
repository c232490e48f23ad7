"""Liquidations 2.0 (Clipper) auction maths: price curves against independent formulas,
the reset rule at its exact boundaries, keeper incentives, and takes (partial lots, price
cap, tab cap, dust), all in integer micro-USD / microseconds.
"""
from __future__ import annotations

import math
import random
from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.protocols.auction import (Auction, ExponentialDecrease, LinearDecrease,
                                      StairstepExponentialDecrease, keeper_incentive)
from seqlab.units import MICRO_USD, MINUTE, S

USD = MICRO_USD
RAY = 10**27


# ---------------------------------------------------------------- price curves


def test_linear_matches_exact_formula_at_random_times():
    rng = np.random.default_rng(7)
    for _ in range(20):
        top = int(rng.integers(1, 10**13))
        tau = int(rng.integers(1, 2 * 3600 * S))
        dt = rng.integers(0, 2 * tau, size=300)
        got = LinearDecrease(tau).price(top, dt)
        want = [top * (tau - t) // tau if t < tau else 0 for t in dt.tolist()]
        assert got.dtype == np.int64
        assert got.tolist() == want
        assert [LinearDecrease(tau).price(top, t) for t in dt.tolist()] == want


def test_linear_exact_when_int64_product_would_overflow():
    top, tau = 5 * 10**15, 6 * 3600 * S  # top·tau ≈ 1e26
    dt = np.random.default_rng(1).integers(0, tau + 10, size=400)
    want = [top * max(tau - t, 0) // tau for t in dt.tolist()]
    assert LinearDecrease(tau).price(top, dt).tolist() == want


def _decimal_floor(x: Decimal) -> int:
    return int(x.to_integral_value(rounding="ROUND_FLOOR"))


def test_stairstep_matches_formula_at_random_times():
    rng = np.random.default_rng(11)
    for _ in range(15):
        top = int(rng.integers(1, 10**12))
        cut = float(rng.uniform(0.05, 1.0))
        step = int(rng.integers(1, 120 * S))
        dt = rng.integers(0, 150 * step, size=300)
        got = StairstepExponentialDecrease(cut, step).price(top, dt)
        # the documented rounding: float power, then the exact floor of top × that float
        want = [math.floor(top * Fraction(cut ** (t // step))) for t in dt.tolist()]
        assert got.tolist() == want
        # and within one micro-USD of the exact mathematical value
        with localcontext() as ctx:
            ctx.prec = 80
            exact = [_decimal_floor(top * Decimal(cut) ** (t // step)) for t in dt.tolist()]
        assert max(abs(g - e) for g, e in zip(got.tolist(), exact)) <= 1


def test_exponential_matches_formula_at_random_times():
    rng = np.random.default_rng(13)
    for _ in range(15):
        top = int(rng.integers(1, 10**12))
        cut = float(rng.uniform(0.5, 1.0))
        dt = rng.integers(0, 3600 * S, size=300)
        got = ExponentialDecrease(cut).price(top, dt)
        want = [math.floor(top * Fraction(cut ** (t / 1_000_000))) for t in dt.tolist()]
        assert got.tolist() == want
        with localcontext() as ctx:
            ctx.prec = 60
            exact = [_decimal_floor(top * Decimal(cut) ** (Decimal(t) / 10**6))
                     for t in dt.tolist()]
        assert max(abs(g - e) for g, e in zip(got.tolist(), exact)) <= 1


CURVES = st.one_of(
    st.builds(LinearDecrease, st.integers(1, 10 * 3600 * S)),
    st.builds(StairstepExponentialDecrease,
              st.floats(1e-3, 1.0, exclude_min=False), st.integers(1, 600 * S)),
    st.builds(ExponentialDecrease, st.floats(1e-3, 1.0)),
)


@settings(max_examples=200, deadline=None)
@given(curve=CURVES, top=st.integers(0, 10**13),
       dt=st.lists(st.integers(0, 10 * 3600 * S), min_size=1, max_size=60))
def test_curves_monotone_bounded_and_integer(curve, top, dt):
    arr = np.sort(np.array(dt, dtype=np.int64))
    p = curve.price(top, arr)
    assert p.dtype == np.int64 and p.shape == arr.shape
    assert (np.diff(p) <= 0).all()
    assert (p >= 0).all() and (p <= top).all()
    scalars = [curve.price(top, int(t)) for t in arr]
    assert all(type(x) is int for x in scalars)
    assert scalars == p.tolist()  # scalar and vectorised paths agree


@settings(max_examples=200, deadline=None)
@given(curve=CURVES, top=st.integers(0, 10**13), t=st.integers(0, 10 * 3600 * S),
       gap=st.integers(0, 10 * S))
def test_curves_monotone_between_close_times(curve, top, t, gap):
    assert curve.price(top, t) >= curve.price(top, t + gap)
    assert curve.price(top, t) >= curve.price(top, t + 1)


@pytest.mark.parametrize("curve", [LinearDecrease(90 * S),
                                   StairstepExponentialDecrease(0.99, 90 * S),
                                   ExponentialDecrease(0.999)])
def test_curves_start_at_top(curve):
    for top in (0, 1, 123_456_789, 3_000 * USD, 2**60):
        assert curve.price(top, 0) == top
        assert curve.price(top, np.zeros(3, dtype=np.int64)).tolist() == [top] * 3


def test_curve_boundaries():
    top, tau = 2_000 * USD, 90 * S
    lin = LinearDecrease(tau)
    assert lin.price(top, tau) == 0
    assert lin.price(top, tau + 1) == 0 and lin.price(top, 10 * tau) == 0
    assert lin.price(top, tau - 1) == top // tau  # one microsecond before the end
    assert lin.price(top, tau // 2) == top // 2
    stair = StairstepExponentialDecrease(0.5, 10 * S)
    assert stair.price(top, 10 * S - 1) == top
    assert stair.price(top, 10 * S) == top // 2
    assert stair.price(top, 30 * S) == top // 8
    assert StairstepExponentialDecrease(1.0, S).price(top, 10**12) == top
    assert ExponentialDecrease(1.0).price(top, 10**12) == top
    assert ExponentialDecrease(0.5).price(top, 2 * S) == top // 4


def test_curves_keep_shape_and_reject_bad_input():
    dt = np.arange(12, dtype=np.int64).reshape(3, 4) * S
    for curve in (LinearDecrease(5 * S), StairstepExponentialDecrease(0.9, S),
                  ExponentialDecrease(0.9)):
        assert curve.price(1000, dt).shape == (3, 4)
        assert curve.price(1000, np.array(3 * S)) == curve.price(1000, 3 * S)
        with pytest.raises(ValueError):
            curve.price(1000, -1)
        with pytest.raises(TypeError):
            curve.price(1000, 1.5)
        with pytest.raises(TypeError):
            curve.price(1000, np.array([0.0, 1.0]))
    with pytest.raises(ValueError):
        StairstepExponentialDecrease(0.0, S)
    with pytest.raises(ValueError):
        ExponentialDecrease(1.01)
    with pytest.raises(ValueError):
        LinearDecrease(0)


# ---------------------------------------------------------------- kick, redo, reset


def test_kick_and_redo_set_top_to_oracle_times_buf():
    a = Auction.kick(id=1, account=7, lot=5, tab=10_000 * USD, now=1_000,
                     oracle_price=3_000_123_457, buf=1.2)
    assert a.top == 3_600_148_148  # floor(3_000.123457 USD × 1.2), buf read as 6/5
    assert a.start_us == 1_000 and type(a.top) is int
    a.redo(now=5 * MINUTE, oracle_price=2_500 * USD, buf="1.3")
    assert (a.top, a.start_us) == (3_250 * USD, 5 * MINUTE)
    with pytest.raises(ValueError):
        Auction.kick(id=2, account=7, lot=0, tab=1, now=0, oracle_price=1, buf=1)


def test_reset_exactly_after_tail():
    curve, tail = ExponentialDecrease(0.9999), 30 * MINUTE
    a = Auction(id=1, account=0, lot=10, tab=100 * USD, top=2_000 * USD, start_us=123)
    assert not a.needs_reset(123 + tail, curve, tail, cusp=0)
    assert a.needs_reset(123 + tail + 1, curve, tail, cusp=0)
    assert not a.needs_reset(123 + 100 * tail, curve, None, cusp=0)  # no age limit


@pytest.mark.parametrize("cusp", [0.4, "0.4", Fraction(2, 5), 4 * RAY // 10 / RAY])
def test_reset_exactly_below_cusp(cusp):
    top, tau = 100 * USD, 100 * S
    curve = LinearDecrease(tau)
    a = Auction(id=1, account=0, lot=10, tab=100 * USD, top=top, start_us=0)
    t = 60 * S  # price is exactly 40 USD, price / top == cusp
    assert a.price(t, curve) == 40 * USD
    assert not a.needs_reset(t, curve, tail_us=None, cusp=cusp)
    assert a.price(t + 1, curve) == 40 * USD - 1
    assert a.needs_reset(t + 1, curve, tail_us=None, cusp=cusp)


def test_reset_on_stairstep_cusp():
    curve = StairstepExponentialDecrease(0.5, 10 * S)
    a = Auction(id=1, account=0, lot=10, tab=1, top=80 * USD, start_us=0)
    assert not a.needs_reset(30 * S - 1, curve, None, cusp=0.25)  # 20 USD = 0.25 × top
    assert a.needs_reset(30 * S, curve, None, cusp=0.25)  # 10 USD
    assert Auction(1, 0, 1, 1, 0, 0).needs_reset(0, curve, None, 0)  # top 0: redo


def test_reset_rule_equals_clipper_ray_arithmetic():
    """done = (now − tic > tail) || (price·RAY / top < cusp), with integer division."""
    rng, pick = np.random.default_rng(3), random.Random(3)
    curve = StairstepExponentialDecrease(0.99, 90 * S)
    for _ in range(400):
        top = int(rng.integers(1, 10**10))
        tail = int(rng.integers(0, 3 * 3600 * S))
        dt = int(rng.integers(0, 4 * 3600 * S))
        a = Auction(id=0, account=0, lot=1, tab=1, top=top, start_us=0)
        price = curve.price(top, dt)
        # random cusps, and cusps right at / just above the current ratio
        cusp_ray = [pick.randrange(RAY), price * RAY // top,
                    price * RAY // top + 1][pick.randrange(3)]
        clipper = dt > tail or price * RAY // top < cusp_ray
        assert a.needs_reset(dt, curve, tail, Fraction(cusp_ray, RAY)) == clipper


# ---------------------------------------------------------------- keeper incentive


def test_keeper_incentive():
    assert keeper_incentive(1_234_567_891, 100 * USD, 0.001) == 100 * USD + 1_234_567
    assert keeper_incentive(50_000 * USD, 0, "0.02") == 1_000 * USD
    assert keeper_incentive(50_000 * USD, 300 * USD, 0) == 300 * USD
    assert keeper_incentive(0, 5, 0.5) == 5
    assert type(keeper_incentive(10**9, 1, 0.1)) is int
    # exact decimal reading: 0.1 × 10 is 1, not the float just above 0.1 times 10
    assert keeper_incentive(10, 0, 0.1) == 1
    with pytest.raises(ValueError):
        keeper_incentive(10, 0, -0.1)


# ---------------------------------------------------------------- take


def _auction(lot=10, tab=100_000 * USD, top=3_000 * USD) -> Auction:
    return Auction(id=1, account=2, lot=lot, tab=tab, top=top, start_us=0)


LIN = LinearDecrease(100 * S)


def test_take_partial_lot_at_current_price():
    a = _auction()
    price = a.price(10 * S, LIN)
    assert price == 2_700 * USD
    assert a.take(10 * S, max_lot=3, max_price=price, curve=LIN) == (3, 3 * price)
    assert (a.lot, a.tab) == (7, 100_000 * USD - 3 * price)
    got = a.take(20 * S, 100, 10**15, LIN)  # asks for more than is left: gets the rest
    assert got == (7, 7 * 2_400 * USD)
    assert a.lot == 0 and a.done


def test_take_price_cap():
    a = _auction()
    price = a.price(10 * S, LIN)
    assert a.take(10 * S, 5, price - 1, LIN) == (0, 0)
    assert (a.lot, a.tab) == (10, 100_000 * USD)  # untouched
    assert a.take(10 * S, 5, price, LIN) == (5, 5 * price)


def test_take_refused_when_reset_needed_or_done():
    a = _auction()
    assert a.take(31 * MINUTE, 5, 10**15, LIN, tail_us=30 * MINUTE) == (0, 0)
    assert a.take(61 * S, 5, 10**15, LIN, cusp=0.4) == (0, 0)  # price 0.39 × top
    assert a.take(60 * S, 5, 10**15, LIN, cusp=0.4) == (5, 5 * 1_200 * USD)
    a.lot = 0
    assert a.take(60 * S, 5, 10**15, LIN) == (0, 0)
    assert _auction().take(0, 0, 10**15, LIN) == (0, 0)


def test_take_never_owes_more_than_tab():
    a = _auction(lot=10, tab=5_000 * USD)  # 2 units at 3,000 USD would exceed the tab
    lot_taken, owe = a.take(0, 10, 10**15, LIN)
    assert owe == 5_000 * USD
    assert lot_taken == 2  # ceil(5,000 / 3,000): never more than the price per unit
    assert (a.tab, a.lot) == (0, 8) and a.done  # the 8 units go back to the account
    assert a.take(0, 10, 10**15, LIN) == (0, 0)


def test_take_tab_cap_with_fine_units():
    """micro-ETH lots priced per ETH: owe = lot × price / 1e6."""
    a = Auction(id=1, account=2, lot=10 * 10**6, tab=4_500 * USD, top=3_000 * USD,
                start_us=0)
    lot_taken, owe = a.take(0, 10 * 10**6, 3_000 * USD, LIN, unit=10**6)
    assert owe == 4_500 * USD and lot_taken == 1_500_000  # 1.5 ETH
    part = Auction(id=1, account=2, lot=10**6, tab=10**12, top=3_000 * USD, start_us=0)
    assert part.take(0, 333_333, 10**15, LIN, unit=10**6) == (333_333, 999_999_000)


def test_takes_add_up_to_the_lot():
    rng = np.random.default_rng(5)
    for _ in range(50):
        lot = int(rng.integers(1, 10**6))
        a = _auction(lot=lot, tab=10**18, top=int(rng.integers(1, 10**7)))
        taken, owed, now = [], [], 0
        while not a.done:
            now += int(rng.integers(0, S))
            price = a.price(now, LIN)
            got = a.take(now, int(rng.integers(1, lot + 1)), 10**15, LIN)
            assert got[1] == got[0] * price
            taken.append(got[0])
            owed.append(got[1])
        assert sum(taken) == lot and a.lot == 0
        assert sum(owed) + a.tab == 10**18


def test_dust_rule():
    dust = 30 * USD
    # a take that would leave 10 USD is shrunk to leave at least the dust
    a = _auction(lot=1_000, tab=100 * USD, top=1 * USD)
    assert a.take(0, 90, 10**15, LIN, dust=dust) == (70, 70 * USD)
    assert a.tab == dust
    # now tab ≤ dust: no partial purchase ...
    assert a.take(0, 10, 10**15, LIN, dust=dust) == (0, 0)
    # ... but taking the whole tab is fine
    assert a.take(0, 10**6, 10**15, LIN, dust=dust) == (30, 30 * USD)
    assert a.tab == 0
    # leaving exactly the dust is allowed; taking the whole lot is always allowed
    b = _auction(lot=1_000, tab=100 * USD, top=1 * USD)
    assert b.take(0, 70, 10**15, LIN, dust=dust) == (70, 70 * USD)
    c = _auction(lot=95, tab=100 * USD, top=1 * USD)
    assert c.take(0, 95, 10**15, LIN, dust=dust) == (95, 95 * USD)
    assert (c.lot, c.tab) == (0, 5 * USD)  # lot gone, 5 USD bad debt for the caller


@settings(max_examples=300, deadline=None)
@given(lot=st.integers(1, 10**9), tab=st.integers(1, 10**13), top=st.integers(1, 10**10),
       unit=st.sampled_from([1, 1_000, 10**6]), dust=st.integers(0, 10**9),
       curve=CURVES,
       bids=st.lists(st.tuples(st.integers(0, 600 * S), st.integers(0, 10**9),
                               st.integers(0, 10**10)), min_size=1, max_size=12))
def test_take_invariants(lot, tab, top, unit, dust, curve, bids):
    a = Auction(id=0, account=0, lot=lot, tab=tab, top=top, start_us=0)
    now, total_lot, total_owe = 0, 0, 0
    for wait, max_lot, max_price in bids:
        now += wait
        before_lot, before_tab = a.lot, a.tab
        price = a.price(now, curve)
        got, owe = a.take(now, max_lot, max_price, curve, dust=dust, unit=unit)
        assert type(got) is int and type(owe) is int
        assert 0 <= got <= min(max_lot, before_lot)
        assert 0 <= owe <= before_tab  # never owe more than the tab
        assert owe * unit <= got * price  # never above the current price per unit
        if got:
            assert price <= max_price
        if price > max_price:
            assert (got, owe) == (0, 0)
        # dust: a partial take never leaves 0 < tab < dust
        if got and a.lot > 0 and 0 < a.tab:
            assert a.tab >= dust or a.tab == before_tab
        assert (a.lot, a.tab) == (before_lot - got, before_tab - owe)
        total_lot += got
        total_owe += owe
    assert total_lot + a.lot == lot and total_owe + a.tab == tab
