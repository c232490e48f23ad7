"""Honest priority-fee ordering (OP Stack-style): each block takes the highest tips first.

Non-extractive: the sequencer inserts nothing and delays nothing beyond what the fee
auction implies, but order is bought, not earned by arriving first.
"""
from __future__ import annotations

import numpy as np

from seqlab.rollup.fees import Capabilities
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick


class PriorityDesign(QueuedDesign):
    """Per block: eligible txs sorted by tip (descending), then arrival, then id."""

    name = "priority"
    capabilities = Capabilities(tips=True)

    def attach(self, view) -> None:
        self._txs = view.txs  # a TxView: the tips are on the envelope

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        order = np.lexsort((eligible, arrival, -self._txs.tip(eligible)))
        return eligible[order if self.capacity <= 0 else order[: self.capacity]]

