"""Which service sequences the rollup when: the policy's choices over the run.

The services' outage windows are drawn before the run and the policy sees only which
services are producing blocks (and for how long the one in use has been silent), so
its choices can be worked out before the run, exactly: the policy is asked at every
moment its view changes. A switch decided at ``t`` takes effect at ``t + switch_delay``
(the new service must be set as the rollup's sequencer and start); until then nothing
is sequenced. The rollup is down wherever no service in use is producing. A policy
that learns from the run itself (``Planner``) is asked the same way, but only as the run
reaches each moment.
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
    sales: tuple = ()       # an auction policy's sales, epoch by epoch (others: none)

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
    planner = Planner(services, windows, policy, timeout, switch_delay, horizon, vol, every,
                      home)
    planner.advance(horizon)
    return planner.schedule()


class Planner:
    """The policy's choices worked out up to a moment, and on from there when asked: a
    policy that learns from the run (the auction's bidders) can only be asked once the
    run has reached the moment, so its schedule grows as the run goes."""

    def __init__(self, services: list[Service], windows: dict[str, np.ndarray],
                 policy: Policy, timeout: int, switch_delay: int, horizon: int,
                 vol: Callable[[int], float] | None = None, every: int = 0,
                 home: str | None = None) -> None:
        self.names = [s.name for s in services]
        self.home = home
        self.offers = tuple(services)
        self.windows, self.policy, self.vol = windows, policy, vol
        self.timeout, self.switch_delay, self.horizon = timeout, switch_delay, horizon
        self.current = self._ask(0, None, 0)
        self.starts, self.chosen, self.decided = [0], [self.current], [0]
        self.gaps: list[tuple[int, int]] = []
        events = sorted({int(t) for w in windows.values() for t in
                         np.r_[w[:, 0], w[:, 1], w[:, 0] + timeout] if 0 < t < horizon})
        if vol is not None and every > 0:
            events = sorted(set(events) | set(range(every, horizon, every)))
        heapq.heapify(events)
        self.events = events
        self.active_from, self.last = 0, -1
        self.until = 0  # the policy has been asked at every moment before this

    def _ask(self, t: int, current: str | None, active_from: int) -> str:
        up = {n: down_until(self.windows[n], t) is None for n in self.names}
        silent = 0 if current is None else _silent(self.windows[current], active_from, t)
        seen = 0.0 if self.vol is None else self.vol(t)
        choice = self.policy.choose(State(t, current, silent, up, self.offers,
                                          self.timeout, seen, self.home))
        if choice not in self.names:
            raise SeqlabError(f"the policy chose '{choice}', which is not on offer",
                              field="sequencing_market.policy", allowed=", ".join(self.names))
        return choice

    def advance(self, until: int) -> None:
        """Ask the policy at every moment before ``until`` its view changes."""
        self.until = max(self.until, min(until, self.horizon))
        events = self.events
        while events and events[0] < until:
            t = heapq.heappop(events)
            if t <= self.last or t < self.active_from:
                continue
            self.last = t
            choice = self._ask(t, self.current, self.active_from)
            if choice == self.current:
                continue
            start = t + self.switch_delay
            self.gaps.append((t, start))
            self.current, self.active_from = choice, start
            self.starts.append(start)
            self.chosen.append(choice)
            self.decided.append(t)
            for nxt in (start, start + self.timeout):
                if nxt < self.horizon:
                    heapq.heappush(events, nxt)

    def schedule(self) -> Schedule:
        """The choices so far (the last service in use, to the end of the run). The down
        windows stop where the choices do: whether the rollup is down later depends on
        choices not made yet, so a stopped rollup looks again then."""
        down = _down_windows(self.starts, self.chosen, self.windows, self.gaps, self.horizon,
                             self.until)
        return Schedule(np.array(self.starts, dtype=np.int64), list(self.chosen),
                        np.array(self.decided, dtype=np.int64), down,
                        tuple(getattr(self.policy, "sales", ())))


def _down_windows(starts: list[int], chosen: list[str], windows: dict[str, np.ndarray],
                  gaps: list[tuple[int, int]], horizon: int, until: int | None = None
                  ) -> np.ndarray:
    """The switching gaps, and each segment's service's outages within its segment,
    merged; with ``until`` before the horizon, the last segment stops there."""
    spans = list(gaps)
    last = max(horizon, starts[-1]) + 1
    if until is not None and until < horizon:
        last = max(until, starts[-1])
    ends = starts[1:] + [last]
    for start, end, name in zip(starts, ends, chosen):
        for lo, hi in windows[name].tolist():
            if lo < end and hi > start:
                spans.append((max(lo, start), min(hi, end) if end <= horizon else hi))
    return merge_windows(spans)
