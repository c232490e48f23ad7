"""A constant-product pool (Uniswap v2) in integers: the maths of the live spot venue.

Reserves are the asset in micro-units and USD in micro-USD. A swap pays the fee on what
goes in, so the product of the reserves never falls; amounts are rounded the way the
Uniswap v2 pair rounds them (what comes out down, what must go in up), so the pool, not
the trader, keeps every rounding remainder. Kept apart from the protocol that uses it
so the formula can be checked on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

from seqlab.units import MICRO_USD as PPM

FEE_SCALE = 1_000_000  # fees in millionths (Uniswap v3 "pips": 3000 = 0.3 %)


@dataclass
class Pool:
    """``units`` of the asset against ``usd`` micro-USD; ``fee_ppm`` of each input to LPs."""

    units: int
    usd: int
    fee_ppm: int

    @property
    def price(self) -> int:
        """Marginal price, micro-USD per unit: the USD reserve over the asset reserve."""
        return self.usd * PPM // self.units

    def sell_quote(self, q: int) -> int:
        """USD out (micro-USD) for selling ``q`` micro-units in: y·q(1−f) / (x + q(1−f))."""
        net = q * (FEE_SCALE - self.fee_ppm)
        return self.usd * net // (self.units * FEE_SCALE + net)

    def buy_quote(self, q: int) -> int:
        """USD in (micro-USD) for buying ``q`` (< ``units``) micro-units out:
        y·q / ((x − q)(1−f)), rounded up."""
        num = self.usd * q * FEE_SCALE
        den = (self.units - q) * (FEE_SCALE - self.fee_ppm)
        return -(-num // den)

    def sell(self, q: int) -> int:
        """Sell ``q`` micro-units into the pool; returns the USD paid out."""
        out = self.sell_quote(q)
        self.units += q
        self.usd -= out
        return out

    def buy(self, q: int) -> int:
        """Buy ``q`` micro-units out of the pool; returns the USD paid in."""
        cost = self.buy_quote(q)
        self.units -= q
        self.usd += cost
        return cost

    def rebalance(self, target: int) -> int:
        """Arbitrage along the invariant to marginal price ``target`` (micro-USD per
        unit), fee-free; returns the USD that went into the pool (< 0: out of it).

        The arbitrageur's fee is left out on purpose: the half-life it trades on already
        stands for how far and how fast real arbitrage closes the gap."""
        k = self.units * self.usd
        units = max(1, isqrt(k * PPM // max(1, target)))
        usd = -(-k // units)  # never below the invariant
        delta = usd - self.usd
        self.units, self.usd = units, usd
        return delta

    def copy(self) -> "Pool":
        return Pool(self.units, self.usd, self.fee_ppm)
