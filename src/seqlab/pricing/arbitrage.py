"""Static no-arbitrage checks of an option price grid.

A price a risk team quotes must not be arbitrageable against the other quotes: for
European options on one underlying (Carr and Madan 2005, "A note on sufficient
conditions for no arbitrage", Finance Research Letters 2(3)) the call price must lie
between ``max(S − K·e^(−rT), 0)`` and ``S``, fall with the strike, be convex in it, and
(at zero rate, or for calls at any non-negative rate and no dividend) rise with expiry at
a fixed strike; puts mirror this (between ``max(K·e^(−rT) − S, 0)`` and ``K·e^(−rT)``,
rising and convex in strike). :func:`arbitrage_flags` returns, for every cell, the
checks it fails: a failed cell is reported, never quoted.
"""
from __future__ import annotations

import numpy as np

__all__ = ["arbitrage_flags", "CHECKS"]

CHECKS = ("bounds", "monotone", "convex", "calendar")
_TOL = 1e-9  # relative to the spot: round-off is not arbitrage


def arbitrage_flags(kind: np.ndarray, strike: np.ndarray, t_years: np.ndarray,
                    price: np.ndarray, spot: float, r: float = 0.0) -> np.ndarray:
    """Per cell, the failed checks joined by ``", "`` (``""``: passes all).

    The cells are any set of (kind, strike, expiry) with one price each; they are grouped
    by kind, and within a kind checked across strikes at each expiry and across expiries
    at each strike. A NaN price fails ``bounds``. A violation between two or three cells
    flags every cell of it: which of them is wrong cannot be told from the prices.
    """
    kind = np.asarray(kind).astype(str)
    k = np.asarray(strike, dtype=float)
    t = np.asarray(t_years, dtype=float)
    p = np.asarray(price, dtype=float)
    tol = _TOL * spot
    flags: list[set[str]] = [set() for _ in range(p.size)]
    disc_k = k * np.exp(-r * t)
    call = kind == "call"
    lower = np.where(call, np.maximum(spot - disc_k, 0.0), np.maximum(disc_k - spot, 0.0))
    upper = np.where(call, spot, disc_k)
    bad = ~np.isfinite(p) | (p < lower - tol) | (p > upper + tol)
    for i in np.flatnonzero(bad):
        flags[i].add("bounds")
    for w in ("call", "put"):
        sign = 1.0 if w == "call" else -1.0
        for ti in np.unique(t[kind == w]):
            idx = np.flatnonzero((kind == w) & (t == ti))
            idx = idx[np.argsort(k[idx], kind="stable")]
            _strike_checks(idx, k, p, sign, tol, flags)
        if w == "call" or r == 0.0:
            for ki in np.unique(k[kind == w]):
                idx = np.flatnonzero((kind == w) & (k == ki))
                idx = idx[np.argsort(t[idx], kind="stable")]
                for a, b in zip(idx, idx[1:]):
                    if p[b] < p[a] - tol:
                        flags[a].add("calendar")
                        flags[b].add("calendar")
    return np.asarray([", ".join(c for c in CHECKS if c in f) for f in flags], dtype=object)


def _strike_checks(idx: np.ndarray, k: np.ndarray, p: np.ndarray, sign: float, tol: float,
                   flags: list[set[str]]) -> None:
    """Monotone (calls fall, puts rise with strike) and convex in strike, one expiry."""
    for a, b in zip(idx, idx[1:]):
        if sign * (p[b] - p[a]) > tol:
            flags[a].add("monotone")
            flags[b].add("monotone")
    for a, b, c in zip(idx, idx[1:], idx[2:]):
        span = k[c] - k[a]
        if span <= 0:
            continue
        chord = (p[a] * (k[c] - k[b]) + p[c] * (k[b] - k[a])) / span
        if p[b] > chord + tol:
            for i in (a, b, c):
                flags[i].add("convex")
