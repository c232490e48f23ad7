"""Black-Scholes-Merton for European options, vectorised through numpy broadcasting.

Every argument may be a scalar or an array (``kind`` included) and all are broadcast
together, so a whole book of options is priced in one call.

Accuracy in the tails is the point of most of the code here. The out-of-the-money option
(the call when the forward is below the strike, the put otherwise) is always computed
directly and the in-the-money one by put-call parity, a sum of two non-negative numbers.
Far out of the money even the direct formula ``F N(d1) - K N(d2)`` is a difference of
two nearly equal tail probabilities, so there it is rewritten with Mills' ratio
(``scipy.special.erfcx``), which keeps the relative accuracy of prices as small as
1e-300. The implied-volatility solver works on that same out-of-the-money price, so deep
in-the-money inputs do not lose the time value in cancellation either.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import erf, erfcx, ndtr, ndtri

from seqlab.errors import SeqlabError

__all__ = ["black_scholes", "greeks", "implied_vol", "SIGMA_MAX"]

#: Largest volatility (per year, 10 = 1000 %) the implied-volatility search considers;
#: a price that needs more comes back NaN rather than a number the solver cannot vouch for.
SIGMA_MAX = 10.0
_MAX_ITER = 100          # safety net: bisection alone closes the bracket in ~60 steps
_STEP_TOL = 1e-8         # Newton is quadratic: after a relative step this small ~1e-16 is left
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT_HALF_PI = math.sqrt(0.5 * math.pi)
_SQRT_HALF = math.sqrt(0.5)


def _sign(kind) -> np.ndarray:
    """+1 for calls, -1 for puts, so one formula serves both kinds."""
    k = np.asarray(kind)
    if k.dtype.kind not in "UO":
        raise SeqlabError(f"must be 'call' or 'put', got {kind!r}", field="kind",
                          allowed="call, put")
    call = k == "call"
    bad = ~(call | (k == "put"))
    if bad.any():
        raise SeqlabError(f"unknown option kind {k[bad].flat[0]!r}", field="kind",
                          allowed="call, put")
    return np.where(call, 1.0, -1.0)


def _number(name: str, value, nonneg: bool) -> np.ndarray:
    """Float array of ``value``; a negative entry where none makes sense is the user's error."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise SeqlabError(f"must be a number or an array of numbers, got {value!r}",
                          field=name) from None
    if nonneg and np.any(a < 0):
        raise SeqlabError(f"must be non-negative, got {a[a < 0].flat[0]!r}", field=name)
    return a


def _inputs(kind, S, K, T, r, q, **extra) -> tuple[np.ndarray, ...]:
    w = _sign(kind)
    arrays = [w, _number("S", S, True), _number("K", K, True), _number("T", T, True),
              _number("r", r, False), _number("q", q, False)]
    arrays += [_number(name, value, name == "sigma") for name, value in extra.items()]
    return tuple(np.broadcast_arrays(*arrays))


def _out(a: np.ndarray):
    """0-d results come back as numpy scalars, like numpy's own ufuncs."""
    return a[()] if a.ndim == 0 else a


