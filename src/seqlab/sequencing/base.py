"""The one small interface every sequencer design implements.

A design receives transactions (ids with their receive times, never before they have
arrived) and, when the rollup ticks, returns the order in which they go into blocks. The
rollup may ask for several consecutive ticks at once (``ticks`` is an array) when nothing
else can happen in between; a design answers as if it had been asked tick by tick.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from seqlab.scenario.schema import Sequencer


@dataclass
class Blocks:
    """Output of ``build_blocks``: tx ids in execution order, and the tick each lands in."""

    ids: np.ndarray        # int64 tx ids, in order
    tick_index: np.ndarray  # int64 index into the ``ticks`` array, non-decreasing


class Design(ABC):
    """A sequencer design (ordering policy). Subclasses register a ``name``."""

    name: str = "abstract"

    def __init__(self, cfg: Sequencer) -> None:
        self.cfg = cfg
        self.block_time = cfg.block_time
        self.capacity = cfg.max_txs_per_block

    @abstractmethod
    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Transactions that reached the sequencer (sorted by arrival, then id)."""

    @abstractmethod
    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        """Order pending transactions into the blocks produced at ``ticks``."""

    @abstractmethod
    def pending(self) -> int:
        """Transactions received but not yet sequenced."""
