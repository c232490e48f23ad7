"""Leg risk as an arbitrageur learns it: how often one leg fills alone, what unwinding costs.

A cross-rollup arbitrage whose one leg fills while the other reverts leaves a naked
position; selling it back at market costs the price move in between plus two taker fees.
An arbitrageur that has seen this happen asks later gaps to pay for it: the expected loss
of an attempt is the share of its finished attempts that left one leg alone, times the
mean unwind cost per dollar of such a leg (never below zero: a lucky unwind is not a
reason to take smaller gaps). Nothing is assumed before the first failure.
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.perps import PPM
from seqlab.txs import TxStore


def round_trip_cost_usd(txs: TxStore, leg: int, unwind: int, fee_ppm: int) -> float:
    """Loss (USD, positive = lost) of opening with trade ``leg`` and closing with trade
    ``unwind``, both executed: the units held times the fill prices' difference, plus the
    taker fee on both notionals."""
    open_usd, open_px = int(txs.a[leg]), int(txs.fill[leg])
    close_px = int(txs.fill[unwind])
    units = open_usd / open_px  # signed: long when the naked leg bought
    fees = (abs(open_usd) + abs(int(txs.a[unwind]))) / PPM * fee_ppm / PPM
    return units * (open_px - close_px) / PPM + fees


class LegRisk:
    """Per arbitrageur: finished attempts, those that left one leg alone, and the unwound
    legs' total size and cost (USD)."""

    def __init__(self, count: int) -> None:
        self.attempts = np.zeros(count, dtype=np.int64)
        self.one_leg = np.zeros(count, dtype=np.int64)
        self.unwound_usd = np.zeros(count)
        self.unwind_cost_usd = np.zeros(count)

    def attempt(self, j: int, one_leg: bool) -> None:
        self.attempts[j] += 1
        self.one_leg[j] += one_leg

    def unwound(self, j: int, size_usd: float, cost_usd: float) -> None:
        self.unwound_usd[j] += size_usd
        self.unwind_cost_usd[j] += cost_usd

    def expected_loss_bps(self, j: int) -> float:
        """What arbitrageur ``j`` expects to lose to leg risk per attempt, in bps of size."""
        if not self.attempts[j] or not self.unwound_usd[j]:
            return 0.0
        share = self.one_leg[j] / self.attempts[j]
        return max(0.0, share * self.unwind_cost_usd[j] / self.unwound_usd[j] * 1e4)
