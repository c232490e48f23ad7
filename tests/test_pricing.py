"""Black-Scholes prices, greeks and implied volatility against QuantLib's analytic engine.

Random cases (seeded) span K/S 0.2..5, expiries from one hour to five years, vol 5 %..300 %,
r -1 %..10 %, q 0..5 %, calls and puts.

Tolerances are relative (1e-10 for prices, 1e-8 for greeks and implied vols) plus an
absolute floor where relative error stops meaning anything, and each floor is sized by
QuantLib's own rounding, measured, not guessed:

* QuantLib's ``CumulativeNormalDistribution`` is accurate to ~1e-15 absolute, not
  relative: below N(z) = 1e-8 (z < -5.6) it switches to a truncated asymptotic series that
  is off by up to 1.3e-7 relative (1.3e-15 absolute) near the switch, and above it
  0.5 (1 + erf) loses the relative accuracy of small values. So its prices carry absolute
  errors of ~1e-15 (S e^{-qT} + K e^{-rT}), its deltas ~1e-15 e^{-qT}, its rhos
  ~1e-15 T (S e^{-qT} + K e^{-rT}); its deep out-of-the-money prices between ~1e-12 S and
  ~1e-5 S are the inaccurate side of the comparison (by up to ~1e-4 relative). Each floor
  is 1e-14 of its scale. Relative accuracy of prices down to 1e-300 S is instead checked
  against an independent reference, the integral of vega over the volatility (positive
  terms only, no normal CDF).
* QuantLib's delta and rho add terms of size phi(d1)/(sigma sqrt T) that cancel
  analytically, and its theta divides ln(discount factor) (rounded to ~1e-16 absolute) by
  T; their floors carry those scales (S^2 gamma, and (S e^{-qT} + K e^{-rT})/T).
* QuantLib flushes the normal density to 0 below e^-690, so gamma and vega get a floor of
  1e-280 of their scales, i.e. none above that. (Far out in the tails, values below
  ~1e-100 of scale, its gamma and vega still differ from these by up to ~3e-9 relative:
  its gamma formula cancels terms ~d1/(sigma sqrt T) times larger than the result.)

QuantLib's dates are whole days; an expiry of T years is given to it as N = round(365 T)
days (at least 1) with the volatility scaled by sqrt(T/t), r and q by T/t (t = N/365).
Prices are invariant under that change of time unit; vega, rho and theta are converted
back by the chain rule.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.integrate import IntegrationWarning, quad

import seqlab.pricing
from seqlab.errors import SeqlabError
from seqlab.pricing import black_scholes, greeks, implied_vol

N_CASES = 2000


def _cases(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    S = 10.0 ** rng.uniform(0, 3, n)
    return dict(
        kind=rng.choice(["call", "put"], n),
        S=S,
        K=S * np.exp(rng.uniform(np.log(0.2), np.log(5.0), n)),
        T=np.exp(rng.uniform(np.log(1 / 8760), np.log(5.0), n)),
        r=rng.uniform(-0.01, 0.10, n),
        sigma=np.exp(rng.uniform(np.log(0.05), np.log(3.0), n)),
        q=rng.uniform(0.0, 0.05, n),
    )


def _scales(c: dict) -> tuple[np.ndarray, np.ndarray]:
    """Discounted forward and strike, the natural size of prices and their errors."""
    return c["S"] * np.exp(-c["q"] * c["T"]), c["K"] * np.exp(-c["r"] * c["T"])


@pytest.fixture(scope="module")
def ql():
    return pytest.importorskip("QuantLib")


def _ql_option(ql, kind, S, K, T, r, sigma, q):
    """A QuantLib option with analytic engine; returns (option, process, T/t)."""
    today = ql.Date(15, ql.January, 2025)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    days = max(1, int(round(T * 365)))
    c = T / dc.yearFraction(today, today + days)

    def curve(rate):
        return ql.YieldTermStructureHandle(
            ql.FlatForward(today, ql.QuoteHandle(ql.SimpleQuote(rate * c)), dc))

    vol = ql.BlackVolTermStructureHandle(ql.BlackConstantVol(
        today, ql.NullCalendar(), ql.QuoteHandle(ql.SimpleQuote(sigma * np.sqrt(c))), dc))
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(S)), curve(q), curve(r), vol)
    payoff = ql.PlainVanillaPayoff(ql.Option.Call if kind == "call" else ql.Option.Put, K)
    option = ql.VanillaOption(payoff, ql.EuropeanExercise(today + days))
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return option, process, c


@pytest.fixture(scope="module")
def reference(ql):
    """Cases with QuantLib's price and greeks, converted back to years."""
    c = _cases(N_CASES, seed=20250115)
    rows = []
    for args in zip(*(c[k] for k in ("kind", "S", "K", "T", "r", "sigma", "q"))):
        option, _, scale = _ql_option(ql, *args)
        rows.append((option.NPV(), option.delta(), option.gamma(),
                     option.vega() * np.sqrt(scale), option.theta() / scale,
                     option.rho() * scale))
    ref = dict(zip(("price", "delta", "gamma", "vega", "theta", "rho"), np.array(rows).T))
    return c, ref


