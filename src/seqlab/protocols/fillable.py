"""dYdX-v4-style liquidation: no bonus; the position is taken at the fillable price.

dYdX v4 pays liquidators nothing on top: the protocol's liquidation order closes the
position at a limit price, the *fillable price*, a discount from the oracle price P of

    P · SMMR · MMF · ABR,   ABR = clamp(BA · (1 − TNC / TMMR), 0, 1)

(SMMR = ``fillable_spread``, MMF = ``maintenance_margin``, BA = ``bankruptcy_adjustment``,
TNC / TMMR = the account's equity over its maintenance requirement). The discount is zero
for an account that just crossed maintenance and grows as it nears bankruptcy, so the
first block to reach it offers a liquidator the least. Whoever fills the order gains the
discount; seqlab closes the units at the oracle price against the pool and pays the
discount from the account to the liquidator, which is the same transfer of value. The
discount never goes past the bankruptcy price (the account's equity above zero), and a
fee of at most ``liquidation_fee`` of the closed notional goes to the insurance fund from
what is left. At most ``partial_cap`` of a position is liquidated per block.
"""
from __future__ import annotations

from seqlab.protocols.fixed import DUST_MICRO_USD, PPM
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.protocols.payout import BlockCap, Payment, PlannedLiquidation, ppm, share
from seqlab.scenario.schema import Perps


class FillablePrice(PlannedLiquidation):
    """Close up to the per-block cap; the liquidator's reward is the fillable discount."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        super().__init__(cfg, p)
        self.cap = BlockCap(cfg.partial_cap)
        self.fee_ppm = ppm(cfg.liquidation_fee)
        self.spread_ppm = ppm(cfg.fillable_spread)
        self.ba_ppm = ppm(cfg.bankruptcy_adjustment)

    def peek(self, i: int, block: int) -> int:
        size = int(self.p.size[i])
        if self.p.notional(size) < DUST_MICRO_USD:
            return size  # a small position closes whole, as dYdX's minimum liquidation
        return self.cap.limit(i, block, size, size)

    def consume(self, i: int, block: int, close: int) -> None:
        self.cap.use(i, block, int(self.p.size[i]), close)

    def discount(self, i: int, closed: int) -> int:
        """The fillable-price discount on ``closed`` micro-USD of account ``i``'s notional,
        before any cap by the account's equity."""
        p = self.p
        requirement = p.mm_ppm * p.notional(int(p.size[i]))  # TMMR, in micro-USD · PPM
        if requirement <= 0:
            return 0
        # ABR = BA · (1 − TNC/TMMR), as the exact fraction abr / (PPM · requirement)
        abr = self.ba_ppm * (requirement - p.equity(i) * PPM)
        abr = min(max(abr, 0), PPM * requirement)
        return closed * self.spread_ppm * p.mm_ppm * abr // (PPM * PPM * PPM * requirement)

    def wants(self, i: int, close: int) -> tuple[int, list[Payment]]:
        p = self.p
        closed = p.notional(close)
        return self.discount(i, closed), [(p.insurance, share(closed, self.fee_ppm),
                                           "liquidation_fee")]
