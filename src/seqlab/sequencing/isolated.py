"""Isolated sequencing (``[rollups] sequencing = "isolated"``): every rollup its own
sequencer, with its own outages and no message reaching two of them at once.

Each rollup is assembled and runs exactly as it would alone (its own draw of down
windows, its own design, or the one ``rollups.designs`` names for it); a cross-rollup
arbitrage sends each leg to its own rollup's sequencer, so nothing ties the legs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from seqlab.scenario.schema import Rollups
from seqlab.sequencing.rollups_design import RollupsDesign


class IsolatedSequencers(RollupsDesign):
    """One sequencer per rollup: nothing shared, nothing placed ahead of a block."""

    name = "isolated"

    def __init__(self, cfg: Rollups) -> None:
        if cfg.operator == "extractive":
            raise ValueError("rollups.operator = 'extractive' is a shared sequencer's (it "
                             "sees every rollup's bundles); allowed under isolated: "
                             "'honest' (give each rollup its own operator with "
                             "rollups.designs)")
        super().__init__(cfg)

    def lead(self, now: int, up: Sequence[bool]) -> list[np.ndarray | None]:
        return [None] * len(up)
