"""Run metrics: inclusion latency, the run digest.

Pure functions of arrays, so they can be tested on hand-made inputs and reused by every
view of a result.
"""
from __future__ import annotations

import hashlib

import numpy as np


def latency_stats_ms(submit_us: np.ndarray, included_us: np.ndarray) -> dict[str, float]:
    """Percentiles and mean of submission-to-inclusion latency for included txs (ms)."""
    done = included_us >= 0
    if not done.any():
        return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "mean": 0.0, "max": 0.0}
    lat = (included_us[done] - submit_us[done]) / 1000.0
    p50, p90, p99 = np.percentile(lat, [50, 90, 99])
    return {"p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "p99": round(float(p99), 3), "mean": round(float(lat.mean()), 3),
            "max": round(float(lat.max()), 3)}


def digest(arrays: list[np.ndarray]) -> str:
    """SHA-256 over integer arrays in a fixed byte order: the fingerprint of a run.

    Callers pass the ordered transaction stream and the final state; any difference in
    ordering, outcome or balances changes it.
    """
    h = hashlib.sha256()
    for arr in arrays:
        a = np.ascontiguousarray(np.asarray(arr).astype("<i8"))
        h.update(len(a).to_bytes(8, "little"))
        h.update(a.tobytes())
    return h.hexdigest()
