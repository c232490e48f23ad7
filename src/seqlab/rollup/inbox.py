"""The delayed inbox: the path to L2 that goes through L1 instead of the sequencer.

A message (a user's signed transaction, or the sequencer uptime feed's report) is sent
to an L1 contract and lands in the next L1 block. An honest sequencer includes it once
it trusts that L1 block not to be reorganised: Arbitrum's sequencer releases delayed
messages 40 L1 blocks (8 min) after they land; an OP Stack sequencer includes deposits
once its L1 origin passes them, a few L1 blocks later. A sequencer may ignore the
inbox, but only for ``force_inclusion_window`` (Arbitrum 24 h, OP Stack's sequencing
window 12 h): then anyone forces the messages in, in inbox order. The sequencer cannot
pick messages out of the inbox: it includes a prefix, so delaying one delays all later.
"""
from __future__ import annotations

import numpy as np

from seqlab.units import ceil_to


class DelayedInbox:
    """Messages posted on L1, in inbox order, waiting to be included on L2."""

    def __init__(self, l1_block_us: int, delay_us: int) -> None:
        self.l1_block_us, self.delay_us = l1_block_us, delay_us
        self.ids = np.empty(0, dtype=np.int64)
        self.posted = np.empty(0, dtype=np.int64)
        self.posted_count = 0

    def post(self, ids: np.ndarray, sent_us: np.ndarray) -> np.ndarray:
        """Send ``ids`` to the inbox at ``sent_us``; returns when each lands on L1."""
        posted = ceil_to(np.asarray(sent_us, dtype=np.int64), self.l1_block_us)
        ids = np.concatenate((self.ids, ids))
        at = np.concatenate((self.posted, posted))
        order = np.lexsort((ids, at))
        self.ids, self.posted = ids[order], at[order]
        self.posted_count += len(posted)
        return posted

    def ready(self, now: int) -> int:
        """How many messages (a prefix) an honest sequencer may include at ``now``."""
        return int(self.posted.searchsorted(now - self.delay_us, side="right"))

    def ready_at(self, n: int) -> np.ndarray:
        """When each of the first ``n`` messages became includable."""
        return self.posted[:n] + self.delay_us

    def forceable(self, now: int, window_us: int) -> int:
        """How many messages (a prefix) anyone can force in at ``now``: those in an L1
        block at least ``window_us`` older than the latest L1 block."""
        if window_us <= 0:
            return 0
        l1_now = now - now % self.l1_block_us
        return int(self.posted.searchsorted(l1_now - window_us, side="right"))

    def pop(self, n: int) -> np.ndarray:
        """Remove and return the first ``n`` messages."""
        out, self.ids, self.posted = self.ids[:n], self.ids[n:], self.posted[n:]
        return out

    def __len__(self) -> int:
        return len(self.ids)