def _args(c: dict) -> tuple:
    return c["kind"], c["S"], c["K"], c["T"], c["r"], c["sigma"], c["q"]


def _check(name, got, want, rel, floor):
    """|got - want| <= rel |want| + floor everywhere."""
    excess = np.abs(got - want) / (rel * np.abs(want) + floor)
    worst = int(np.argmax(excess))
    assert excess[worst] <= 1.0, (
        f"{name}: {(excess > 1).sum()} of {excess.size} off, worst case {worst}: "
        f"{got[worst]!r} vs {want[worst]!r}")


def test_cases_cover_the_ranges(reference):
    c, ref = reference
    moneyness = c["K"] / c["S"]
    assert moneyness.min() < 0.25 and moneyness.max() > 4.0
    assert c["T"].min() < 3 / 8760 and c["T"].max() > 4.5
    assert c["sigma"].min() < 0.06 and c["sigma"].max() > 2.5
    assert set(c["kind"]) == {"call", "put"}
    # Plenty of deep out-of-the-money prices, where the floors matter.
    assert (ref["price"] < 1e-8 * c["S"]).sum() > 100


def test_prices_match_quantlib(reference):
    c, ref = reference
    fd, kd = _scales(c)
    _check("price", black_scholes(*_args(c)), ref["price"], 1e-10, 1e-14 * (fd + kd))


def test_greeks_match_quantlib(reference):
    c, ref = reference
    fd, kd = _scales(c)
    S, T = c["S"], c["T"]
    g = greeks(*_args(c))
    gamma = np.abs(g["gamma"])
    decay = 0.5 * c["sigma"] ** 2 * S * S * gamma
    floors = {
        "delta": 1e-14 * (np.exp(-c["q"] * T) + S * gamma),
        "gamma": 1e-280 * np.exp(-c["q"] * T) / S,
        "vega": 1e-280 * fd * np.sqrt(T),
        "theta": 1e-14 * (np.abs(c["r"]) * (fd + kd) + np.abs(c["r"] - c["q"]) * fd + decay)
        + 1e-15 * (fd + kd) / T,
        "rho": 1e-14 * T * (fd + kd + S * S * gamma),
    }
    for name, floor in floors.items():
        _check(name, g[name], ref[name], 1e-8, floor)


def _otm_by_quadrature(S, K, T, r, sigma, q):
    """Out-of-the-money price as the integral of its vega over total deviation u.

    Per unit of max(S e^-qT, K e^-rT) the price is b(v) = int_0^v phi(x/u - u/2) du with
    x = -|ln(F/K)|: positive terms only, and no normal CDF, so it shares no code or
    rounding with the implementation.
    """
    fd, kd = S * np.exp(-q * T), K * np.exp(-r * T)
    x = -abs(np.log(S / K) + (r - q) * T)
    v = sigma * np.sqrt(T)
    peak = np.sqrt(-2.0 * x)  # where the integrand is largest

    def f(u):
        return np.exp(-0.5 * (x / u - 0.5 * u) ** 2) / np.sqrt(2.0 * np.pi)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IntegrationWarning)
        value, _ = quad(f, 0.0, v, epsabs=0.0, epsrel=1e-13, limit=500,
                        points=[peak] if 0.0 < peak < v else None)
    return max(fd, kd) * value


