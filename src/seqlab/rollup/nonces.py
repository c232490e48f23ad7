"""Transactions that spend the same account nonce: at most one of them executes.

A user who resends a stuck top-up, raises its tip, replaces it with a close or sends it
again through the delayed inbox signs every version with the same nonce, so whichever
is executed first consumes the nonce and every other version fails ("nonce too low")
without moving any money. Without this a retry would top the account up twice.
"""
from __future__ import annotations

import numpy as np

NONE_BOUND = np.iinfo(np.int64).max  # ``lowest_bound`` while nothing is bound


class Nonces:
    """Groups of transaction ids that share a nonce; ``claim`` enforces one per group."""

    def __init__(self) -> None:
        # per tx id: its group, -1 none; the last element is never bound and stays -1, so
        # a lookup clipped to the end answers "none" for ids past every bound one
        self.group = np.full(1, -1, dtype=np.int64)
        self.spent = np.zeros(0, dtype=bool)           # per group: executed already
        self._bound_ids: set[int] = set()              # every id ever bound
        self.lowest_bound = NONE_BOUND  # the least id ever bound: every id below is free
        # the last ids found to hold no bound one: a block's ids are tested twice, as
        # they execute (``claim``) and as their senders learn it (``Recourse.resolved``)
        self._clear: np.ndarray | None = None

    def open(self, n: int) -> np.ndarray:
        """``n`` fresh groups (one nonce each)."""
        start = len(self.spent)
        self.spent = np.concatenate((self.spent, np.zeros(n, dtype=bool)))
        return np.arange(start, start + n, dtype=np.int64)

    def bind(self, ids: np.ndarray, groups: np.ndarray) -> None:
        """Transactions ``ids`` spend the nonce of ``groups`` (one each)."""
        if not len(ids):
            return
        need = int(ids.max()) + 2  # room for the ids and the unbound last element
        if need > len(self.group):
            grown = np.full(max(need, 2 * len(self.group)), -1, dtype=np.int64)
            grown[: len(self.group)] = self.group
            self.group = grown
        self.group[ids] = groups
        self._bound_ids.update(ids.tolist())
        self.lowest_bound = min(self.lowest_bound, int(ids.min()))
        self._clear = None

    def of(self, ids: np.ndarray) -> np.ndarray:
        """The group of each of ``ids`` (-1: a transaction with a nonce of its own)."""
        return self.group.take(ids, mode="clip")  # past the end: the unbound last element

    def has_bound(self, ids: np.ndarray) -> bool:
        """Whether any of ``ids`` spends a shared nonce (most blocks hold none: a set
        test on a handful of Python ints, no array lookup; the same array asked again,
        with nothing bound since, is not tested again)."""
        if ids is self._clear or not self._bound_ids:
            return False
        if self._bound_ids.isdisjoint(ids.tolist()):
            self._clear = ids
            return False
        return True

    def claim(self, ids: np.ndarray) -> np.ndarray | None:
        """Which of ``ids`` (in execution order) may execute: an unbound transaction, or
        the first of its group whose nonce is still unspent. Marks their groups spent.
        None: every one may (none of them is bound), the common case, with no array made.

        A block holds a handful of transactions, so this walks them as Python ints."""
        if not self.has_bound(ids):
            return None
        groups = self.of(ids).tolist()
        spent, seen, ok = self.spent, set(), []
        for g in groups:
            if g < 0:
                ok.append(True)
            else:  # the first of its group in the block, on a nonce not spent before
                ok.append(g not in seen and not spent.item(g))
                seen.add(g)
        spent[sorted(seen)] = True
        return np.array(ok, dtype=bool)
