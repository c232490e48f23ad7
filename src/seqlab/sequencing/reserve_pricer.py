"""The Timeboost reserve price: governance's minimum, or a reserve pricer above it.

Arbitrum's auction contract keeps a minimum reserve price set by governance (0.001 WETH
on Arbitrum One) and a current reserve that a designated reserve pricer may raise above
it, fixed at least ``ReserveSubmissionSeconds`` before bidding closes (Timeboost research
specification). Since April 2026 Offchain Labs has set it every round from observed
market behaviour because participation was low and collusion could hold the price down;
the formula is not published. ``trailing`` stands in for it with the simplest rule of
that kind: a share of the median price paid over the last hour of won rounds, never
below the minimum, so a lone or colluding bidder pays near what the lane has been fetching.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from seqlab.sequencing.timeboost_config import Timeboost

RESERVE_WINDOW = 60  # won rounds the trailing reserve looks back over (an hour of 60 s rounds)


class ReservePricer:
    """The reserve of the next auction, from the rounds paid so far."""

    def __init__(self, cfg: Timeboost) -> None:
        self.minimum = cfg.reserve_usd
        self.trailing = cfg.reserve_pricer == "trailing"
        self.share = cfg.reserve_share
        self._paid: deque[float] = deque(maxlen=RESERVE_WINDOW)

    def price(self) -> float:
        """The reserve (USD) bids must reach in the coming auction."""
        if not self.trailing or not self._paid:
            return self.minimum
        return max(self.minimum, self.share * float(np.median(self._paid)))

    def record(self, paid_usd: float) -> None:
        """A won round's price: what the trailing reserve learns from."""
        self._paid.append(paid_usd)
