"""Transactions as columns: one growable array per field, a transaction is an index.

Columnar storage lets the network, the sequencer and the rollup move whole batches of
transactions with array operations; a Python object per transaction would dominate the
cost of a million-transaction run.
"""
from __future__ import annotations

from enum import IntEnum

import numpy as np


class Kind(IntEnum):
    """What a transaction asks the protocol to do."""

    ORACLE = 0      # a: price (micro-USD)
    TRADE = 1       # a: signed notional delta (micro-USD); b: limit price (0: none)
    CLOSE = 2       # close the whole position
    REDUCE = 3      # a: fraction to close, in basis points
    TOPUP = 4       # a: amount (micro-USD) from wallet to margin
    WITHDRAW = 5    # a: amount (micro-USD) from margin to wallet
    LIQUIDATE = 6   # b: target account
    POSITION = 7    # a: signed quantity (benchmark protocol)
    AUCTION = 8     # a: auction payment (micro-USD); b: 0 to the treasury, 1 to the proposer
    OPT_BUY = 9     # a: quantity (micro-units of the asset), b: option series
    OPT_TOPUP = 10  # a: amount (micro-USD) from a writer's wallet to its margin
    OPT_LIQUIDATE = 11  # b: writer account


class KindInt:
    """Each ``Kind`` as a plain int, to compare numpy arrays with: an array compared with
    an IntEnum member costs about five times more (numpy probes the member's class for
    array protocols, and Python 3.11's ``EnumType.__getattr__`` answers each probe
    slowly), which adds up in code run once per block."""

    ORACLE, TRADE, TOPUP = int(Kind.ORACLE), int(Kind.TRADE), int(Kind.TOPUP)
    LIQUIDATE, OPT_TOPUP = int(Kind.LIQUIDATE), int(Kind.OPT_TOPUP)
    OPT_LIQUIDATE = int(Kind.OPT_LIQUIDATE)
    CLOSE, REDUCE = int(Kind.CLOSE), int(Kind.REDUCE)


class Status(IntEnum):
    PENDING = 0
    OK = 1
    FAILED = 2


KIND_NAMES = np.array([k.name.lower() for k in Kind])
STATUS_NAMES = np.array([s.name.lower() for s in Status])

_COLUMNS: dict[str, tuple[type, int]] = {
    "kind": (np.int8, 0), "sender": (np.int32, 0), "submit_us": (np.int64, 0),
    "arrival_us": (np.int64, 0), "a": (np.int64, 0), "b": (np.int64, 0),
    "block": (np.int64, -1), "included_us": (np.int64, -1), "status": (np.int8, 0),
    "tip": (np.int64, 0),   # priority fee offered (micro-USD)
    "held": (np.int8, 0),   # 1 when the operator deliberately delayed this tx
    "fill": (np.int64, 0),  # fill price of an executed trade (micro-USD)
}


class TxStore:
    """All transactions of a run. Columns are numpy arrays; ``n`` rows are in use."""

    def __init__(self, capacity: int = 1024) -> None:
        self.n = 0
        self._cap = max(16, capacity)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self._cap, fill, dtype=dtype))

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, self._cap * 2)
        for name, (dtype, fill) in _COLUMNS.items():
            new = np.full(cap, fill, dtype=dtype)
            new[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, new)
        self._cap = cap

    def add_many(self, kind: int | np.ndarray, sender: int | np.ndarray, submit_us: np.ndarray,
                 arrival_us: np.ndarray, a: int | np.ndarray = 0,
                 b: int | np.ndarray = 0, tip: int | np.ndarray = 0) -> np.ndarray:
        """Append a batch; returns the new transaction ids."""
        count = len(submit_us)
        start = self.n
        self._grow(start + count)
        sl = slice(start, start + count)
        self.kind[sl] = kind
        self.sender[sl] = sender
        self.submit_us[sl] = submit_us
        self.arrival_us[sl] = arrival_us
        self.a[sl] = a
        self.b[sl] = b
        self.tip[sl] = tip
        self.n = start + count
        return np.arange(start, start + count, dtype=np.int64)

    def add_one(self, kind: int, sender: int, submit_us: int, arrival_us: int, a: int = 0,
                b: int = 0, tip: int = 0) -> int:
        """Append one transaction (``add_many`` of one, element by element: the operator
        inserts its own transactions one at a time); returns its id."""
        i = self.n
        self._grow(i + 1)
        self.kind[i], self.sender[i], self.submit_us[i] = kind, sender, submit_us
        self.arrival_us[i], self.a[i], self.b[i], self.tip[i] = arrival_us, a, b, tip
        self.n = i + 1
        return i

    def column(self, name: str) -> np.ndarray:
        """The used part of a column (a view)."""
        return getattr(self, name)[: self.n]
