"""Transactions that spend the same account nonce: at most one of them executes.

A user who resends a stuck top-up, raises its tip, replaces it with a close or sends it
again through the delayed inbox signs every version with the same nonce, so whichever
is executed first consumes the nonce and every other version fails ("nonce too low")
without moving any money. Without this a retry would top the account up twice.
"""
from __future__ import annotations

import numpy as np


class Nonces:
    """Groups of transaction ids that share a nonce; ``claim`` enforces one per group."""

    def __init__(self) -> None:
        self.group = np.full(0, -1, dtype=np.int64)   # per tx id: its group, -1 none
        self.spent = np.zeros(0, dtype=bool)           # per group: executed already
        self.bound = False                             # any transaction bound yet

    def open(self, n: int) -> np.ndarray:
        """``n`` fresh groups (one nonce each)."""
        start = len(self.spent)
        self.spent = np.concatenate((self.spent, np.zeros(n, dtype=bool)))
        return np.arange(start, start + n, dtype=np.int64)

    def bind(self, ids: np.ndarray, groups: np.ndarray) -> None:
        """Transactions ``ids`` spend the nonce of ``groups`` (one each)."""
        if not len(ids):
            return
        need = int(ids.max()) + 1
        if need > len(self.group):
            grown = np.full(max(need, 2 * len(self.group)), -1, dtype=np.int64)
            grown[: len(self.group)] = self.group
            self.group = grown
        self.group[ids] = groups
        self.bound = True

    def of(self, ids: np.ndarray) -> np.ndarray:
        """The group of each of ``ids`` (-1: a transaction with a nonce of its own)."""
        if len(ids) and np.maximum.reduce(ids) < len(self.group):  # usually: one lookup
            return self.group[ids]
        out = np.full(len(ids), -1, dtype=np.int64)
        known = ids < len(self.group)
        out[known] = self.group[ids[known]]
        return out

    def claim(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` (in execution order) may execute: an unbound transaction, or
        the first of its group whose nonce is still unspent. Marks their groups spent."""
        ok = np.ones(len(ids), dtype=bool)
        groups = self.of(ids)
        bound = (groups >= 0).nonzero()[0]
        if not len(bound):
            return ok
        g = groups[bound]
        first = np.zeros(len(bound), dtype=bool)
        first[np.unique(g, return_index=True)[1]] = True
        ok[bound] = first & ~self.spent[g]
        self.spent[g] = True
        return ok
