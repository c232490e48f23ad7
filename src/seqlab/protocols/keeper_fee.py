"""Keeper-fee liquidation (GMX v2, Synthetix perps v2): close everything, pay a keeper fee.

Neither protocol pays a liquidator a share of the position as a bonus. The whole position
closes at the oracle price; the keeper who sent the transaction earns
``keeper_fee_ratio`` of the notional, kept within [``min_keeper_fee_usd``,
``max_keeper_fee_usd``] (Synthetix's liquidation fee ratio and keeper fee bounds; GMX pays
its keepers for gas outside the position, so all three are zero); the pool earns
``liquidation_fee`` of the notional (GMX's liquidation fee factor, Synthetix's
liquidation buffer for the stakers); then what margin is left goes back to the trader
(``liquidation_remainder = "account"``, GMX) or to the pool (``"pool"``, Synthetix, whose
stakers take a liquidated position's remaining margin). Every payment comes from the
account's equity above zero, in that order.
"""
from __future__ import annotations

from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.protocols.payout import REST, Payment, PlannedLiquidation, ppm, share
from seqlab.scenario.schema import Perps
from seqlab.units import MICRO_USD


class KeeperFee(PlannedLiquidation):
    """Whole-position liquidation with a banded keeper fee and pool fees."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        super().__init__(cfg, p)
        self.ratio_ppm = ppm(cfg.keeper_fee_ratio)
        self.fee_ppm = ppm(cfg.liquidation_fee)
        self.min_fee = int(round(cfg.min_keeper_fee_usd * MICRO_USD))
        self.max_fee = int(round(cfg.max_keeper_fee_usd * MICRO_USD))
        self.remainder_to_pool = cfg.liquidation_remainder == "pool"

    def peek(self, i: int, block: int) -> int:
        return int(self.p.size[i])

    def wants(self, i: int, close: int) -> tuple[int, list[Payment]]:
        p = self.p
        closed = p.notional(close)
        keeper = min(max(share(closed, self.ratio_ppm), self.min_fee), self.max_fee)
        payments = [(p.pool, share(closed, self.fee_ppm), "liquidation_fee")]
        if self.remainder_to_pool:
            payments.append((p.pool, REST, "liquidation_remainder"))
        return keeper, payments