def test_deep_otm_prices_keep_relative_accuracy():
    """Where QuantLib is the inaccurate side, an independent integral says 1e-10 holds
    relatively for every price down to 1e-300 S."""
    c = _cases(1000, seed=7)
    x = np.log(c["S"] / c["K"]) + (c["r"] - c["q"]) * c["T"]
    kind = np.where(x > 0, "put", "call")  # the out-of-the-money one
    got = black_scholes(kind, c["S"], c["K"], c["T"], c["r"], c["sigma"], c["q"])
    want = np.array([_otm_by_quadrature(*a) for a in
                     zip(*(c[k] for k in ("S", "K", "T", "r", "sigma", "q")))])
    tiny = want < 1e-300 * c["S"]
    assert (want[~tiny] < 1e-12 * c["S"][~tiny]).sum() > 100
    rel = np.abs(got[~tiny] / want[~tiny] - 1)
    assert rel.max() <= 1e-10, rel.max()


def _iv_cases(c: dict) -> np.ndarray:
    """Where the price pins sigma down well enough to compare at 1e-8: the price is
    above 1e-8 S, the time value above 1e-12 of the price (not at the intrinsic bound),
    and vega * sigma >= 1e-6 (S e^-qT + K e^-rT). QuantLib's prices are off by up to
    ~1.3e-15 of that scale (see the module docstring); divided by vega * sigma that is
    the relative error of its implied vol, so this keeps it below ~1e-9."""
    fd, kd = _scales(c)
    price = black_scholes(*_args(c))
    w = np.where(c["kind"] == "call", 1.0, -1.0)
    time_value = price - np.maximum(w * (fd - kd), 0.0)
    vega = greeks(*_args(c))["vega"]
    return ((price > 1e-8 * c["S"]) & (time_value > 1e-12 * price)
            & (vega * c["sigma"] >= 1e-6 * (fd + kd)))


def test_implied_vol_matches_quantlib_and_round_trips(ql):
    """At least 1,000 cases with meaningful vega (``_iv_cases``): against QuantLib's own
    solver (Brent, accuracy 1e-15, up to 10,000 evaluations) and against the sigma that
    made the price, both to 1e-8 relative."""
    c = _cases(4000, seed=11)
    keep = _iv_cases(c)
    c = {k: v[keep] for k, v in c.items()}
    assert keep.sum() >= 1000
    price = black_scholes(*_args(c))
    got = implied_vol(c["kind"], price, c["S"], c["K"], c["T"], c["r"], c["q"])
    want = []
    for kind, p, S, K, T, r, q in zip(c["kind"], price, c["S"], c["K"], c["T"], c["r"],
                                      c["q"]):
        option, process, scale = _ql_option(ql, kind, S, K, T, r, 0.2, q)
        want.append(option.impliedVolatility(p, process, 1e-15, 10_000, 1e-7, 40.0)
                    / np.sqrt(scale))
    want = np.array(want)
    assert np.abs(got / want - 1).max() <= 1e-8
    assert np.abs(got / c["sigma"] - 1).max() <= 1e-8


def test_implied_vol_round_trips_a_large_vectorised_set():
    """200,000 cases at once, the extremes included (prices down to 1e-300 S), restricted
    only by conditioning: where vega * sigma >= 1e-6 * price, the price's own rounding
    (~1e-16 relative) moves sigma by less than ~1e-10."""
    c = _cases(200_000, seed=3)
    price = black_scholes(*_args(c))
    vega = greeks(*_args(c))["vega"]
    keep = (price > 1e-300 * c["S"]) & (vega * c["sigma"] >= 1e-6 * price)
    assert keep.mean() > 0.5
    got = implied_vol(c["kind"], price, c["S"], c["K"], c["T"], c["r"], c["q"])
    assert not np.isnan(got[keep]).any()
    assert np.abs(got[keep] / c["sigma"][keep] - 1).max() <= 1e-8


