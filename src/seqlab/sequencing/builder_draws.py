"""The builders' keyed random draws, made in batches: the same numbers for less work.

How long after the sequencer each builder sees a transaction: builder ``i``'s extra
delay for transaction ``tx`` is a lognormal keyed by ``tx`` in stream ``builders.{i}``
(counter 0), a pure function of the id, whatever the order in which transactions are
received. Drawing it per received batch costs one keyed draw per
builder for a handful of ids at every tick, where set-up dominates; drawing it for a
whole range of ids at once gives the same numbers (the same keys and counters) for a
fraction of that. The table grows by doubling as transaction ids grow, so each id is
drawn once, and at most as many unused ids as used are drawn ahead.

How equal top bids are ordered: one normal per builder keyed by the tick's time in
stream ``builders.ties``. Builders running the same strategies on the same flow tie at
most ticks, and ticks come every block time, so the draws for the next ``TIE_TICKS``
ticks are made at once and used as the ticks come; a tick off that grid draws afresh.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Latency

FIRST_ROWS = 4096  # ids drawn at the first draw: some minutes of default flow
TIE_TICKS = 64     # ticks whose tie-breaking draws are made together
SMALL = 64         # up to this many ids, their largest is found in Python


class BuilderLatencies:
    """Each builder's delay (integer µs) behind the sequencer, one column per builder,
    row ``tx`` for transaction ``tx``; rows are drawn on demand for ids not yet covered."""

    def __init__(self, seed: int, latency: Sequence[Latency]) -> None:
        self.seed = int(seed)
        self.latency = list(latency)
        self.table = np.empty((0, len(self.latency)), dtype=np.int64)

    def delays(self, ids: np.ndarray) -> np.ndarray:
        """Rows of the table for ``ids`` (int64 ids >= 0)."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids):
            # a tick's handful as Python ints: a numpy reduction's fixed cost is most of it
            need = (max(ids.tolist()) if len(ids) <= SMALL else int(ids.max())) + 1
            if need > len(self.table):
                self._grow(need)
        return self.table.take(ids, axis=0)  # rows: a quarter of the fancy index's cost

    def seen(self, ids: np.ndarray, arrival_us: np.ndarray) -> np.ndarray:
        """When each builder sees each transaction: its arrival plus the builder's own
        delay (one column per builder)."""
        seen = self.delays(ids)  # a fresh array: added to in place
        seen += np.asarray(arrival_us, dtype=np.int64)[:, None]
        return seen

    def _grow(self, need: int) -> None:
        start = len(self.table)
        stop = max(need, 2 * start, FIRST_ROWS)
        new = np.arange(start, stop, dtype=np.int64)
        rows = np.empty((stop - start, len(self.latency)), dtype=np.int64)
        for i, lat in enumerate(self.latency):
            rows[:, i] = latency_from_normals(
                lat, keyed_normals(self.seed, f"builders.{i}", new, 0))
        self.table = np.concatenate((self.table, rows))


class TieDraws:
    """Per tick, one standard normal per builder (stream ``builders.ties``, keyed by the
    builder, counter the tick's time); equal top bids win in the order of these."""

    def __init__(self, seed: int, builders: int, block_time: int) -> None:
        self.seed, self.builders, self.block_time = int(seed), builders, block_time
        self.first = 0
        self.rows = np.empty((0, builders))

    def at(self, now: int) -> np.ndarray:
        """The builders' draws for the tick at ``now`` (µs)."""
        k, off = divmod(now - self.first, self.block_time)
        if off or not 0 <= k < len(self.rows):
            self._draw(now)
            k = 0
        return self.rows[k]

    def _draw(self, now: int) -> None:
        ticks = now + self.block_time * np.arange(TIE_TICKS, dtype=np.int64)
        keys = np.tile(np.arange(self.builders, dtype=np.int64), TIE_TICKS)
        z = keyed_normals(self.seed, "builders.ties", keys, np.repeat(ticks, self.builders))
        self.first, self.rows = now, z.reshape(TIE_TICKS, self.builders)
