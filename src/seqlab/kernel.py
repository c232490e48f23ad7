"""The simulation kernel: an integer-microsecond clock, an event heap and RNG streams.

Kept deliberately tiny (in the spirit of SimPy's core): a heap of ``(time, seq)`` keyed
callbacks and nothing else. Everything that can be computed over arrays (price paths,
arrival times, delivery times) is computed before or outside the heap; only the points
where order matters (block ticks, reactions to the feed) become events.
"""
from __future__ import annotations

import hashlib
import heapq
from functools import lru_cache
from typing import Any, Callable

import numpy as np
from scipy.special import ndtri

from seqlab.keyed_hash import uniforms


def stream_key(name: str) -> tuple[int, ...]:
    """A stable spawn key for a stream name (the same on every machine and Python run).

    Keying streams by name, not by creation order, means adding a component never
    shifts the random numbers another component sees.
    """
    digest = hashlib.sha256(name.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4))


def make_rng(seed: int, name: str) -> np.random.Generator:
    """The generator for stream ``name`` under scenario seed ``seed``."""
    ss = np.random.SeedSequence(entropy=int(seed), spawn_key=stream_key(name))
    return np.random.Generator(np.random.PCG64(ss))


def _cached(cache: dict[str, np.random.Generator], seed: int, name: str
            ) -> np.random.Generator:
    gen = cache.get(name)
    if gen is None:
        gen = cache[name] = make_rng(seed, name)
    return gen


@lru_cache(maxsize=4096)
def _stream_base(seed: int, name: str) -> np.uint64:
    """The 64-bit key of stream ``name`` under ``seed`` (hashed once, then remembered)."""
    return np.uint64(derived_seed(seed, name))


def keyed_normals(seed: int, name: str, keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Standard normals indexed by ``(stream name, key, counter)`` rather than by draw order.

    Agents that react during a run (a user's k-th top-up, a bot's k-th attempt on an
    account) draw here, keyed by who and which attempt. Then a design that changes one
    user's fate does not shift the random numbers of every other user, and paired runs
    stay paired account by account. ``keys`` and ``counters`` broadcast as numpy's
    arrays do; the hash is ``keyed_hash.uniforms``.
    """
    base = _stream_base(int(seed), name)
    k = np.asarray(keys, dtype=np.int64)
    c = np.asarray(counters, dtype=np.int64)
    if k.ndim <= 1 and c.ndim <= 1 and (k.size == c.size or k.size == 1 or c.size == 1):
        n = c.size if k.size == 1 else k.size
        u = uniforms(base, k.ravel(), c.ravel(), n)
        if k.ndim == c.ndim == 0:
            return ndtri(u)[0]  # scalars in, scalar out
    else:
        k, c = np.broadcast_arrays(k, c)
        u = uniforms(base, k.ravel(), c.ravel(), k.size).reshape(k.shape)
    return ndtri(u)


class Simulation:
    """Clock plus event heap. ``schedule`` callbacks; ``run`` pops them in time order.

    Events at the same time run in the order they were scheduled (the ``seq`` counter),
    which makes every run deterministic.
    """

    __slots__ = ("now", "until", "seed", "_heap", "_seq", "_rngs")

    def __init__(self, seed: int = 0) -> None:
        self.now: int = 0
        self.until: int = 0  # the time the running ``run`` stops after
        self.seed = int(seed)
        self._heap: list[tuple[int, int, Callable[..., Any], tuple]] = []
        self._seq = 0
        self._rngs: dict[str, np.random.Generator] = {}

    def rng(self, name: str) -> np.random.Generator:
        """The named random stream (created on first use, then reused)."""
        return _cached(self._rngs, self.seed, name)

    def schedule(self, time: int, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` at integer time ``time`` (never in the past)."""
        if time < self.now:
            raise ValueError(f"cannot schedule at {time} before now={self.now}")
        self._seq += 1
        heapq.heappush(self._heap, (int(time), self._seq, callback, args))

    def peek(self) -> int | None:
        """Time of the next event, or None when the heap is empty."""
        return self._heap[0][0] if self._heap else None

    def advance(self, time: int) -> bool:
        """Move the clock to ``time`` if no event is due at or before it, and say so.

        A callback about to schedule itself at ``time`` may instead go on at once when
        this is True: nothing could have run between, so it is the run it would have
        been popped for, without a trip through the heap (the rollup's block ticks)."""
        heap = self._heap
        if heap and heap[0][0] <= time:
            return False
        self.now = time
        return True

    def run(self, until: int) -> None:
        """Process events with time <= ``until``; then set the clock to ``until``."""
        heap = self._heap
        pop = heapq.heappop
        self.until = until
        while heap and heap[0][0] <= until:
            time, _, callback, args = pop(heap)
            self.now = time
            callback(*args)
        self.now = until


def derived_seed(seed: int, name: str) -> int:
    """A seed for a named part of a world (a second rollup), stable on every machine."""
    return int.from_bytes(hashlib.sha256(f"{int(seed)}/{name}".encode()).digest()[:8], "little")


class Scope:
    """A part of a simulation with its own random streams on the shared clock and heap.

    Several rollups in one world each draw their oracle noise, order flow and agent
    delays from their own streams (their own ``seed``), while every event still goes
    through the one kernel, so all rollups see one market at one time.
    """

    __slots__ = ("sim", "seed", "_rngs")

    def __init__(self, sim: Simulation, seed: int) -> None:
        self.sim = sim
        self.seed = int(seed)
        self._rngs: dict[str, np.random.Generator] = {}

    @property
    def now(self) -> int:
        return self.sim.now

    def rng(self, name: str) -> np.random.Generator:
        return _cached(self._rngs, self.seed, name)

    def schedule(self, time: int, callback: Callable[..., Any], *args: Any) -> None:
        self.sim.schedule(time, callback, *args)

    def peek(self) -> int | None:
        return self.sim.peek()

    def advance(self, time: int) -> bool:
        return self.sim.advance(time)

    def run(self, until: int) -> None:
        self.sim.run(until)
