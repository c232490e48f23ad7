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


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finaliser, vectorised over a uint64 array (arithmetic wraps modulo
    2**64, as intended; array operations never warn on it)."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@lru_cache(maxsize=4096)
def _stream_base(seed: int, name: str) -> np.uint64:
    """The 64-bit key of stream ``name`` under ``seed`` (hashed once, then remembered)."""
    return np.uint64(int.from_bytes(hashlib.sha256(f"{seed}/{name}".encode()).digest()[:8],
                                    "little"))


_MASK64 = (1 << 64) - 1
_COUNTER_MIX = 0xD6E8FEB86659FD93
_FEW_KEYS = 16  # up to this many draws hash as Python ints: a dozen tiny-array ops cost more


def _splitmix64_int(x: int) -> int:
    """``_splitmix64`` of one value as a Python int (wrapping made explicit by the mask)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _few_uniforms(base: int, keys: list[int], counters: list[int]) -> list[float]:
    """The uniforms ``keyed_normals`` hashes for a few (key, counter) pairs, one at a
    time: the same integers and the same two float operations, so the same bits."""
    mix = _splitmix64_int
    return [(float(mix(mix(base ^ (k & _MASK64)) ^ ((c * _COUNTER_MIX) & _MASK64)) >> 11)
             + 0.5) / float(1 << 53) for k, c in zip(keys, counters)]


def keyed_normals(seed: int, name: str, keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Standard normals indexed by ``(stream name, key, counter)`` rather than by draw order.

    Agents that react during a run (a user's k-th top-up, a bot's k-th attempt on an
    account) draw here, keyed by who and which attempt. Then a design that changes one
    user's fate does not shift the random numbers of every other user, and paired runs
    stay paired account by account.
    """
    base = _stream_base(int(seed), name)
    k = np.atleast_1d(np.asarray(keys, dtype=np.int64))
    c = np.atleast_1d(np.asarray(counters, dtype=np.int64))
    if k.ndim == c.ndim == 1 and len(k) <= _FEW_KEYS and len(c) <= _FEW_KEYS \
            and (len(k) == len(c) or len(k) == 1 or len(c) == 1):
        ks, cs = k.tolist(), c.tolist()
        n = max(len(ks), len(cs))
        u = np.array(_few_uniforms(int(base), ks * n if len(ks) == 1 else ks,
                                   cs * n if len(cs) == 1 else cs), dtype=np.float64)
    else:
        h = _splitmix64(_splitmix64(base ^ k.astype(np.uint64))
                        ^ (c.astype(np.uint64) * np.uint64(_COUNTER_MIX)))
        u = ((h >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)
    z = ndtri(u)
    return z if np.ndim(keys) or np.ndim(counters) else z[0]  # scalars in, scalar out


class Simulation:
    """Clock plus event heap. ``schedule`` callbacks; ``run`` pops them in time order.

    Events at the same time run in the order they were scheduled (the ``seq`` counter),
    which makes every run deterministic.
    """

    __slots__ = ("now", "seed", "_heap", "_seq", "_rngs")

    def __init__(self, seed: int = 0) -> None:
        self.now: int = 0
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

    def run(self, until: int) -> None:
        """Process events with time <= ``until``; then set the clock to ``until``."""
        heap = self._heap
        pop = heapq.heappop
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

    def run(self, until: int) -> None:
        self.sim.run(until)
