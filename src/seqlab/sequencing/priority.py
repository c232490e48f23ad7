"""Honest priority-fee ordering (OP Stack-style): each block takes the highest tips first.

Non-extractive: the sequencer inserts nothing and delays nothing beyond what the fee
auction implies, but order is bought, not earned by arriving first.
"""
from __future__ import annotations

import numpy as np

from seqlab.sequencing.base import Blocks, Design, PendingQueue, blocks_per_tick


class PriorityDesign(Design):
    """Per block: eligible txs sorted by tip (descending), then arrival, then id."""

    name = "priority"
    uses_tips = True

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.queue = PendingQueue()

    def attach(self, view) -> None:
        self._txs = view.txs

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        self.queue.add(ids, arrival_us)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        order = np.lexsort((eligible, arrival, -self._txs.tip[eligible]))
        return eligible[order if self.capacity <= 0 else order[: self.capacity]]

    def pending(self) -> int:
        return len(self.queue)