@pytest.mark.parametrize("K", [50.0, 99.0, 100.0, 101.0, 300.0])
def test_implied_vol_across_the_whole_vol_range(K):
    """0.1 % to 990 % on one strike, both kinds; the same conditioning rule as above."""
    sigma = np.geomspace(1e-3, 9.9, 400)
    kind = np.array([["call"], ["put"]])
    price = black_scholes(kind, 100.0, K, 0.5, 0.02, sigma, 0.01)
    got = implied_vol(kind, price, 100.0, K, 0.5, 0.02, 0.01)
    vega = greeks(kind, 100.0, K, 0.5, 0.02, sigma, 0.01)["vega"]
    keep = (price > 1e-300 * 100.0) & (vega * sigma >= 1e-6 * price)  # not subnormal
    assert keep.sum() > 300
    assert np.abs(got[keep] / np.broadcast_to(sigma, keep.shape)[keep] - 1).max() <= 1e-8


def test_implied_vol_outside_the_bounds_is_nan():
    S, K, T, r, q = 100.0, 90.0, 1.0, 0.05, 0.01
    fd, kd = S * np.exp(-q * T), K * np.exp(-r * T)
    call_intrinsic, put_intrinsic = fd - kd, 0.0
    prices = np.array([-1.0, call_intrinsic * (1 - 1e-9), fd, fd * 1.5, np.nan, np.inf])
    assert np.isnan(implied_vol("call", prices, S, K, T, r, q)).all()
    assert np.isnan(implied_vol("put", [-0.1, kd, kd + 1.0], S, K, T, r, q)).all()
    # Exactly the intrinsic value: only zero volatility gives it.
    assert implied_vol("call", call_intrinsic, S, K, T, r, q) == 0.0
    assert implied_vol("put", put_intrinsic, S, K, T, r, q) == 0.0
    # A price needing more than SIGMA_MAX (10 = 1000 %) is not searched for.
    assert np.isnan(implied_vol("call", black_scholes("call", S, K, T, r, 12.0, q),
                                S, K, T, r, q))
    # Expired: only the intrinsic value is a price.
    assert implied_vol("call", 10.0, 100.0, 90.0, 0.0, r) == 0.0
    assert np.isnan(implied_vol("call", 10.5, 100.0, 90.0, 0.0, r))


def test_put_call_parity_on_arrays():
    c = _cases(5000, seed=5)
    fd, kd = _scales(c)
    args = (c["S"], c["K"], c["T"], c["r"], c["sigma"], c["q"])
    call, put = black_scholes("call", *args), black_scholes("put", *args)
    assert np.all(np.abs((call - put) - (fd - kd)) <= 1e-14 * (fd + kd))
    gc, gp = greeks("call", *args), greeks("put", *args)
    dq = np.exp(-c["q"] * c["T"])
    assert np.allclose(gc["delta"] - gp["delta"], dq, rtol=0, atol=1e-14)
    assert np.array_equal(gc["gamma"], gp["gamma"])
    assert np.array_equal(gc["vega"], gp["vega"])
    theta_gap = c["q"] * fd - c["r"] * kd
    assert np.all(np.abs(gc["theta"] - gp["theta"] - theta_gap)
                  <= 1e-13 * (np.abs(c["r"]) * kd + c["q"] * fd))
    assert np.all(np.abs(gc["rho"] - gp["rho"] - c["T"] * kd) <= 1e-14 * c["T"] * kd)


