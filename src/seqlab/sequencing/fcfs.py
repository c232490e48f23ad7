"""Centralized, honest, first-come-first-served sequencing (Arbitrum-style).

Transactions are sequenced in the order they reached the sequencer. With a per-block
limit ``c`` the queue obeys ``S_k = min(S_{k-1} + c, A_k)`` (``S``: served by tick k,
``A``: arrived by tick k), whose closed form ``S_k = k·c + min(c, min_{j≤k}(A_j − j·c))``
lets a whole window of ticks be sequenced with one cumulative minimum instead of a loop.
"""
from __future__ import annotations

import numpy as np

from seqlab.sequencing.base import Blocks, QueuedDesign
from seqlab.sequencing.fcfs_rule import FCFS, FcfsRule


def served_by_tick(arrived: np.ndarray, capacity: int) -> np.ndarray:
    """Cumulative number of transactions served by each tick (FCFS with a block limit).

    ``arrived[k]`` is the cumulative number available by tick ``k``; ``capacity`` 0 means
    unlimited.
    """
    if capacity <= 0:
        return arrived.copy()
    k = np.arange(len(arrived), dtype=np.int64)
    slack = np.minimum.accumulate(arrived - k * capacity)
    return k * capacity + np.minimum(capacity, slack)


class FcfsDesign(QueuedDesign):
    """First come, first served by receive time; ties broken by transaction id."""

    name = "fcfs"

    def fcfs_rule(self) -> FcfsRule | None:
        """Every block, without a block limit (a subclass builds blocks its own way:
        it says its own rule)."""
        return FCFS if type(self) is FcfsDesign and self.capacity <= 0 else None

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        q = self.queue
        if len(ticks) == 1:  # one block: the arrived prefix, up to the block limit
            n = q.arrived_by(int(ticks[0]))
            if self.capacity > 0:
                n = min(n, self.capacity)
            ids = q.ids[:n]
            q.drop_head(n)
            return Blocks(ids, np.zeros(n, dtype=np.int64))
        eligible_tick = np.searchsorted(ticks, q.arrival, side="left")
        arrived = np.searchsorted(eligible_tick, np.arange(len(ticks)), side="right")
        served = served_by_tick(arrived.astype(np.int64), self.capacity)
        n = int(served[-1]) if len(served) else 0
        ids = q.ids[:n]
        tick_index = np.searchsorted(served, np.arange(n), side="right")
        q.drop_head(n)
        return Blocks(ids, tick_index.astype(np.int64))
