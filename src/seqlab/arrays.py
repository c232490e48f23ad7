"""Small array helpers for the per-block hot path.

Per block the arrays are tiny (a handful of transactions), where numpy's general
algorithms spend more time in set-up than in work; these give the same answers with
less of it.
"""
from __future__ import annotations

import numpy as np

SMALL = 4096  # below this many element pairs, compare all pairs instead of sorting


def member(values: np.ndarray, of: np.ndarray) -> np.ndarray:
    """``np.isin(values, of)``: all pairs compared where both are small."""
    values, of = np.asarray(values), np.asarray(of)
    if not len(values) or not len(of):
        return np.zeros(len(values), dtype=bool)
    if len(values) * len(of) <= SMALL:
        return (values[:, None] == of[None, :]).any(axis=1)
    return np.isin(values, of)