def test_broadcasting():
    K = np.array([80.0, 100.0, 120.0])
    row = black_scholes("call", 100.0, K, 1.0, 0.03, 0.2)
    assert row.shape == (3,)
    assert row.tolist() == [black_scholes("call", 100.0, k, 1.0, 0.03, 0.2) for k in K]
    grid = black_scholes([["call"], ["put"]], 100.0, K, 1.0, 0.03, [[0.2], [0.3]])
    assert grid.shape == (2, 3)
    assert grid[1, 2] == black_scholes("put", 100.0, 120.0, 1.0, 0.03, 0.3)
    g = greeks(np.array(["call", "put"]), 100.0, 100.0, [[0.5], [1.0], [2.0]], 0.03, 0.2)
    assert set(g) == {"delta", "gamma", "vega", "theta", "rho"}
    assert all(v.shape == (3, 2) for v in g.values())
    price = black_scholes("put", 100.0, K, 1.0, 0.03, [[0.2], [0.4]])
    iv = implied_vol("put", price, 100.0, K, 1.0, 0.03)
    assert iv.shape == (2, 3)
    assert np.allclose(iv, [[0.2] * 3, [0.4] * 3], rtol=1e-12, atol=0)
    # Scalars in, numpy scalars out.
    assert np.ndim(black_scholes("call", 100, 100, 1, 0, 0.2)) == 0
    assert np.ndim(implied_vol("call", 8.0, 100, 100, 1, 0)) == 0
    with pytest.raises(ValueError):
        black_scholes("call", [100.0, 110.0], [90.0, 100.0, 110.0], 1.0, 0.0, 0.2)


def test_limits_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Expired or without volatility: the discounted intrinsic value.
        assert black_scholes("call", 100.0, 90.0, 0.0, 0.05, 0.2) == 10.0
        assert black_scholes("put", 100.0, 90.0, 0.0, 0.05, 0.2) == 0.0
        assert black_scholes("call", 100.0, 90.0, 1.0, 0.05, 0.0) == pytest.approx(
            100.0 - 90.0 * np.exp(-0.05))
        assert black_scholes(["call", "put"], 100.0, 100.0, 0.0, 0.0, 0.2).tolist() == [0, 0]
        # Worthless underlying, zero strike.
        assert black_scholes(["call", "put"], 0.0, 100.0, 1.0, 0.0, 0.2).tolist() == [0, 100]
        assert black_scholes(["call", "put"], 100.0, 0.0, 1.0, 0.0, 0.2).tolist() == [100, 0]
        g = greeks("put", 100.0, 90.0, 0.0, 0.05, 0.2)
        assert (g["delta"], g["gamma"], g["vega"]) == (0.0, 0.0, 0.0)


def test_package_exports():
    assert seqlab.pricing.black_scholes is black_scholes
    assert set(seqlab.pricing.__all__) == {"black_scholes", "greeks", "implied_vol"}
    assert seqlab.pricing.black_scholes("call", 100, 100, 1, 0.0, 0.2) == pytest.approx(
        7.965567455405804, rel=1e-14)


@pytest.mark.parametrize("kind", ["Call", "straddle", "", ["call", "pu"], 1, None])
def test_invalid_kind(kind):
    for call in (lambda: black_scholes(kind, 100, 100, 1, 0, 0.2),
                 lambda: greeks(kind, 100, 100, 1, 0, 0.2),
                 lambda: implied_vol(kind, 8.0, 100, 100, 1, 0)):
        with pytest.raises(SeqlabError) as err:
            call()
        assert err.value.field == "kind"
        assert err.value.allowed == "call, put"


@pytest.mark.parametrize("field", ["S", "K", "T", "sigma"])
def test_negative_inputs_name_the_field(field):
    args = dict(S=100.0, K=100.0, T=1.0, r=0.0, sigma=0.2)
    args[field] = np.array([1.0, -0.5])
    with pytest.raises(SeqlabError) as err:
        black_scholes("call", **args)
    assert err.value.field == field
    assert "-0.5" in str(err.value)
    with pytest.raises(SeqlabError) as err:
        greeks("put", **args)
    assert err.value.field == field
    if field != "sigma":
        iv_args = {k: v for k, v in args.items() if k != "sigma"}
        with pytest.raises(SeqlabError) as err:
            implied_vol("call", 5.0, **iv_args)
        assert err.value.field == field


def test_non_numeric_input_is_a_clear_error():
    with pytest.raises(SeqlabError) as err:
        black_scholes("call", "lots", 100, 1, 0, 0.2)
    assert err.value.field == "S"
    # Negative rates and yields are legitimate.
    assert black_scholes("call", 100, 100, 1, -0.01, 0.2, q=-0.02) > 0
