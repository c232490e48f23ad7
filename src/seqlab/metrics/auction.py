"""How Dutch auctions cleared: the discounts keepers bought at, resets and bad debt.

The discount of a take is measured against the oracle price at the take,
``1 − price / oracle`` (for a short lot the account pays the mirror premium, the same
discount): what the account — or, past its margin, the insurance fund and then the
protocol — gave up so that a keeper would buy.
"""
from __future__ import annotations

import numpy as np

from seqlab.units import MICRO_USD as PPM


def auction_summary(mechanism) -> dict:
    """The ``auction`` summary of a run whose perps liquidate by Dutch auction (a
    ``DutchLiquidation``); empty for other mechanisms."""
    takes = getattr(mechanism, "takes", None)
    if takes is None:
        return {}
    rows = np.asarray([(t.price, t.oracle, t.bad_debt) for t in takes],
                      dtype=np.float64).reshape(-1, 3)
    discount = 1.0 - rows[:, 0] / np.maximum(rows[:, 1], 1.0)
    return {"auction": {
        "kicks": int(mechanism.kicks),
        "takes": int(len(rows)),
        "median_discount": round(float(np.median(discount)), 4) if len(rows) else 0.0,
        "max_discount": round(float(discount.max()), 4) if len(rows) else 0.0,
        "resets": int(mechanism.resets),
        "ended_healthy": int(mechanism.ended),
        "bad_debt_usd": round(float(rows[:, 2].sum()) / PPM, 2),
    }}
