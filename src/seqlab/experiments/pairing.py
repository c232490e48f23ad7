"""Runs paired with their seed's baseline as they finish, so an experiment keeps little.

A compare pairs every design's run with the baseline's run of the same seed. A run's
full view (fills, cost events, per-account tables) is megabytes; kept for every design
and seed until the end, a 50-seed comparison of nine designs would hold gigabytes.
``Pairing`` reduces each run to what the comparison reads of it as soon as its seed's
baseline is in, and lets the baseline go once every design of that seed is paired:
what stays in memory is the runs of the seeds in flight.
"""
from __future__ import annotations

from typing import Callable, Generic, Iterable, TypeVar

from seqlab.experiments.paired import RunView

T = TypeVar("T")


class Pairing(Generic[T]):
    """Collects ``pair(run, baseline)`` for every design (and the baseline itself) on
    every seed, from views added in any order."""

    def __init__(self, designs: Iterable[str], baseline: str, seeds: Iterable[int],
                 pair: Callable[[RunView, RunView], T]) -> None:
        self.baseline, self.pair = baseline, pair
        self.pairs: dict[tuple[str, int], T] = {}
        self.most_held = 0  # the most full views held at once
        self._waiting = {s: {*designs, baseline} for s in seeds}
        self._full: dict[tuple[str, int], RunView] = {}

    @property
    def held(self) -> int:
        """Full views held now: baselines still needed and runs waiting for theirs."""
        return len(self._full)

    def add(self, design: str, seed: int, view: RunView) -> None:
        """Take a finished run; pair what its arrival makes pairable."""
        self._full[(design, seed)] = view
        self.most_held = max(self.most_held, len(self._full))
        base = self._full.get((self.baseline, seed))
        if base is None:
            return
        waiting = self._waiting[seed]
        for name in sorted(d for d in waiting if (d, seed) in self._full):
            self.pairs[(name, seed)] = self.pair(self._full[(name, seed)], base)
            waiting.discard(name)
            if name != self.baseline:
                del self._full[(name, seed)]
        if not waiting:
            del self._full[(self.baseline, seed)]


def pair_all(finished: Iterable[tuple[str, int, RunView]], designs: Iterable[str],
             baseline: str, seeds: Iterable[int], pair: Callable[[RunView, RunView], T]
             ) -> dict[tuple[str, int], T]:
    """``pair(run, baseline)`` of every ``(design, seed, view)`` in ``finished``, made as
    each becomes pairable (a ``Pairing`` fed the stream), by (design, seed)."""
    pairing = Pairing(designs, baseline, seeds, pair)
    for design, seed, view in finished:
        pairing.add(design, seed, view)
    return pairing.pairs
