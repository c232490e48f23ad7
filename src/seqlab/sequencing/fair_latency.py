"""The fair-ordering committee's node latencies, drawn a thousand transactions at a time.

Node ``k``'s delay for transaction ``i`` is a lognormal from
``keyed_normals(seed, "fair.node", i, k)``: a function of the transaction and the node
only. A tick receives a few transactions, and one ``keyed_normals`` call per tick costs
far more than the draws themselves, so the delays are computed for a whole range of
consecutive tx ids at once (ids are dense: 0 .. count-1) and looked up. The values are
the same bits as drawing one transaction at a time: each draw is an elementwise function
of its key and counter.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Latency

CHUNK_BITS = 10  # 1024 transactions per chunk
KEEP_CHUNKS = 64  # at most this many chunks kept (a miss recomputes the same values)


class NodeLatencies:
    """Delays of nodes ``1 .. nodes-1`` after the leader, by tx id, cached by id range."""

    def __init__(self, cfg: Latency, nodes: int) -> None:
        self.cfg, self.nodes = cfg, nodes
        self._seed: int | None = None
        self._chunks: dict[int, np.ndarray] = {}  # chunk number -> (1024 × nodes-1)

    def of(self, seed: int, ids: np.ndarray) -> np.ndarray:
        """(len(ids) × nodes-1) int64 delays; row ``r`` for ``ids[r]``."""
        if seed != self._seed:
            self._seed, self._chunks = seed, {}
        keys = (ids >> CHUNK_BITS).tolist()
        first = keys[0]
        if keys.count(first) == len(keys):  # the usual tick: one range
            return self._chunk(first).take(ids - (first << CHUNK_BITS), axis=0)  # rows
        out = np.empty((len(ids), self.nodes - 1), np.int64)
        for c in set(keys):
            rows = np.flatnonzero(ids >> CHUNK_BITS == c)
            out[rows] = self._chunk(c)[ids[rows] - (c << CHUNK_BITS)]
        return out

    def _chunk(self, c: int) -> np.ndarray:
        table = self._chunks.get(c)
        if table is None:
            if len(self._chunks) >= KEEP_CHUNKS:  # forget the oldest computed
                del self._chunks[next(iter(self._chunks))]
            size, n = 1 << CHUNK_BITS, self.nodes - 1
            ids = np.arange(c << CHUNK_BITS, (c + 1) << CHUNK_BITS, dtype=np.int64)
            z = keyed_normals(self._seed, "fair.node", np.repeat(ids, n),
                              np.tile(np.arange(1, n + 1, dtype=np.int64), size))
            table = self._chunks[c] = latency_from_normals(self.cfg, z).reshape(size, n)
        return table
