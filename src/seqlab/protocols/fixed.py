"""Fixed-point arithmetic shared by the protocols: integer micro-units, exact rounding.

Money is integer micro-USD and positions integer micro-units of the asset, so every
protocol rounds the same way; these helpers live apart from any one product so that a
liquidation mechanism or a new protocol can use them without importing perpetuals.
"""
from __future__ import annotations

from seqlab.units import MICRO_USD

PPM = MICRO_USD  # micro-USD per USD, and micro-units per unit of the asset
DUST_MICRO_USD = 100 * PPM  # positions below $100 are closed whole on liquidation


def toward_zero(num: int, den: int) -> int:
    """Integer division rounding toward zero (floor division rounds negatives down)."""
    q = abs(num) // abs(den)
    return q if (num >= 0) == (den > 0) else -q


def split_ppm(amount: int, share_ppm: int) -> tuple[int, int]:
    """``amount`` cut in two exact integer parts: ``share_ppm`` millionths of it, rounded
    down, and the rest. The parts always sum to ``amount``, so a fee or a payment split
    between two owners moves exactly what was paid; the rounding (under one micro-USD a
    payment) goes to the second part."""
    part = amount * share_ppm // PPM
    return part, amount - part
