"""The liquidatable accounts a liquidation would pay for: those not under water.

After a crash most liquidatable accounts are under water (equity at most 0): a
liquidation of one pays its liquidator nothing, so no bot whose floor is at least 0
weighs it, and under a planned liquidation nothing else changes for it either. On a
large market they pile up (thousands of 100,000 accounts, for hours), and finding them
again every block (every flag scanned, every such account's equity tested) became most
of a block's cost. ``AboveWater`` keeps the others instead, as the margin view changes:
an account's place in it changes only when the view recomputes it (``MarginView.since``:
its size, basis or margin touched), and all of it when the price moves.
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.market_view import NO_ACCOUNTS
from seqlab.protocols.perps import PerpsProtocol


class AboveWater:
    """The market's liquidatable accounts whose equity is above zero, in account order."""

    def __init__(self, p: PerpsProtocol) -> None:
        self.p = p
        self._seen = -1  # the margin view's generation ``_live`` is for (-1: none yet)
        self._live: set[int] = set()
        self._accounts = NO_ACCOUNTS

    def accounts(self) -> np.ndarray:
        """The accounts, on the state as it is (the view refreshed first); a read-only
        array, the same one while nothing changed."""
        view = self.p.margin_view.refresh()
        if view.generation == self._seen:
            return self._accounts
        changed = view.since(self._seen) if self._seen >= 0 else None
        if changed is None:  # the price moved, or too much to follow: every flag again
            self._live = set(self._above(view.below.nonzero()[0]).tolist()) \
                if view.count else set()
        elif len(changed):
            flagged = changed[view.below[changed]]
            self._live.difference_update(changed.tolist())
            if len(flagged):
                self._live.update(self._above(flagged).tolist())
        self._seen = view.generation
        accounts = np.array(sorted(self._live), dtype=np.int64) if self._live else NO_ACCOUNTS
        accounts.flags.writeable = False
        self._accounts = accounts
        return accounts

    def _above(self, flagged: np.ndarray) -> np.ndarray:
        """Those of ``flagged`` whose equity is above zero, exactly."""
        return flagged[~self.p.underwater(flagged)]
