"""Timeboost (as deployed on Arbitrum): FCFS with an express lane sold by auction.

The lane — its auction every ``round`` (60 s), its searchers and what its controller
sends — is ``sequencing.express_lane``. What this design adds is where the controller's
transactions go: they are sequenced at once, in order of the time they reached the
sequencer, while every other transaction is delayed by ``delay`` (200 ms); apart from
that the order is first come, first served, so an express transaction can land right
behind an ordinary one (an oracle update) in the same block.
"""
from __future__ import annotations

import numpy as np

from seqlab.rollup.fees import Capabilities
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.express_lane import ExpressLane, second_price_auction
from seqlab.sequencing.express_rounds import RoundBook

__all__ = ["TimeboostDesign", "second_price_auction"]


class TimeboostDesign(QueuedDesign):
    """FCFS on (arrival + delay) for everyone but the express-lane controller."""

    name = "timeboost"
    capabilities = Capabilities(express_lane=True)  # round prices go to the treasury

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.tb = cfg.timeboost
        self.lane = ExpressLane(self.tb, cfg.strategy, strategies, delay=self.tb.delay,
                                behind_updates=True)
        self.view = None
        self._prev_tick: int | None = None

    @property
    def book(self) -> RoundBook:
        return self.lane.book

    @property
    def rounds(self) -> list[tuple[int, int | None, float]]:
        return self.lane.rounds

    def attach(self, view) -> None:
        self.view = view
        self.lane.attach(view)

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Queue by effective time: everyone else's transactions wait ``delay``."""
        self.queue.add(ids, arrival_us + self.tb.delay)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, effective: np.ndarray, now: int) -> np.ndarray:
        """The auction's settlement first, then everything in order of the time it
        reached the sequencer's queue: the controller's on arrival, others' ``delay`` later."""
        prev = now - self.block_time if self._prev_tick is None else self._prev_tick
        self._prev_tick = now
        head, ids, times = self.lane.step(now, prev)
        if ids:
            at = np.searchsorted(effective, np.asarray(times, dtype=np.int64), side="right")
            eligible = np.insert(eligible, at, np.asarray(ids, dtype=np.int64))
        block = np.concatenate((np.asarray(head, dtype=np.int64), eligible)) if head else \
            eligible
        return block if self.capacity <= 0 else block[: self.capacity]

    def metrics(self, horizon_us: int) -> dict:
        return self.lane.metrics(horizon_us)
