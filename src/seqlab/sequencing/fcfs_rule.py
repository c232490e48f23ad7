"""When a design's block is the first-come-first-served block of what reached it.

A runner that plays a stretch of blocks in compiled code (``protocols/perps_stretch``)
builds each block as FCFS does: every arrival by the tick, in arrival order. A design
may let it do so for the blocks it would build the same way, and says which with an
``FcfsRule``: an honest FCFS sequencer for every block; a centralized operator for a
block that gives it nothing to act on (``Operator.fcfs_rule``). The runner hands such
a block back to the design, untouched, whenever the rule does not vouch for it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

NEVER = (1 << 63) - 1  # no trade is that large: none is wrapped
# what a block holding an oracle update is: the design's own; FCFS with the update in
# its place; FCFS with the block's updates moved ahead of the rest, where the operator
# adds nothing to them (a move within ``stale_move``, nobody liquidatable at its price)
NO_UPDATES, UPDATES_IN_PLACE, UPDATES_FIRST = range(3)


@dataclass(frozen=True)
class FcfsRule:
    """Which blocks a design builds as FCFS of what reaches it (what it holds back, as
    ``Design.held`` says, staying held) when it has no block limit.

    ``updates``: what a block holding an oracle update is (``NO_UPDATES``,
    ``UPDATES_IN_PLACE``, ``UPDATES_FIRST``). A trade the operator might wrap is not
    one: a ``Kind.TRADE`` of ``|amount| >= wrap_least`` (micro-USD) whose size in
    micro-units at the price after the block's updates, ``|amount| * 1e6 // price``,
    over ``wrap_scale`` exceeds ``wrap_fees`` (``Operator._sandwiches``'s test, where
    the impact pays two fees)."""

    updates: int = UPDATES_IN_PLACE
    stale_move: float = math.inf
    wrap_least: int = NEVER
    wrap_scale: int = 1
    wrap_fees: float = 0.0
    # a top-up the design holds (``Design.held``) stays held while it has waited less
    # than ``hold_for`` (µs) and its account, not liquidatable, is at risk: a notional
    # above 0 and equity below ``hold_margin`` × notional (``Operator._censor``)
    hold_for: int = 0
    hold_margin: float = 0.0
    # the delayed inbox's first message, includable, a top-up held before: held again
    # while includable for less than ``hold_for`` and its account at risk by
    # ``inbox_margin`` (``Operator.admit_delayed``); 0: the design takes what is includable.
    # The same trigger × maintenance as ``hold_margin``, but computed as that method
    # computes it (``trigger * mm_ppm / 1e6``, not ``trigger * (mm_ppm / 1e6)``): the two
    # may round one bit apart, and the kernel answers as each test would
    inbox_margin: float = 0.0


FCFS = FcfsRule()  # every block
