"""How far the on-chain price sat from the reference: the mispricing users traded and
were liquidated at. Colluding oracle nodes raise it on purpose; a deviation threshold
and heartbeat bound it on an honest feed."""
from __future__ import annotations

import numpy as np


def oracle_error_bps(prices: dict[str, np.ndarray]) -> dict:
    """Mean and largest |on-chain / reference - 1| (bps) over the price table's grid,
    from the first update on (before it there is no on-chain price to be wrong)."""
    onchain, reference = prices["oracle"], prices["reference"]
    live = ~np.isnan(onchain)
    if not live.any():
        return {"oracle_error_bps": {"mean": 0.0, "max": 0.0}}
    err = np.abs(onchain[live] / reference[live] - 1.0) * 1e4
    return {"oracle_error_bps": {"mean": round(float(err.mean()), 3),
                                 "max": round(float(err.max()), 3)}}


def oracle_error_metrics(summary: dict) -> dict[str, float]:
    """The mispricing ``compare`` tabulates per design ({} for a run without an oracle
    price, such as the benchmark protocol): the mean and largest gap (bps)."""
    err = summary.get("oracle_error_bps")
    if not err:
        return {}
    return {"oracle_error_mean_bps": err["mean"], "oracle_error_max_bps": err["max"]}
