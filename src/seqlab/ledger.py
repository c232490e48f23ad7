"""Integer double-entry ledger in micro-USD.

Every movement of value is a transfer from one account to another with a reason, so the
sum of all balances is zero at every instant (deposits come from the ``external``
account, which goes negative). ``check`` proves it at the end of a run in two independent
ways: the balances sum to zero, and replaying the journal from scratch reproduces every
balance exactly. A run whose check fails raises ``LedgerImbalance``: never a silent
result.
"""
from __future__ import annotations

from itertools import chain
from typing import Sequence

import numpy as np

from seqlab.ledger_kernel import pay_capped

EXTERNAL = 0


SCALAR_BATCH = 65_536  # single transfers kept as tuples before they become array rows
RECORDED_BATCH = 8_192  # recorded row arrays (a block's, ~6 rows each) kept before joined


def _tuple_rows(rows: list[Sequence[int]]) -> np.ndarray:
    """``(src, dst, amount, code)`` tuples as an (n, 4) int64 array."""
    n = len(rows)
    return np.fromiter(chain.from_iterable(rows), np.int64, 4 * n).reshape(n, 4)


class LedgerImbalance(AssertionError):
    """Value was created or destroyed: a bug in seqlab, never a user error."""


class Ledger:
    """Accounts are integer indices; ``balances`` is one int64 array."""

    def __init__(self) -> None:
        self.names: list[str] = ["external"]
        self.balances = np.zeros(64, dtype=np.int64)
        self._reasons: dict[str, int] = {}
        # pending journal entries in order: (src, dst, amount, code) tuples of single
        # transfers and (n, 4) arrays of recorded rows
        self._pending: list[Sequence[int] | np.ndarray] = []
        self._chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    # accounts -----------------------------------------------------------------------
    def open(self, name: str) -> int:
        """Open one named account; returns its index."""
        return int(self.open_many(name, 1)[0])

    def open_many(self, prefix: str, n: int) -> np.ndarray:
        """Open ``n`` accounts named ``prefix[i]``; returns their indices."""
        start = len(self.names)
        self.names.extend([prefix] if n == 1 else [f"{prefix}[{i}]" for i in range(n)])
        if len(self.names) > len(self.balances):
            grown = np.zeros(max(len(self.names), 2 * len(self.balances)), dtype=np.int64)
            grown[: len(self.balances)] = self.balances
            self.balances = grown
        return np.arange(start, start + n, dtype=np.int64)

    def known_codes(self, names: tuple[str, ...]) -> list[int]:
        """Codes of those reasons that some transfer has used (a view: opens none)."""
        return [self._reasons[n] for n in names if n in self._reasons]

    def reason(self, name: str) -> int:
        code = self._reasons.get(name)
        if code is None:
            code = self._reasons[name] = len(self._reasons)
        return code

    # transfers ----------------------------------------------------------------------
    def transfer(self, src: int, dst: int, amount: int, reason: str) -> None:
        """Move ``amount`` (a non-negative int, micro-USD) from ``src`` to ``dst``."""
        if amount < 0:
            raise ValueError(f"negative transfer {amount} ({reason})")
        if amount == 0:
            return
        balances = self.balances
        balances[src] = balances.item(src) - amount  # item(): a Python int, no scalar object
        balances[dst] = balances.item(dst) + amount
        code = self._reasons.get(reason)
        self._pending.append((src, dst, amount, self.reason(reason) if code is None else code))
        if len(self._pending) >= SCALAR_BATCH:  # Python tuples cost ~5x an array row
            self._flush_pending()

    def pay_capped(self, src: np.ndarray, dst: int, amounts: np.ndarray, reason: str) -> None:
        """Each of ``src`` pays ``dst`` its amount, or its whole balance if less, in
        order (a payer listed twice pays the second time from what the first left):
        exactly ``transfer`` of ``min(amount, balance)`` one by one, in compiled code."""
        if not len(src):
            return
        code = self._reasons.get(reason)
        rows = np.empty((len(src), 4), dtype=np.int64)
        n = pay_capped(np.asarray(src, np.int64), dst, np.asarray(amounts, np.int64),
                       -1 if code is None else code, self.balances, rows)
        made = n if n >= 0 else -1 - n
        if made:
            if code is None:  # the reason's first use, as ``transfer`` would give it
                rows[:made, 3] = self.reason(reason)
            self._pending.append(rows[:made])
            if len(self._pending) >= RECORDED_BATCH:
                self._flush_pending()
        if n < 0:
            k = -1 - n
            owed = min(int(amounts[k]), self.balances.item(int(src[k])))
            raise ValueError(f"negative transfer {owed} ({reason})")

    def record(self, rows: np.ndarray) -> None:
        """Journal transfers compiled code has already applied to ``balances``: rows of
        ``(src, dst, amount, code)`` in the order they were made, each code one this
        ledger gave (``reason``, at the reason's first use, as ``transfer`` gives it).
        Kept as one array among the single transfers' tuples, in order (converting the
        rows to Python ints cost more than the block's transfers themselves)."""
        pending = self._pending
        pending.append(rows.copy())  # the caller reuses its buffer
        if len(pending) >= RECORDED_BATCH:
            self._flush_pending()

    def transfer_many(self, src: np.ndarray | int, dst: np.ndarray | int,
                      amounts: np.ndarray | int, reason: str) -> None:
        """Vectorised transfers (one reason); arrays broadcast against each other."""
        src_a, dst_a, amt = np.broadcast_arrays(np.asarray(src, np.int64),
                                                np.asarray(dst, np.int64),
                                                np.asarray(amounts, np.int64))
        if amt.size == 0:
            return
        if (amt < 0).any():
            raise ValueError(f"negative transfer in batch ({reason})")
        self._flush_pending()
        np.subtract.at(self.balances, src_a, amt)
        np.add.at(self.balances, dst_a, amt)
        code = np.full(amt.size, self.reason(reason), dtype=np.int16)
        self._chunks.append((src_a.ravel().copy(), dst_a.ravel().copy(), amt.ravel().copy(),
                             code))

    def _flush_pending(self) -> None:
        """The pending transfers, in order, as one chunk of array rows: runs of single
        transfers' tuples flattened (an int64 array from tuples costs ~10x more), and
        recorded row arrays as they are."""
        if not self._pending:
            return
        parts: list[np.ndarray] = []
        run: list[Sequence[int]] = []
        for item in self._pending:
            if type(item) is tuple:
                run.append(item)
            else:
                if run:
                    parts.append(_tuple_rows(run))
                    run = []
                parts.append(item)
        if run:
            parts.append(_tuple_rows(run))
        arr = parts[0] if len(parts) == 1 else np.concatenate(parts)
        self._chunks.append((arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(np.int16)))
        self._pending = []

    # views --------------------------------------------------------------------------
    def journal(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """All transfers so far as arrays ``(src, dst, amount, reason_code)``."""
        self._flush_pending()
        if not self._chunks:
            empty = np.empty(0, np.int64)
            return empty, empty, empty, np.empty(0, np.int16)
        if len(self._chunks) > 1:
            self._chunks = [tuple(np.concatenate(c) for c in zip(*self._chunks))]
        return self._chunks[0]

    def totals_by_reason(self) -> dict[str, int]:
        """Total micro-USD moved per reason."""
        _, _, amt, code = self.journal()
        return {name: int(amt[code == c].sum()) for name, c in self._reasons.items()}

    def balance_of(self, account: int) -> int:
        return int(self.balances[account])

    def check(self) -> int:
        """Prove conservation; returns the residual (0) or raises ``LedgerImbalance``."""
        n = len(self.names)
        bal = self.balances[:n]
        residual = int(bal.sum())
        src, dst, amt, _ = self.journal()
        replay = np.zeros(n, dtype=np.int64)
        np.subtract.at(replay, src, amt)
        np.add.at(replay, dst, amt)
        mismatch = np.flatnonzero(replay != bal)
        if residual != 0 or mismatch.size:
            where = f"; journal disagrees for {self.names[int(mismatch[0])]}" if mismatch.size \
                else ""
            raise LedgerImbalance(f"ledger does not balance: residual {residual} micro-USD{where}")
        negative = np.flatnonzero(bal[1:] < 0)
        if negative.size:
            raise LedgerImbalance(f"account {self.names[int(negative[0]) + 1]} is negative: "
                                  f"{int(bal[negative[0] + 1])} micro-USD")
        return residual
