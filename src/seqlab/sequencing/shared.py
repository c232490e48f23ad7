"""One sequencer for several rollups (``[rollups] sequencing = "shared"``), a design for
several rollups (``sequencing.rollups_design``).

Every rollup of a cluster is assembled the way a one-rollup world is (``World``) and
runs its own ordering rule (``[sequencer] design``); under a shared sequencer it takes
its seat on this object at the end of its assembly. The first rollup seated brings the
sequencer's down windows (drawn from its own stream, its scheduled outages included),
and every later one takes them over: one sequencer, one outage, every rollup halted at
once. Committees join one consensus whose rounds carry every rollup's transactions
(``committee.SharedRounds``).

Cross-rollup bundles reach it as one message (``seqlab.bundles``) and, in a round where
every rollup's design has a committed block, one bundle per rollup goes at the top of
each leg's block: all legs or none. ``rollups.bundle_execution`` says whether they
also execute together; ``rollups.operator = "extractive"`` gives it an operator of its
own that trades ahead of the bundles it sees (``seqlab.cross_operator``), from one
account on every rollup.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from seqlab.bundles import SharedBundles
from seqlab.cross_operator import CrossRollupOperator
from seqlab.scenario.schema import Rollups
from seqlab.sequencing.base import Design
from seqlab.sequencing.committee import CommitteeDesign, SharedRounds
from seqlab.sequencing.rollups_design import RollupsDesign, Seat


class SharedSequencer(RollupsDesign):
    """The sequencer several rollups share: its down windows, its consensus, its
    cross-rollup bundles."""

    name = "shared"

    def __init__(self, cfg: Rollups) -> None:
        if cfg.designs:
            raise ValueError("rollups.designs is for isolated sequencing (a shared "
                             "sequencer is one design: [sequencer] design)")
        super().__init__(cfg)
        self.extractive = cfg.operator == "extractive"
        self.accounts = int(self.extractive)  # the operator's, on every rollup
        self.outages: np.ndarray | None = None  # the first rollup's down windows
        self.rounds = SharedRounds()
        self._bundles: SharedBundles | None = None

    @property
    def bundles(self) -> SharedBundles | None:
        return self._bundles

    def seat(self, design: Design, outages: np.ndarray) -> np.ndarray:
        """Seat a rollup whose design is ``design`` and whose own draw of down windows is
        ``outages``; returns the windows it runs under (the first rollup's)."""
        if self.outages is None:
            self.outages = outages
        if isinstance(design, CommitteeDesign):
            design.join(self.rounds)
        return self.outages

    def connect(self, seats: Sequence[Seat], account: int) -> None:
        super().connect(seats, account)
        operator = CrossRollupOperator(seats, account) if self.extractive else None
        self._bundles = SharedBundles(seats, self.cfg.bundle_execution == "atomic", operator)

    def lead(self, now: int, up: Sequence[bool]) -> list[np.ndarray | None]:
        """The bundles' legs, in a round where the sequencer is up and every rollup's
        design has a committed block for them to ride in (checked rollup by rollup, the
        first that has none ending the check: a committee runs its rounds as asked)."""
        if up[0] and all(seat.design.commits_by(now) for seat in self.seats):
            return self._bundles.top_of_blocks(now)
        return [None] * len(up)
