"""The ``stress`` policy: a cheap, fast service in calm markets, the most
censorship-resistant one while the market is stressed.

A rollup pays for censorship resistance mostly when it matters: in a crash, when a
sequencer that can delay liquidations, margin top-ups or oracle updates can extract the
most. The policy reads stress from the reference price's realised volatility over a
trailing window of one-minute log returns, annualised. The reference path is drawn before
the run, so the schedule stays exact: the policy is asked at every minute as well as at
every change of the services.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.policies import State, ranking, register_policy
from seqlab.market.gbm import YEAR_US
from seqlab.units import MINUTE

RETURN_STEP = MINUTE  # one-minute log returns, as a desk's realised-vol monitor reads them


def realised_vol(price_at: Callable[[np.ndarray], np.ndarray], t: int, window: int) -> float:
    """Annualised realised volatility of one-minute log returns over ``(t - window, t]``
    (from the start of the run while fewer than two returns are available: 0), as of the
    last whole minute: the estimate changes once a minute, so a switch decided on it is
    not undone by a different reading a few seconds later."""
    t -= t % RETURN_STEP
    lo = max(0, t - window)
    n = (t - lo) // RETURN_STEP
    if n < 2:
        return 0.0
    p = np.asarray(price_at(t - RETURN_STEP * np.arange(n, -1, -1)), dtype=np.float64)
    r = np.diff(np.log(p))
    return float(np.sqrt(np.sum(r * r) * YEAR_US / (n * RETURN_STEP)))


def resistance(svc: Service) -> float:
    """Share of nodes that must collude to censor (a single operator: none)."""
    return (svc.faulty + 1) / svc.nodes if svc.nodes > 1 else 0.0


class StressPolicy:
    """Calm: the best-scoring offer (as ``static``). Realised volatility at or above
    ``stress_vol``: the most censorship-resistant producing service (ties: the better
    score), moving at once. It moves back when volatility falls below ``stress_vol``, but
    never sooner than ``stress_dwell`` after its last switch, so a volatility estimate
    hovering at the threshold makes it pay about two switches per dwell at most. When the
    service in use has been silent for ``timeout`` it moves, as failover, to the service
    it wants if that one is producing, else to the best-scoring producing one."""

    def __init__(self, cfg: SequencingMarket) -> None:
        self.cfg = cfg
        self.watch_window = cfg.stress_window
        self.since = 0

    def _want(self, state: State) -> str:
        order = ranking(state.services, self.cfg, state.home)
        if state.vol < self.cfg.stress_vol:
            return order[0]
        best = {s.name: resistance(s) for s in state.services}
        up = [n for n in order if state.up[n]] or order
        return max(up, key=lambda n: best[n])  # max keeps the first (best-scoring) of ties

    def choose(self, state: State) -> str:
        want = self._want(state)
        if state.current is None:
            self.since = state.now
            return want
        if state.silent_us >= state.timeout:
            order = ranking(state.services, self.cfg, state.home)
            up = [n for n in order if state.up[n] and n != state.current]
            if want in up or not up:
                choice = want if want in up else state.current
            else:
                choice = up[0]
        elif want != state.current and state.up[want] and (
                state.vol >= self.cfg.stress_vol
                or state.now - self.since >= self.cfg.stress_dwell):
            choice = want
        else:
            choice = state.current
        if choice != state.current:
            self.since = state.now
        return choice


register_policy("stress", StressPolicy)
