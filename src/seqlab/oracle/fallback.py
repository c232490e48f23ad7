"""The recapture feed's fallback: a withheld update's price still lands, late but surely.

Chainlink SVR transmits every report twice: privately, as the update the recapture
auction bundles (``transmitSecondary`` on its DualAggregator), and publicly, as the
standard feed's ordinary update (``transmit``). The protocol reads the SVR feed, which
serves its own latest round or, once a standard round has been on chain for the feed's
``cutoffTime`` without the private transmission landing, that standard round
(``_getLatestRound`` and ``_getSyncPrimaryRound``). UMA Oval does the same with its
``lockWindow``: a price nobody unlocked is served once it is that old. So a sequencer
that withholds the bundled update, or a block producer that never includes it, delays the
price by at most the fallback delay; it cannot keep the price stale.

Here the standard round is recorded in the first block at or after the update reaches
the sequencer (the public transmission travels beside it, and an operator's holds target
the update the auction is about), and from the first block at or after that record plus
``delay`` the protocol stores its price, with no auction: the standard round's backrun
is the ordinary race. The private transmission of a round already stored, or older, then
changes nothing, as ``transmitSecondary`` of a known report only syncs the round id.
Between blocks nothing executes, so a price stored at the start of the first block past
the delay is one every later transaction reads.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from seqlab.units import S


class Fallback:
    """When each round's standard copy becomes readable, and which round is stored."""

    def __init__(self, arrival_us: np.ndarray, price_micro: np.ndarray, delay_us: int) -> None:
        """``arrival_us[seq]``, ``price_micro[seq]``: when update ``seq`` reaches the
        sequencer and its price; ``delay_us`` (> 0): the feed's cutoff."""
        self.arrival = np.asarray(arrival_us, dtype=np.int64).tolist()
        self.price = np.asarray(price_micro, dtype=np.int64).tolist()
        self.delay = int(delay_us)
        self._order = np.argsort(arrival_us, kind="stable").tolist()
        self._next = 0  # the next update, in arrival order, whose standard copy is unrecorded
        self._recorded: deque[tuple[int, int]] = deque()  # (readable from, seq), in time order
        self.newest = -1  # the newest round stored
        self.rounds = 0  # rounds stored through the fallback
        self.lags: list[int] = []  # per stored round: stored minus arrival (µs)

    def due(self, t_us: int) -> int:
        """At the start of a block at ``t_us``: the newest round whose standard copy is
        readable and newer than the stored round (-1: none). Records the standard copies
        that reached the sequencer by now."""
        order, arrival, recorded = self._order, self.arrival, self._recorded
        while self._next < len(order) and arrival[order[self._next]] <= t_us:
            recorded.append((t_us + self.delay, order[self._next]))
            self._next += 1
        best = -1
        while recorded and recorded[0][0] <= t_us:
            best = max(best, recorded.popleft()[1])
        return best if best > self.newest else -1

    def accepts(self, seq: int) -> bool:
        """Whether the private transmission of round ``seq`` changes the stored price."""
        return seq > self.newest

    def stored(self, seq: int, t_us: int, through_fallback: bool) -> None:
        """Round ``seq`` was stored at ``t_us``."""
        self.newest = seq
        self.lags.append(t_us - self.arrival[seq])
        self.rounds += through_fallback

    def summary(self) -> dict:
        """The fallback's use and how stale a stored round got: the delay from an update
        reaching the sequencer to its price being stored (s)."""
        lags = np.asarray(self.lags, dtype=np.float64) / S
        return {"fallback_delay_s": self.delay / S, "fallback_rounds": self.rounds,
                "update_lag_s": {"mean": round(float(lags.mean()), 3) if len(lags) else 0.0,
                                 "max": round(float(lags.max()), 3) if len(lags) else 0.0}}
