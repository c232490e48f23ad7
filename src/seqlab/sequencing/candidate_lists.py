"""Which pending transactions a committee round includes: its candidate lists, compiled.

Every round asks, of each of the dozen or so pending transactions, how many live members
have listed it (received it ``list_age`` before the lists were cut, a priority bundle at
once; byzantine members leave censored ones out) and whether that is enough (f+1 lists,
one for a bundle, and no bundle past one sent before it that is still out). The answer
is a count of integer comparisons, so a loop gives exactly what the array form gives
(``listed_arrays``, kept as the reference a Hypothesis test compares it with), without
the dozen small-array calls per round that made it the committee's bottleneck.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def listed(recv: np.ndarray, priority: np.ndarray, alive: np.ndarray, list_time: int,
           list_age: int, need: int, censored: np.ndarray, byzantine: np.ndarray
           ) -> np.ndarray:
    """Which rows of ``recv`` (pending txs × members' receive times, µs) go in: an
    ordinary tx once ``need`` live members received it by ``list_time - list_age``, a
    priority bundle once one member has it by ``list_time``; a ``censored`` tx is left
    out of the ``byzantine`` members' lists; bundles go in in row order with no gap."""
    m, n = recv.shape
    ok = np.empty(m, dtype=np.bool_)
    gap = False
    for i in range(m):
        bundle = priority[i]
        cut = list_time if bundle else list_time - list_age
        held = 0
        for j in range(n):
            if alive[j] and recv[i, j] <= cut and not (censored[i] and byzantine[j]):
                held += 1
        ok[i] = held >= (1 if bundle else need)
        if bundle:
            if not ok[i]:
                gap = True
            elif gap:  # no bundle goes in before the ones sent ahead of it
                ok[i] = False
    return ok


def listed_arrays(recv: np.ndarray, priority: np.ndarray, alive: np.ndarray,
                  list_time: int, list_age: int, need: int, censored: np.ndarray,
                  byzantine: np.ndarray) -> np.ndarray:
    """``listed`` over numpy arrays: the plain form, the reference for the kernel."""
    age = np.where(priority, 0, list_age)
    seen = (recv <= (list_time - age)[:, None]) & alive[None, :]
    seen[np.ix_(censored, byzantine)] = False
    ok = seen.sum(axis=1) >= np.where(priority, 1, need)
    bundles = np.flatnonzero(priority)
    gap = np.flatnonzero(~ok[bundles])
    if len(gap):
        ok[bundles[gap[0]:]] = False
    return ok
