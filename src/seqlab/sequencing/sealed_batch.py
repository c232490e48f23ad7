"""Sealed batches: a batch's order is fixed before anyone reads what is in it.

In a sealed-bid batch auction the sequencer closes a batch, commits to its order, and
only then are the contents opened and executed. The commitment is what takes the "last
look" away: once it exists nobody, the sequencer included, can move a transaction within
the batch or add one to it. ``BatchLog`` keeps every commitment as a read-only array with
a digest of the order and the close time, so an attempt to reorder in place raises and a
substituted order no longer matches its digest (``intact``).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


def order_digest(close_us: int, ids: np.ndarray) -> str:
    """A commitment to one batch: its close time and its transactions, in order."""
    h = hashlib.blake2b(digest_size=16)
    h.update(int(close_us).to_bytes(8, "little", signed=True))
    h.update(np.ascontiguousarray(ids, dtype=np.int64).tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class CommittedBatch:
    """One committed batch: when it closed, its order (read-only) and the digest of both."""

    close_us: int
    ids: np.ndarray
    digest: str

    @classmethod
    def seal(cls, close_us: int, ids: np.ndarray) -> "CommittedBatch":
        order = np.array(ids, dtype=np.int64, copy=True)
        order.setflags(write=False)
        return cls(int(close_us), order, order_digest(close_us, order))

    def intact(self) -> bool:
        """Whether the order is still the one committed to."""
        return order_digest(self.close_us, self.ids) == self.digest


class BatchLog:
    """Every batch a design committed, in commit order."""

    def __init__(self) -> None:
        self.batches: list[CommittedBatch] = []

    def commit(self, close_us: int, ids: np.ndarray) -> np.ndarray:
        """Commit ``ids`` as the order of the batch closing at ``close_us``; returns the
        committed, read-only order. Batches close one after another, never twice."""
        if self.batches and close_us <= self.batches[-1].close_us:
            raise ValueError(f"batch closing at {close_us} µs comes after the one closed at "
                             f"{self.batches[-1].close_us} µs")
        batch = CommittedBatch.seal(close_us, ids)
        self.batches.append(batch)
        return batch.ids

    def intact(self) -> bool:
        """Whether every committed order still matches its commitment."""
        return all(batch.intact() for batch in self.batches)

    def __len__(self) -> int:
        return len(self.batches)
