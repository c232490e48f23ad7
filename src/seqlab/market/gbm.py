"""Geometric Brownian motion with Merton jumps, sampled on a fixed time grid.

Vectorised: one array of log-increments per run. Prices are rounded to micro-USD so the
path (and every digest built on it) is the same on machines whose ``exp`` differs in the
last bit.
"""
from __future__ import annotations

import numpy as np

from seqlab.units import DAY

YEAR_US = 365 * DAY


def gbm_jump_path(rng: np.random.Generator, n_steps: int, step_us: int, s0: float,
                  volatility: float, drift: float = 0.0, jump_intensity_per_day: float = 0.0,
                  jump_mean: float = 0.0, jump_std: float = 0.0) -> np.ndarray:
    """Prices at ``0, step, …, n_steps·step`` (``n_steps + 1`` points), starting at ``s0``.

    ``volatility`` and ``drift`` are annualised; jumps arrive as a Poisson process with
    ``jump_intensity_per_day`` and log-size ``N(jump_mean, jump_std²)``. The drift is
    compensated (``-σ²/2``) so ``drift`` is the expected growth rate without jumps.
    """
    dt = step_us / YEAR_US
    z = rng.standard_normal(n_steps)
    log_inc = (drift - 0.5 * volatility ** 2) * dt + volatility * np.sqrt(dt) * z
    if jump_intensity_per_day > 0:
        counts = rng.poisson(jump_intensity_per_day * step_us / DAY, n_steps)
        hit = counts > 0
        sizes = counts[hit] * jump_mean + np.sqrt(counts[hit]) * jump_std * rng.standard_normal(
            int(hit.sum()))
        log_inc[hit] += sizes
    path = s0 * np.exp(np.concatenate(([0.0], np.cumsum(log_inc))))
    return np.round(path, 6)
