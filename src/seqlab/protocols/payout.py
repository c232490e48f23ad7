"""Paying for a liquidation without taking more than the account has.

Every mechanism that closes part of a position and pays from the account's margin (a
bonus, a fillable-price discount, a keeper fee, protocol fees) does it in two steps:

1. ``plan``: from the state alone, how many units to close and what each party would be
   paid. The payments are capped, in order, by the account's equity above zero before
   the liquidation and after the close (equity counts the unrealised PnL of what stays
   open), and by the margin left after the close. So the liquidator and the fees never
   take more than the account has above zero, the account keeps the rest, and the margin
   left still covers the remaining position's loss: bad debt can only come from an
   account whose equity was already negative.
2. ``liquidate``: the same plan, carried out. Because ``reward`` reads the plan too, it is
   exactly what the next liquidation of that account would pay its liquidator.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Callable

import numpy as np

from seqlab.protocols.fixed import PPM, toward_zero
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.scenario.schema import Perps

REST = 1 << 62  # "all that is left": a payment capped only by what the account has
FEW_REWARDS = 4  # up to this many accounts, ``rewards`` asks ``reward`` of each
Payment = tuple[int, int, str]  # (ledger account, micro-USD, reason)


class PlannedLiquidation(ABC):
    """A liquidation mechanism that plans its close and payments, then carries them out."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        self.cfg, self.p = cfg, p

    def locks(self, i: int) -> bool:
        """Whether the account's owner is locked out (only Dutch auctions lock)."""
        return False

    @abstractmethod
    def peek(self, i: int, block: int) -> int:
        """Units to close now (same sign as the position), using up nothing."""

    @abstractmethod
    def wants(self, i: int, close: int) -> tuple[int, list[Payment]]:
        """Before the close: what the liquidator would be paid for closing ``close`` units
        of account ``i`` (never negative), and the protocol's payments after it, in
        order, uncapped."""

    def consume(self, i: int, block: int, close: int) -> None:
        """Use up what a liquidation of ``close`` units uses (a per-block budget)."""

    def plan(self, i: int, block: int) -> tuple[int, int, list[Payment]]:
        """``(units to close, liquidator's reward, protocol payments)``, each payment capped
        by what the account still has above zero. Pure."""
        p = self.p
        close = self.peek(i, block)
        if not close:
            return 0, 0, []
        reward, wanted = self.wants(i, close)
        margin_after, equity_after = p.preview_close(i, close)
        room = max(0, min(p.equity(i), equity_after, margin_after))
        reward = min(reward, room)
        room -= reward
        payments = []
        for to, amount, reason in wanted:
            amount = min(amount, room)
            room -= amount
            payments.append((to, amount, reason))
        return close, reward, payments

    def reward(self, i: int, block: int) -> int:
        """What liquidating account ``i`` now would pay its liquidator (micro-USD; 0 when it
        is not liquidatable): the estimate a rational bot weighs against its costs. Pure:
        nothing changes."""
        p = self.p
        # under water (most liquidatable accounts after a crash, asked block after block,
        # so tested first): ``plan`` caps the reward by nothing above zero
        if p.equity(i) <= 0 or not p.is_liquidatable(i):
            return 0
        return self.plan(i, block)[1]

    def rewards(self, who: np.ndarray, block: int) -> np.ndarray:
        """``reward`` of each account of ``who``: 0 at once for those under water (after
        a crash most liquidatable accounts are, block after block), a plan for the rest."""
        if len(who) <= FEW_REWARDS:  # one by one: Python ints beat a dozen array calls
            return each_reward(self.reward, who, block)
        out = np.zeros(len(who), dtype=np.int64)
        live = np.flatnonzero(~self.p.underwater(who))
        out[live] = each_reward(self.reward, who[live], block)
        return out

    def liquidate(self, liquidator: int, a: int, i: int, block: int, t: int) -> bool:
        p = self.p
        if not p.is_liquidatable(i):
            return False
        close, reward, payments = self.plan(i, block)
        if not close:
            return False
        self.consume(i, block, close)
        closed = p.close_for_liquidation(i, close)
        if reward:
            reward = p.pay_from_margin(i, p.liquidator_account[liquidator], reward,
                                       "liquidation_bonus")
        for to, amount, reason in payments:
            if amount:
                p.pay_from_margin(i, to, amount, reason)
        p.log_liquidation(t, block, i, liquidator, closed, reward)
        return True


def each_reward(reward: Callable[[int, int], int], who: np.ndarray, block: int
                ) -> np.ndarray:
    """``reward(i, block)`` of each account of ``who``, one at a time."""
    return np.fromiter((reward(i, block) for i in who.tolist()), np.int64, len(who))


def share(notional: int, ppm: int) -> int:
    """``ppm`` parts per million of ``notional`` (micro-USD), rounded down."""
    return notional * ppm // PPM


def ppm(x: float) -> int:
    return int(round(x * PPM))


class BlockCap:
    """At most ``cap`` of a position (as it stood when the block first touched it) may be
    liquidated per block: dYdX's per-block limit, which stops one block from closing a
    whole account at the worst moment."""

    def __init__(self, cap: float) -> None:
        self.cap_ppm = ppm(cap)
        self._left: dict[int, tuple[int, int]] = {}  # account -> (block, units left)

    def left(self, i: int, block: int, size: int) -> int:
        """Units account ``i`` (position ``size``) may still lose in ``block``."""
        last_block, left = self._left.get(i, (-1, 0))
        if last_block != block:
            left = abs(toward_zero(size * self.cap_ppm, PPM)) or abs(size)
        return left

    def limit(self, i: int, block: int, size: int, close: int) -> int:
        """``close`` (same sign as ``size``) cut to what the block still allows."""
        units = min(abs(close), self.left(i, block, size), abs(size))
        return units if size > 0 else -units

    def use(self, i: int, block: int, size: int, close: int) -> None:
        self._left[i] = (block, self.left(i, block, size) - abs(close))
