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
