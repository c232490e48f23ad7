"""A centralized sequencer whose operator orders for its own gain.

FCFS underneath, with an ``Operator`` (see ``strategies``) that has every power a
centralized sequencer has: it sees contents, orders, holds back and inserts.
"""
from __future__ import annotations

import numpy as np

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.fcfs_rule import FcfsRule
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.strategies import ALL_STRATEGIES, Operator

__all__ = ["ALL_STRATEGIES", "ExtractiveDesign"]


class ExtractiveDesign(QueuedDesign):
    """FCFS plus the operator strategies named in ``strategies``."""

    name = "extractive"

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ALL_STRATEGIES,
                 name: str | None = None) -> None:
        super().__init__(cfg)
        self.operator = Operator(cfg.strategy, strategies)
        self.name = name or self.name

    def attach(self, view: OperatorView) -> None:
        self.operator.attach(view)

    def honours_bundles(self, t_us: int) -> bool:
        """An operator that backruns updates puts its own liquidations right behind one."""
        return "backrun" not in self.operator.strategies

    def fcfs_rule(self) -> FcfsRule | None:
        """The blocks that give the operator nothing to act on, without a block limit
        (a subclass says its own rule)."""
        if type(self) is not ExtractiveDesign or self.capacity > 0:
            return None
        return self.operator.fcfs_rule()

    def held(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The top-ups the operator censors, while it has no round trip open."""
        if not self.operator.idle():
            return None
        return self.operator.holding(self.queue.ids, self.queue.arrival)

    def admit_delayed(self, ids: np.ndarray, ready_us: np.ndarray, now: int) -> int:
        return self.operator.admit_delayed(ids, ready_us, now)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        block = self.operator.plan(eligible, arrival, now)
        return block if self.capacity <= 0 else block[: self.capacity]