def _d12(x: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d1, d2 from log-moneyness ``x = ln(F/K)`` and total deviation ``v = sigma*sqrt(T)``.

    At ``v == 0`` the limit ``v -> 0+`` is used (±inf, or 0 exactly at the money), so an
    expired or zero-volatility option is priced at its intrinsic value with no warnings.
    """
    d1 = x / v + 0.5 * v
    if np.any(v == 0):
        d1 = np.where(v == 0, np.where(x > 0, np.inf, np.where(x < 0, -np.inf, x * 0.0)), d1)
    return d1, d1 - v


def _forward(S, K, T, r, q):
    """Discounted forward and strike, and the log-moneyness between them."""
    fd = S * np.exp(-q * T)
    kd = K * np.exp(-r * T)
    x = np.log(S / K) + (r - q) * T
    return fd, kd, x


def black_scholes(kind, S, K, T, r, sigma, q=0.0):
    """Price of a European call or put under Black-Scholes-Merton.

    ``T`` in years, ``r`` and ``q`` continuously compounded rate and dividend yield,
    ``sigma`` per year. Arguments broadcast; a 0-d result is a numpy scalar.
    """
    w, S, K, T, r, q, sigma = _inputs(kind, S, K, T, r, q, sigma=sigma)
    with np.errstate(all="ignore"):
        fd, kd, x = _forward(S, K, T, r, q)
        xm = -np.abs(x)
        d1, d2 = _d12(xm, sigma * np.sqrt(T))
        b = _otm_value(xm, d1, d2, np.zeros(d1.shape, dtype=bool)).reshape(d1.shape)
        otm = np.maximum(fd, kd) * np.maximum(b, 0.0)
        s = np.where(x > 0, -1.0, 1.0)  # the out-of-the-money kind
        price = otm + np.where(w != s, w * (fd - kd), 0.0)  # parity for the other kind
    return _out(np.maximum(price, 0.0))


def greeks(kind, S, K, T, r, sigma, q=0.0) -> dict:
    """Sensitivities of :func:`black_scholes`, as a dict of arrays.

    ``delta`` and ``gamma`` are per unit of spot, ``vega`` per 1.0 of volatility (not per
    percentage point), ``theta`` per year of calendar time (the change as time passes,
    i.e. minus the derivative in ``T``) and ``rho`` per 1.0 of rate. These are the
    conventions of QuantLib's analytic engine, against which the tests check them.
    """
    w, S, K, T, r, q, sigma = _inputs(kind, S, K, T, r, q, sigma=sigma)
    with np.errstate(all="ignore"):
        fd, kd, x = _forward(S, K, T, r, q)
        sqrt_t = np.sqrt(T)
        v = sigma * sqrt_t
        d1, d2 = _d12(x, v)
        dq = np.exp(-q * T)
        pdf = fd * np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI  # = kd * phi(d2)
        n1 = ndtr(w * d1)
        n2 = ndtr(w * d2)
        # Where the density vanishes the limit is 0, whatever the 0/0 says.
        gamma = np.where(pdf == 0, 0.0, pdf / (S * S * v))
        decay = np.where(pdf * sigma == 0, 0.0, pdf * sigma / (2.0 * sqrt_t))
        out = {
            "delta": w * dq * n1,
            "gamma": gamma,
            "vega": pdf * sqrt_t,
            "theta": -decay - w * r * kd * n2 + w * q * fd * n1,
            "rho": w * kd * T * n2,
        }
    return {name: _out(value) for name, value in out.items()}


def implied_vol(kind, price, S, K, T, r, q=0.0):
    """The volatility at which :func:`black_scholes` gives ``price``.

    NaN where no volatility in ``[0, SIGMA_MAX]`` does: a price below intrinsic value, at
    or above the upper bound (the discounted forward for a call, the discounted strike for
    a put), non-finite inputs, or a positive time value at ``T == 0``. A price exactly at
    the intrinsic value gives 0.0.

    Each element is solved on its out-of-the-money price (parity removes the intrinsic
    value) by Newton's method on a log-transformed price, kept inside a bracket that every
    evaluation narrows, with a bisection step whenever Newton would leave it. The log keeps
    the steps well scaled where vega is tiny (deep out of the money, short expiries) and
    convergence is judged on the price, through the size of the Newton step it implies;
    the bracket makes convergence certain. Everything is vectorised; elements drop out of
    the working set as they converge, typically after three or four evaluations.
    """
    w, S, K, T, r, q, price = _inputs(kind, S, K, T, r, q, price=price)
    shape = w.shape
    with np.errstate(all="ignore"):
        fd, kd, x = _forward(S, K, T, r, q)
        s = np.where(x > 0, -1.0, 1.0)
        otm = price - np.where(w != s, w * (fd - kd), 0.0)
        upper = np.where(w > 0, fd, kd)
        big = np.maximum(fd, kd)
        beta = otm / big  # the out-of-the-money price per unit of the larger of fd, kd
        ok = np.isfinite(beta) & np.isfinite(x) & (beta >= 0) & (price < upper) & (big > 0)
        out = np.full(shape, np.nan)
        out[ok & (beta == 0)] = 0.0
        solve = ok & (beta > 0) & (T > 0)
        sqrt_t = np.sqrt(T[solve])
        v = _solve(-np.abs(x[solve]), beta[solve], SIGMA_MAX * sqrt_t)
        out[solve] = v / sqrt_t
    return _out(out)


def _otm_value(x, d1, d2, up):
    """Normalised out-of-the-money price ``b = e^x N(d1) - N(d2)`` (x <= 0, so the price
    per unit of the larger of discounted forward and strike), or, where ``up``, its
    distance below the ``v -> inf`` limit, ``e^x - b = e^x N(-d1) + N(d2)`` (a sum).

    Where ``d1 < 0`` both probabilities are tails and their difference cancels, badly so
    when ``v`` is small against ``|d1|``: ndtr's own relative error there (~1e-16 d^2)
    would be multiplied by ``|d1|/v``. With ``N(d) = phi(d) R(-d)``, Mills' ratio
    ``R(t) = sqrt(pi/2) erfcx(t/sqrt 2)``, and ``e^x phi(d1) = phi(d2)``, the difference
    becomes ``phi(d2) (R(-d1) - R(-d2))``, a cancellation between two O(1/|d|) numbers
    that erfcx gets to full precision. Where ``d2 < 0 <= d1``, ``N(d1) - N(d2)`` is a sum
    of two erfs, so a small ``v`` at the money (``b ~ 0.4 v``) is not the difference of
    two numbers near 1/2.
    """
    x, d1, d2, up = (np.ravel(a) for a in (x, d1, d2, up))
    y = np.empty(d1.shape)
    mills = ~up & (d1 < 0)
    for where, branch in ((up, _upper), (mills, _mills), (~up & ~mills, _plain)):
        i = np.flatnonzero(where)
        if i.size:
            y[i] = branch(x.take(i), d1.take(i), d2.take(i))
    return y


def _upper(x, d1, d2):
    return np.exp(x) * ndtr(-d1) + ndtr(d2)


def _mills(x, d1, d2):
    return (np.exp(-0.5 * d2 * d2) * (_INV_SQRT_2PI * _SQRT_HALF_PI)
            * (erfcx(-_SQRT_HALF * d1) - erfcx(-_SQRT_HALF * d2)))


def _plain(x, d1, d2):
    return 0.5 * (erf(_SQRT_HALF * d1) - erf(_SQRT_HALF * d2)) + np.expm1(x) * ndtr(d1)


def _otm(x, v, up):
    """:func:`_otm_value` at total deviation ``v``, with its derivative ``phi(d2)``."""
    d1 = x / v + 0.5 * v
    d2 = d1 - v
    return _otm_value(x, d1, d2, up), np.exp(-0.5 * d2 * d2) * _INV_SQRT_2PI


def _solve(x: np.ndarray, beta: np.ndarray, vmax: np.ndarray) -> np.ndarray:
    """Total deviation ``v`` with ``e^x N(x/v + v/2) - N(x/v - v/2) == beta``, x <= 0.

    The normalised price rises in ``v`` from 0 to ``e^x``, convex below ``vc =
    sqrt(-2x)`` and concave above. Below half its limit Newton runs on ``ln b`` (in
    ``1/v^2`` below ``vc``, where ``ln b ~ -x^2/(2 v^2)``), above on ``ln(e^x - b)``: both
    logs are concave and nearly linear in the variables they are stepped in, and neither
    loses a tiny price (or a tiny distance to the limit) in rounding. Every evaluation
    narrows the bracket ``[lo, hi]``; a step leaving it is replaced by bisection.
    """
    n = x.size
    result = np.full(n, np.nan)
    ex = np.exp(x)
    up = beta > 0.5 * ex
    target = np.where(up, ex - beta, beta)
    # Prices that need more than SIGMA_MAX stay NaN.
    ymax, _ = _otm(x, vmax, up)
    fits = np.where(up, ymax < target, ymax > beta)
    vc = np.sqrt(-2.0 * x)
    bc = 0.5 * (erf(_SQRT_HALF * vc) + np.expm1(x))  # the price at vc: d1 = 0, d2 = -vc
    low = beta < bc
    lo = np.where(low, 0.0, vc)
    hi = np.where(low, np.minimum(vc, vmax), vmax)
    v = _guess(x, beta, ex, low, vc, bc)
    v = np.where((v > lo) & (v < hi), v, 0.5 * (lo + hi))

    idx = np.flatnonzero(fits)
    x, up, target, lo, hi, v = (a[idx] for a in (x, up, target, lo, hi, v))
    vc = np.where(up, 0.0, vc[idx])  # where the 1/v^2 steps apply
    sign = np.where(up, -1.0, 1.0)  # ln(e^x - b) falls as v rises
    for _ in range(_MAX_ITER):
        if idx.size == 0:
            break
        y, vega = _otm(x, v, up)
        hit = y == target
        below = np.where(up, y > target, y < target)
        lo = np.where(below, v, lo)
        hi = np.where(below | hit, hi, v)
        step = sign * (np.log(target) - np.log(y)) * y / vega  # Newton step in v
        # Below vc, ln b ~ -x^2/(2 v^2) is nearly linear in 1/v^2: step in that instead.
        inv = 1.0 / (v * v) - 2.0 * step / (v * v * v)
        new = np.where(v < vc, 1.0 / np.sqrt(np.where(inv > 0, inv, np.nan)), v + step)
        mid = 0.5 * (lo + hi)
        new = np.where((new > lo) & (new < hi), new, mid)  # NaN fails this too
        # Converged: a step this small leaves ~1e-16 behind (so it is taken even if the
        # rounding in y puts it just past the bracket's edge), or the bracket has closed.
        small = np.abs(step) <= _STEP_TOL * v
        done = hit | small | (hi - lo <= 4e-16 * hi)
        final = np.where(hit, v, np.where(small, v + step, mid))
        result[idx[done]] = final[done]
        keep = np.flatnonzero(~done)
        idx, x, up, target, lo, hi, v, sign, vc = (
            a.take(keep) for a in (idx, x, up, target, lo, hi, new, sign, vc))
    result[idx] = v
    return result


_NEAR = 2.0  # how far (in ln b) below the inflection point its Taylor guess beats Mills


def _guess(x, beta, ex, low, vc, bc):
    """A start for Newton from asymptotic inverses, good to a few percent or better.

    Just below the inflection point ``vc`` (``b = bc``, slope ``s = phi(-vc)/bc`` of
    ``ln b``, and ``(ln b)'' = -s^2`` since ``b'' = 0`` there) the second-order Taylor
    expansion of ``ln b``; far below it Mills' ratio, ``b ~ phi(d2) v / (d1 d2)``, solved
    for ``v`` by a short fixed-point iteration (used only where that settled, else
    ``vc``); above ``vc``, ``e^x - b ~ (1 + e^x) N(-v/2)``.
    """
    depth = np.log(bc) - np.log(beta)
    near = vc + (1.0 - np.sqrt(1.0 + 2.0 * depth)) * bc / (ex * _INV_SQRT_2PI)
    ax = -x
    v = prev = 0.5 * vc
    for _ in range(4):
        prev = v
        d1d2 = np.maximum(ax * ax / (v * v) - 0.25 * v * v, 1e-300)
        rhs = -np.log(beta) - 0.5 * ax - 0.125 * v * v + np.log(v * _INV_SQRT_2PI / d1d2)
        v = np.where(rhs > 0, ax / np.sqrt(2.0 * np.maximum(rhs, 1e-300)), v)
    far = np.where((np.abs(v - prev) < 1e-2 * v) & (v < vc), v, vc)
    high = -2.0 * ndtri((ex - beta) / (1.0 + ex))
    return np.where(low, np.where(depth < _NEAR, near, far), high)
