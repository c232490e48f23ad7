"""One sequencer for several rollups (``[rollups] sequencing = "shared"``), as each
rollup's assembly meets it.

Every rollup of a cluster is assembled the way a one-rollup world is (``World``); under a
shared sequencer it takes its seat on this object at the end of its assembly, instead of
the cluster patching the built rollups afterwards. The first rollup seated brings the
sequencer's down windows (drawn from its own stream, its scheduled outages included), and
every later one takes them over: one sequencer, one outage, every rollup halted at once.
Committees join one consensus whose rounds carry every rollup's transactions
(``committee.SharedRounds``).
"""
from __future__ import annotations

import numpy as np

from seqlab.sequencing.base import Design
from seqlab.sequencing.committee import CommitteeDesign, SharedRounds


class SharedSequencer:
    """The sequencer several rollups share: its down windows and its consensus."""

    def __init__(self) -> None:
        self.outages: np.ndarray | None = None  # the first rollup's down windows
        self.rounds = SharedRounds()

    def seat(self, design: Design, outages: np.ndarray) -> np.ndarray:
        """Seat a rollup whose design is ``design`` and whose own draw of down windows is
        ``outages``; returns the windows it runs under (the first rollup's)."""
        if self.outages is None:
            self.outages = outages
        if isinstance(design, CommitteeDesign):
            design.join(self.rounds)
        return self.outages
