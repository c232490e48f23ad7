"""Liquidation mechanisms for the perps protocol, selectable per scenario.

- ``fixed`` (Aave-v3-like): close ``close_factor`` of the position, all of it below
  health ``full_close_health`` (equity / maintenance requirement), when equity is gone or
  the rest would be dust; the liquidator earns ``liquidation_bonus`` of the closed
  notional and the insurance fund ``liquidation_fee``;
- ``partial``: the same, but at most ``partial_cap`` of a position per block;
- ``fillable`` (dYdX-v4-like, ``protocols.fillable``): no bonus; the liquidator takes the
  position at the fillable price, a discount from the oracle that grows as the account
  nears bankruptcy and never goes past it; a fee to the insurance fund; per-block caps;
- ``keeper_fee`` (GMX-v2- and Synthetix-v2-like, ``protocols.keeper_fee``): the whole
  position closes, the keeper earns a fee in a band, the pool a liquidation fee, and the
  rest of the margin goes back to the trader or to the pool;
- ``dutch``: a Dutch auction in the MakerDAO Liquidations 2.0 (Clipper) style — the
  first liquidation transaction "kicks" an auction (paying the kicker ``tip + tab·chip``
  from the insurance fund); its price starts at oracle × ``buf`` and falls along the
  chosen curve; a later liquidation transaction "takes" part or all of the lot at the
  current price if that is at or below its bid (``a``: max price, 0 = the oracle price).
  The taker buys the lot with its own capital at the auction price: the account's
  position closes at that price (so the discount falls on its margin, then on the
  insurance fund, then is bad debt) and the keeper sells the lot on the L2 venue
  (``protocols.keeper_venue``). An auction older than ``tail`` or below ``cusp`` of its
  start is reset ("redo") by the next liquidation transaction, which earns the keeper
  incentive again. An account that is healthy again ends its auction.

Each mechanism only moves value through the protocol's ledger helpers, so every one
keeps the ledger exact, and pays out of an account at most its equity above zero
(``protocols.payout``).
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.dutch import DutchLiquidation
from seqlab.protocols.fillable import FillablePrice
from seqlab.protocols.fixed import DUST_MICRO_USD, PPM, toward_zero
from seqlab.protocols.keeper_fee import KeeperFee
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.protocols.payout import BlockCap, Payment, PlannedLiquidation, ppm, share
from seqlab.scenario.schema import Perps


class FixedBonus(PlannedLiquidation):
    """Close ``close_factor`` of the position (all of it when the account's health is
    below ``full_close_health``, when equity is gone or the rest would be dust); the bonus
    and the fee are fixed shares of the closed notional."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        super().__init__(cfg, p)
        self.fee_ppm = ppm(cfg.liquidation_fee)
        self.full_ppm = ppm(cfg.full_close_health)

    def peek(self, i: int, block: int) -> int:
        p = self.p
        size = int(p.size[i])
        close = toward_zero(size * p.close_ppm, PPM)
        # Aave v3: health factor below 0.95 lets the whole debt be repaid at once
        sick = p.equity(i) * PPM * PPM < self.full_ppm * p.mm_ppm * p.notional(size)
        if sick or p.equity(i) <= 0 or not close \
                or p.notional(size) - p.notional(close) < DUST_MICRO_USD:
            close = size
        return close

    def wants(self, i: int, close: int) -> tuple[int, list[Payment]]:
        p = self.p
        closed = p.notional(close)
        return share(closed, p.bonus_ppm), [(p.insurance, share(closed, self.fee_ppm),
                                            "liquidation_fee")]


class PartialPerBlock(FixedBonus):
    """The fixed bonus and fee, but no more than ``partial_cap`` of the position (as it
    stood when the block first touched it) per block."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        super().__init__(cfg, p)
        self.cap = BlockCap(cfg.partial_cap)

    def peek(self, i: int, block: int) -> int:
        return self.cap.limit(i, block, int(self.p.size[i]), super().peek(i, block))

    def consume(self, i: int, block: int, close: int) -> None:
        self.cap.use(i, block, int(self.p.size[i]), close)


def make_liquidation(cfg: Perps, p: LiquidationHost):
    if cfg.liquidation == "partial":
        return PartialPerBlock(cfg, p)
    if cfg.liquidation == "dutch":
        return DutchLiquidation(cfg, p)
    if cfg.liquidation == "fillable":
        return FillablePrice(cfg, p)
    if cfg.liquidation == "keeper_fee":
        return KeeperFee(cfg, p)
    return FixedBonus(cfg, p)


def bonus_rate(cfg: Perps) -> float:
    """The liquidator's share of the notional a liquidation closes, before any cap by
    the account's equity: the bonus (``fixed``, ``partial``), the keeper fee
    (``keeper_fee``, within its band), nothing at the maintenance line (``fillable``: the
    discount starts at zero; ``dutch``: takers earn the auction's discount instead)."""
    if cfg.liquidation in ("fixed", "partial"):
        return cfg.liquidation_bonus
    if cfg.liquidation == "keeper_fee":
        return cfg.keeper_fee_ratio
    return 0.0


def first_close(cfg: Perps) -> float:
    """The share of a position the first liquidation of an account closes: the close
    factor (``fixed``), capped per block (``partial``), or all of it."""
    share = {"fixed": cfg.close_factor, "partial": min(cfg.close_factor, cfg.partial_cap)}
    return share.get(cfg.liquidation, 1.0)


def liquidator_pay(cfg: Perps, closed_notional: np.ndarray) -> np.ndarray:
    """What one liquidation closing ``closed_notional`` (micro-USD) pays its liquidator
    before the cap by the account's equity: ``bonus_rate`` of it, kept within the keeper
    fee's band under ``keeper_fee`` (Synthetix pays at most 1,000 USD however large the
    position, so a value estimate without the band overstates large accounts)."""
    pay = bonus_rate(cfg) * np.asarray(closed_notional, dtype=np.float64)
    if cfg.liquidation == "keeper_fee":
        pay = np.clip(pay, cfg.min_keeper_fee_usd * PPM, cfg.max_keeper_fee_usd * PPM)
    return pay


def reward_rate(cfg: Perps) -> float:
    """What one liquidation of an account that has just crossed maintenance pays per USD
    of its position's notional: what a liquidator can bid for it before the update that
    enables it has landed."""
    return bonus_rate(cfg) * first_close(cfg)
