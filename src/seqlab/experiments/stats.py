"""Small statistics shared by compare, sweep and premium figures."""
from __future__ import annotations

import numpy as np
from scipy import stats


def mean_ci(values: list[float]) -> tuple[float, list[float]]:
    """Mean and 95 % confidence interval (Student t; a point with one sample)."""
    arr = np.asarray(values, dtype=np.float64)
    mean = float(arr.mean())
    if len(arr) < 2 or np.all(arr == arr[0]):
        return mean, [mean, mean]
    half = float(stats.t.ppf(0.975, len(arr) - 1) * arr.std(ddof=1) / np.sqrt(len(arr)))
    return mean, [mean - half, mean + half]
