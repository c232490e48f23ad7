"""The L2 spot venue where keepers unload what they buy in Dutch auctions.

A keeper that takes a lot sells it in the same transaction (as a Clipper taker does
through its exchange callee): a long lot is sold, a short lot bought back, on a
constant-product pool of ``depth_usd`` (both sides) quoted around the oracle price.
Each sale pushes the pool's price away from the oracle by its constant-product impact
(the same model as ``metrics.venue``), and arbitrageurs close half of that gap every
``half_life_us``. The impact is what a keeper loses to the venue, so a lot is only
worth taking once the auction's discount covers it: a thin venue makes keepers wait for
deeper discounts. ``depth_usd = 0`` is a venue without impact.

Values are integer micro-USD; the gap is a float (a price model), evaluated the same way
on every machine.
"""
from __future__ import annotations

import math

from seqlab.units import MICRO_USD as PPM


class KeeperVenue:
    """A constant-product pool around the oracle price, shared by all keepers."""

    def __init__(self, depth_usd: float, half_life_us: int) -> None:
        self.depth_usd = float(depth_usd)
        self.half_life_us = int(half_life_us)
        self.gap = 0.0  # log of venue price / oracle price
        self.t_us = 0

    def _gap_at(self, t_us: int) -> float:
        dt = max(0, int(t_us) - self.t_us)
        return self.gap * 0.5 ** (dt / self.half_life_us) if dt else self.gap

    def _trade(self, units: int, oracle: int, gap: float) -> tuple[int, float]:
        """Impact (micro-USD, ≥ 0) of selling ``units`` (> 0) or buying (< 0) at
        ``oracle`` × exp(``gap``), and the gap after the trade."""
        if not units or self.depth_usd <= 0 or oracle <= 0:
            return 0, gap
        price = oracle / PPM * math.exp(gap)
        reserve = self.depth_usd / 2 / price  # asset-side reserve, whole units
        q = abs(units) / PPM
        if units > 0:  # sell q into the pool: proceeds y·q/(x+q)
            value = q * price * reserve / (reserve + q)
            after = gap + 2 * math.log(reserve / (reserve + q))
            loss = q * oracle / PPM - value
        else:  # buy q out of it, priced symmetrically (never more than the pool holds)
            q = min(q, reserve / 2)
            cost = q * price * reserve / (reserve - q)
            after = gap - 2 * math.log((reserve - q) / reserve)
            loss = cost - q * oracle / PPM
        return max(0, int(round(loss * PPM))), after

    def impact(self, units: int, oracle: int, t_us: int) -> int:
        """What selling (``units`` > 0) or buying back (< 0) would lose against the
        oracle price now (micro-USD). Pure: what a keeper weighs before a take."""
        return self._trade(units, oracle, self._gap_at(t_us))[0]

    def trade(self, units: int, oracle: int, t_us: int) -> int:
        """Sell or buy back ``units`` now; returns the loss against the oracle price."""
        loss, self.gap = self._trade(units, oracle, self._gap_at(t_us))
        self.t_us = max(self.t_us, int(t_us))
        return loss
