"""Liquidation mechanisms for the perps protocol, selectable per scenario.

- ``fixed``: a fixed bonus on the closed notional with a close factor (Aave-style);
- ``partial``: at most ``partial_cap`` of a position per block (dYdX-style 10 %), a
  liquidation fee to the insurance fund on top of the liquidator's bonus;
- ``dutch``: a Dutch auction in the MakerDAO Liquidations 2.0 (Clipper) style — the
  first liquidation transaction "kicks" an auction (paying the kicker ``tip + tab·chip``
  from the insurance fund); its price starts at oracle × ``buf`` and falls along the
  chosen curve; a later liquidation transaction "takes" part or all of the lot at the
  current price if that is at or below its bid (``a``: max price, 0 = the oracle price).
  The taker's reward is the discount it bought at, (oracle − price) per unit, paid from
  the account's margin; the lot is closed at the oracle price against the pool. An
  auction older than ``tail`` or below ``cusp`` of its start is reset ("redo") by the
  next liquidation transaction, which earns the keeper incentive again. An account that
  is healthy again ends its auction.

Each mechanism only moves value through the protocol's ledger helpers, so every one
keeps the ledger exact.
"""
from __future__ import annotations

from seqlab.protocols.dutch import DutchLiquidation
from seqlab.protocols.fixed import DUST_MICRO_USD, PPM, toward_zero
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.scenario.schema import Perps


class FixedBonus:
    """Close ``close_factor`` of the position (all of it when equity is gone or the rest
    would be dust); the bonus is a fixed share of the closed notional."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        self.cfg, self.p = cfg, p

    def locks(self, i: int) -> bool:
        """Whether the account's owner is locked out (only Dutch auctions lock)."""
        return False

    def amount(self, i: int, block: int) -> int:
        """Units to close now (same sign as the position)."""
        p = self.p
        size = int(p.size[i])
        close = toward_zero(size * p.close_ppm, PPM)
        if p.equity(i) <= 0 or p.notional(size) - p.notional(close) < DUST_MICRO_USD \
                or not close:
            close = size
        return close

    def reward(self, i: int, block: int) -> int:
        """What liquidating account ``i`` now would pay its liquidator (micro-USD; 0 when
        it is not liquidatable): the estimate a rational bot weighs against its costs.
        Pure: nothing changes."""
        p = self.p
        if not p.is_liquidatable(i):
            return 0
        close = self.peek(i, block)
        return max(0, min(p.notional(close) * p.bonus_ppm // PPM, p.equity(i)))

    def peek(self, i: int, block: int) -> int:
        """``amount`` without using up anything (a per-block budget)."""
        return FixedBonus.amount(self, i, block)

    def liquidate(self, liquidator: int, a: int, i: int, block: int, t: int) -> bool:
        p = self.p
        if not p.is_liquidatable(i):
            return False
        close = self.amount(i, block)
        if not close:
            return False
        closed = p.close_for_liquidation(i, close)
        self.after_close(i, closed)
        bonus = p.pay_from_margin(i, p.liquidator_account[liquidator],
                                  closed * p.bonus_ppm // PPM, "liquidation_bonus")
        p.log_liquidation(t, block, i, liquidator, closed, bonus)
        return True

    def after_close(self, i: int, closed: int) -> None:
        """Hook for fees on the closed notional (none here)."""


class PartialPerBlock(FixedBonus):
    """dYdX-style: no more than ``partial_cap`` of the position (as it stood when the
    block first touched it) per block, and a fee to the insurance fund."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        super().__init__(cfg, p)
        self.cap_ppm = int(round(cfg.partial_cap * PPM))
        self.fee_ppm = int(round(cfg.liquidation_fee * PPM))
        self._budget: dict[int, tuple[int, int]] = {}  # account -> (block, units left)

    def peek(self, i: int, block: int) -> int:
        size = int(self.p.size[i])
        close = min(abs(super().amount(i, block)), self._left(i, block, size), abs(size))
        return close if size > 0 else -close

    def amount(self, i: int, block: int) -> int:
        close = self.peek(i, block)
        self._budget[i] = (block, self._left(i, block, int(self.p.size[i])) - abs(close))
        return close

    def _left(self, i: int, block: int, size: int) -> int:
        """Units account ``i`` may still lose to liquidation in ``block``."""
        last_block, left = self._budget.get(i, (-1, 0))
        if last_block != block:
            left = abs(toward_zero(size * self.cap_ppm, PPM)) or abs(size)
        return left

    def after_close(self, i: int, closed: int) -> None:
        p = self.p
        p.pay_from_margin(i, p.insurance, closed * self.fee_ppm // PPM, "liquidation_fee")


def make_liquidation(cfg: Perps, p: LiquidationHost):
    if cfg.liquidation == "partial":
        return PartialPerBlock(cfg, p)
    if cfg.liquidation == "dutch":
        return DutchLiquidation(cfg, p)
    return FixedBonus(cfg, p)
