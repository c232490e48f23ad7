"""No-arbitrage checks of a price grid, proved with property tests: Black-Scholes grids
and every grid ``price_surface`` prices pass or are flagged, and a broken grid is caught."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.experiments.price import price_surface
from seqlab.pricing.arbitrage import arbitrage_flags
from seqlab.pricing.black_scholes import black_scholes
from seqlab.units import DAY

MONEYNESS = np.array([0.6, 0.8, 0.9, 1.0, 1.1, 1.2, 1.5])
EXPIRIES = np.array([1, 7, 30, 90, 365]) * DAY


def grid(spot: float, sigma: float, r: float = 0.0):
    kind, m, e = (a.ravel() for a in np.meshgrid(np.array(["call", "put"]), MONEYNESS,
                                                   EXPIRIES, indexing="ij"))
    t = e / (365 * DAY)
    return kind, m * spot, t, np.asarray(black_scholes(kind, spot, m * spot, t, r, sigma))


@settings(max_examples=60, deadline=None)
@given(spot=st.floats(10, 1e5), sigma=st.floats(0.05, 3.0), r=st.floats(0.0, 0.1))
def test_black_scholes_grids_pass(spot, sigma, r):
    kind, k, t, p = grid(spot, sigma, r)
    assert not any(arbitrage_flags(kind, k, t, p, spot, r))


@settings(max_examples=60, deadline=None)
@given(spot=st.floats(100, 1e4), sigma=st.floats(0.1, 2.0), kind_=st.sampled_from(["call", "put"]),
       strike=st.integers(1, len(MONEYNESS) - 2), expiry=st.integers(0, len(EXPIRIES) - 1),
       bump=st.floats(1e-4, 0.5))
def test_a_cell_above_its_neighbours_chord_is_caught(spot, sigma, kind_, strike, expiry, bump):
    kind, k, t, p = grid(spot, sigma)
    at = {(kk, round(kv, 9), tv): i for i, (kk, kv, tv) in enumerate(zip(kind, k, t))}
    tv = EXPIRIES[expiry] / (365 * DAY)
    a, b, c = (at[(kind_, round(MONEYNESS[j] * spot, 9), tv)] for j in (strike - 1, strike,
                                                                          strike + 1))
    chord = (p[a] * (k[c] - k[b]) + p[c] * (k[b] - k[a])) / (k[c] - k[a])
    broken = p.copy()
    broken[b] = chord + bump * spot  # not convex in strike any more
    assert "convex" in arbitrage_flags(kind, k, t, broken, spot)[b]


def test_each_check_by_hand():
    kind = np.array(["call"] * 3)
    k = np.array([90.0, 100.0, 110.0])
    t = np.full(3, 0.1)
    assert list(arbitrage_flags(kind, k, t, [12.0, 5.0, 1.0], 100.0)) == ["", "", ""]
    assert "bounds" in arbitrage_flags(kind, k, t, [9.0, 5.0, 1.0], 100.0)[0]  # < intrinsic
    assert "monotone" in arbitrage_flags(kind, k, t, [12.0, 5.0, 6.0], 100.0)[2]
    assert "convex" in arbitrage_flags(kind, k, t, [12.0, 8.0, 1.0], 100.0)[1]
    cal = arbitrage_flags(np.array(["call", "call"]), np.array([100.0, 100.0]),
                          np.array([0.1, 0.2]), [5.0, 4.0], 100.0)
    assert list(cal) == ["calendar", "calendar"]
    assert "bounds" in arbitrage_flags(np.array(["put"]), [100.0], [0.1], [np.nan], 100.0)[0]


@settings(max_examples=80, deadline=None)
@given(mean=st.floats(-1e5, 1e5), half=st.floats(0, 1e5), sigma=st.floats(0.1, 2.0),
       position=st.sampled_from(["option writers", "option buyers", "long 10x"]))
def test_every_priced_cell_passes_or_is_flagged(mean, half, sigma, position):
    premium = {position: {"mean_bps": mean, "ci95_bps": [mean - half, mean + half]}}
    s = price_surface(premium, position, 2000.0, sigma, strikes=MONEYNESS,
                      expiries_us=EXPIRIES).tables["surface"]
    priced = s["flags"] == ""
    # the quoted prices (and each end of their intervals) pass every check as a set …
    for col in ("adjusted_price", "adjusted_lo", "adjusted_hi"):
        again = arbitrage_flags(s["kind"][priced], s["strike"][priced],
                                s["expiry_days"][priced] / 365, s[col][priced], 2000.0)
        assert not any(again), col
    # … and a flagged cell has no price
    assert np.all(np.isnan(s["adjusted_price"][~priced]))
    if position != "long 10x":  # the Leland-style model is a Black-Scholes price: no flags
        assert priced.all()
