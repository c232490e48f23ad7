"""Which service sequences the rollup when: the policy's choices over the run.

The services' outage windows are drawn before the run and the policy sees only which
services are producing blocks (and for how long the one in use has been silent), so
its choices can be worked out before the run, exactly: the policy is asked at every
moment its view changes. A switch decided at ``t`` takes effect at ``t + switch_delay``
(the new service must be set as the rollup's sequencer and start); until then nothing
is sequenced. The rollup is down wherever no service in use is producing.
"""
from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Callable

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.outages import down_until, merge_windows
from seqlab.scenario.schema import Service
from seqlab.seqmarket.policies import Policy, State


@dataclass
class Schedule:
    """Segments of the run, each sequenced by one service, and the rollup's downtime."""

    starts: np.ndarray      # int64: when each segment's service starts sequencing
    services: list[str]     # the service of each segment
    decided: np.ndarray     # int64: when each switch was decided (first: 0)
    down: np.ndarray        # (k, 2) int64: windows in which no block is produced

    def segment_at(self, t_us: np.ndarray) -> np.ndarray:
        """Index of the segment each time falls in."""
        return np.searchsorted(self.starts, t_us, side="right") - 1


def _silent(windows: np.ndarray, active_from: int, t: int) -> int:
    """How long a service in use since ``active_from`` has been silent at ``t``."""
    if down_until(windows, t) is None:
        return 0
    k = int(np.searchsorted(windows[:, 0], t, side="right")) - 1
    return t - max(int(windows[k, 0]), active_from)


def plan(services: list[Service], windows: dict[str, np.ndarray], policy: Policy,
         timeout: int, switch_delay: int, horizon: int,
         vol: Callable[[int], float] | None = None, every: int = 0,
         home: str | None = None) -> Schedule:
    """Ask ``policy`` at every change of what it sees; return the resulting schedule.
    With ``vol`` (the reference's realised volatility at a time) the policy also sees the
    market, and is asked every ``every`` µs as well, since that view changes continually.
    ``home``: the service this rollup ranks first (``spread``), shown to the policy."""
    names = [s.name for s in services]
    offers = tuple(services)

    def ask(t: int, current: str | None, active_from: int) -> str:
        up = {n: down_until(windows[n], t) is None for n in names}
        silent = 0 if current is None else _silent(windows[current], active_from, t)
        seen = 0.0 if vol is None else vol(t)
        choice = policy.choose(State(t, current, silent, up, offers, timeout, seen, home))
        if choice not in names:
            raise SeqlabError(f"the policy chose '{choice}', which is not on offer",
                              field="sequencing_market.policy", allowed=", ".join(names))
        return choice

    current = ask(0, None, 0)
    starts, chosen, decided, gaps = [0], [current], [0], []
    events = sorted({int(t) for w in windows.values() for t in
                     np.r_[w[:, 0], w[:, 1], w[:, 0] + timeout] if 0 < t < horizon})
    if vol is not None and every > 0:
        events = sorted(set(events) | set(range(every, horizon, every)))
    heapq.heapify(events)
    active_from, last = 0, -1
    while events:
        t = heapq.heappop(events)
        if t <= last or t < active_from:
            continue
        last = t
        choice = ask(t, current, active_from)
        if choice == current:
            continue
        start = t + switch_delay
        gaps.append((t, start))
        current, active_from = choice, start
        starts.append(start)
        chosen.append(choice)
        decided.append(t)
        for nxt in (start, start + timeout):
            if nxt < horizon:
                heapq.heappush(events, nxt)
    down = _down_windows(starts, chosen, windows, gaps, horizon)
    return Schedule(np.array(starts, dtype=np.int64), chosen,
                    np.array(decided, dtype=np.int64), down)


def _down_windows(starts: list[int], chosen: list[str], windows: dict[str, np.ndarray],
                  gaps: list[tuple[int, int]], horizon: int) -> np.ndarray:
    """The switching gaps, and each segment's service's outages within its segment,
    merged."""
    spans = list(gaps)
    ends = starts[1:] + [max(horizon, starts[-1]) + 1]
    for start, end, name in zip(starts, ends, chosen):
        for lo, hi in windows[name].tolist():
            if lo < end and hi > start:
                spans.append((max(lo, start), min(hi, end) if end <= horizon else hi))
    return merge_windows(spans)
