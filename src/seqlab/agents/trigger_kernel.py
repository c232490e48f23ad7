"""The margin managers' per-block look at the accounts that changed, in compiled code.

A block changes a handful of accounts, and testing each one's trigger in Python costs
about a microsecond of interpreter overhead per account on every block. ``examine``
makes the same float comparisons as the array form in ``reactive.MarginManagers``
(two multiplications and a comparison, no fused operations: numba contracts none
unless asked to with ``fastmath``), so it sets the same flags.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def examine(changed: np.ndarray, managed: np.ndarray, pending: np.ndarray, low: np.ndarray,
            due: np.ndarray, notional: np.ndarray, equity: np.ndarray, trigger: float,
            rate: float) -> int:
    """For each managed account in ``changed``: ``low`` is whether it has a requirement
    (``rate`` × notional, positive) and equity below ``trigger`` times it, ``due``
    whether it is low and not ``pending``. Returns how many more accounts are due than
    before (an account listed twice counts once)."""
    change = 0
    for k in range(len(changed)):
        i = changed[k]
        if not managed[i]:
            continue  # never low, never due
        req = rate * notional[i]
        is_low = req > 0 and equity[i] < trigger * req
        low[i] = is_low
        now_due = is_low and not pending[i]
        change += np.int64(now_due) - np.int64(due[i])
        due[i] = now_due
    return change


@njit(cache=True)
def examine_all(managed: np.ndarray, pending: np.ndarray, low: np.ndarray, due: np.ndarray,
                notional: np.ndarray, equity: np.ndarray, trigger: float, rate: float) -> int:
    """``examine`` of every account, written as the array form writes it (``low`` false
    for the unmanaged, ``due`` = ``low`` and not ``pending`` everywhere): after a price
    moved every account's equity. Returns how many are due."""
    count = 0
    for i in range(len(low)):
        req = rate * notional[i]
        is_low = managed[i] and req > 0 and equity[i] < trigger * req
        low[i] = is_low
        now_due = is_low and not pending[i]
        due[i] = now_due
        count += np.int64(now_due)
    return count
