"""Reference price: a model path or a historical replay, read through one interface."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

import numpy as np

from seqlab.kernel import Simulation
from seqlab.scenario.schema import Market


@dataclass(frozen=True)
class ReferencePrice:
    """The reference (off-chain, 'true') price as points ``(t_us, price)``, linear between."""

    t_us: np.ndarray
    price: np.ndarray
    # the times as float64, converted once: np.interp converts integer times on every
    # call, a pass over the whole path for each price a block reads (exact below 2**53 µs)
    _t_float: np.ndarray = field(init=False, repr=False, compare=False)

    # the same points as Python lists, for ``bounds`` (a bisect on a list costs a fraction
    # of an array search)
    _t_list: list = field(init=False, repr=False, compare=False)
    _p_list: list = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_t_float", np.asarray(self.t_us, dtype=np.float64))
        object.__setattr__(self, "_t_list", self._t_float.tolist())
        object.__setattr__(self, "_p_list", np.asarray(self.price, np.float64).tolist())

    def at(self, t_us: np.ndarray | int) -> np.ndarray:
        """Price at the given time(s); clamps outside the path."""
        return np.interp(np.asarray(t_us, dtype=np.float64), self._t_float, self.price)

    def at_one(self, t_us: int) -> float:
        """``at`` for one time, in Python floats and bit for bit the same: numpy's
        interpolation step by step (the point itself where the time is one, else the
        slope between the two points around it times the distance from the first, plus
        its price) without an array made and searched for a single price."""
        t, p = self._t_list, self._p_list
        x = float(t_us)
        j = bisect.bisect_right(t, x) - 1
        if j < 0:
            return p[0]
        if j >= len(t) - 1:
            return p[-1]
        if t[j] == x:
            return p[j]
        slope = (p[j + 1] - p[j]) / (t[j + 1] - t[j])
        value = slope * (x - t[j]) + p[j]
        if value != value:  # nan one way (infinite slope): numpy tries the other end
            value = slope * (x - t[j + 1]) + p[j + 1]
            if value != value and p[j] == p[j + 1]:
                value = p[j]
        return value

    def bounds(self, start: int, end: int) -> tuple[float, float]:
        """The lowest and the highest price over ``[start, end]``: a linear path has its
        extremes at the ends (read as ``at`` reads them, ``at_one``) or at its points
        between them."""
        t, p = self._t_list, self._p_list
        inside = p[bisect.bisect_right(t, start):bisect.bisect_left(t, end)]
        ends = (self.at_one(start), self.at_one(end))
        return min(*ends, *inside), max(*ends, *inside)


def build_reference(market: Market, duration_us: int, sim: Simulation,
                    base_dir=None) -> ReferencePrice:
    """The run's reference price, from the ``market`` stream so designs share it exactly."""
    if market.model == "replay":
        return _replay(market, duration_us, base_dir)
    from seqlab.market.gbm import gbm_jump_path

    n = max(1, -(-duration_us // market.step))
    price = gbm_jump_path(sim.rng("market"), n, market.step, market.initial_price,
                          market.volatility, market.drift, market.jump_intensity,
                          market.jump_mean, market.jump_std)
    return ReferencePrice(np.arange(n + 1, dtype=np.int64) * market.step, price)


def _replay(market: Market, duration_us: int, base_dir) -> ReferencePrice:
    from seqlab.errors import SeqlabError
    from seqlab.market.historical import load_bars, price_at, resolve_series

    bars = load_bars(resolve_series(market.series or "", base_dir))
    t0 = int(bars.start_us[0]) + market.start
    span = int(bars.end_us[-1]) - t0
    if span < duration_us:
        raise SeqlabError(f"series covers {span / 3.6e9:.2f} h after market.start but the "
                          f"scenario lasts {duration_us / 3.6e9:.2f} h",
                          field="duration", allowed="a duration no longer than the series")
    t = np.arange(0, duration_us + market.step, market.step, dtype=np.int64)
    return ReferencePrice(t, np.round(price_at(bars, t + t0), 6))
