"""The margin view's partial refresh in compiled code.

A block touches a handful of accounts, and recomputing each one's equity, notional and
liquidatable flag in Python costs a few microseconds of interpreter overhead per account
on every block. ``recompute`` does the element-wise arithmetic of ``margin_arrays`` and
``below_maintenance`` (``protocols.perps``) for the accounts listed: the same IEEE
operations in the same order, without fused multiply-adds (numba contracts none unless
asked to with ``fastmath``), so the same bits as the array form.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def account_margin(i: int, price: float, mm_ppm: int, balances: np.ndarray,
                   margin: np.ndarray, size: np.ndarray, basis: np.ndarray
                   ) -> tuple[float, float, bool]:
    """Account ``i``'s equity, notional and below-maintenance flag at ``price`` (USD per
    unit): ``margin_arrays`` and ``below_maintenance`` for one account."""
    units = size[i]
    n = np.float64(abs(units)) * price
    e = np.float64(balances[margin[i]]) + np.float64(units) * price - np.float64(basis[i])
    return e, n, units != 0 and e * np.float64(1_000_000) < np.float64(mm_ppm) * n


@njit(cache=True)
def recompute(accounts: np.ndarray, price: float, mm_ppm: int, balances: np.ndarray,
              margin: np.ndarray, size: np.ndarray, basis: np.ndarray, equity: np.ndarray,
              notional: np.ndarray, below: np.ndarray) -> int:
    """Equity, notional and the below-maintenance flag of each of ``accounts`` at
    ``price`` (USD per unit), written in place (an account listed twice is computed
    twice, to the same values). Returns how many more flags are set than before (an
    account listed twice counts once: its second pass finds its own new flag)."""
    change = 0
    for k in range(len(accounts)):
        i = accounts[k]
        equity[i], notional[i], flag = account_margin(i, price, mm_ppm, balances, margin,
                                                      size, basis)
        change += np.int64(flag) - np.int64(below[i])
        below[i] = flag
    return change
