"""The network between senders and the sequencer: latency sampling and delivery.

Transactions whose submission is known up front (order flow, oracle updates) are loaded
in bulk and delivered by array slicing; transactions created during the run (reactions to
the feed) go through a small heap. Delivery hands the sequencer exactly the transactions
that have arrived by its tick, in arrival order, so a design can never see the future.
"""
from __future__ import annotations

import bisect
import heapq

import numpy as np

from seqlab.scenario.schema import Latency


def sample_latency(rng: np.random.Generator, cfg: Latency, n: int) -> np.ndarray:
    """``n`` lognormal delays in integer microseconds (median ``cfg.median``)."""
    return latency_from_normals(cfg, rng.standard_normal(n))


def latency_from_normals(cfg: Latency, z: np.ndarray) -> np.ndarray:
    """Lognormal delays (integer µs) from given standard normals ``z``."""
    if cfg.sigma == 0:
        return np.full(len(z), cfg.median, dtype=np.int64)
    return np.rint(cfg.median * np.exp(cfg.sigma * z)).astype(np.int64)


class Network:
    """In-flight transactions on their way to the sequencer."""

    AHEAD = 1024  # bulk arrivals listed at a time

    def __init__(self) -> None:
        self._bulk_ids = np.empty(0, dtype=np.int64)
        self._bulk_arrival = np.empty(0, dtype=np.int64)
        self._bulk_pos = 0
        self._heap: list[tuple[int, int]] = []
        # the next arrivals as a list from ``_ahead_at``, every one before it having
        # arrived by ``_ahead_after``: a bisect on a short list costs a fraction of an
        # array search, and a tick takes a few transactions at a time
        self._ahead: list[int] = []
        self._ahead_at = 0
        self._ahead_after = -1

    def preload(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Load transactions known before the run starts (sorted here by arrival, id)."""
        ids = np.concatenate((self._bulk_ids[self._bulk_pos:], ids))
        arrival = np.concatenate((self._bulk_arrival[self._bulk_pos:], arrival_us))
        order = np.lexsort((ids, arrival)) if (np.diff(ids) <= 0).any() else \
            np.argsort(arrival, kind="stable")  # ids ascending: stable sort breaks ties by id
        self._bulk_ids, self._bulk_arrival, self._bulk_pos = ids[order], arrival[order], 0
        self._ahead, self._ahead_at, self._ahead_after = [], 0, -1

    def send(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Put transactions created during the run on the wire."""
        for tx, t in zip(ids.tolist(), arrival_us.tolist()):
            heapq.heappush(self._heap, (t, tx))

    def deliver(self, until_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Everything that has arrived by ``until_us``, ordered by (arrival, id)."""
        end = self._bulk_end(until_us)
        ids = self._bulk_ids[self._bulk_pos:end]
        arrival = self._bulk_arrival[self._bulk_pos:end]
        self._bulk_pos = end
        heap = self._heap
        if heap and heap[0][0] <= until_us:
            late: list[tuple[int, int]] = []
            while heap and heap[0][0] <= until_us:
                late.append(heapq.heappop(heap))
            l_arr = np.fromiter((t for t, _ in late), np.int64, len(late))
            l_ids = np.fromiter((i for _, i in late), np.int64, len(late))
            ids = np.concatenate((ids, l_ids))
            arrival = np.concatenate((arrival, l_arr))
            order = np.lexsort((ids, arrival))
            ids, arrival = ids[order], arrival[order]
        return ids, arrival

    def _bulk_end(self, until_us: int) -> int:
        """Where the bulk arrivals after ``until_us`` begin (``searchsorted``, right),
        found in the listed arrivals ahead while it falls among them (past their last,
        or before what was known to have arrived, the array decides)."""
        ahead = self._ahead
        k = bisect.bisect_right(ahead, until_us)
        if k < len(ahead) and (k or until_us >= self._ahead_after):
            return self._ahead_at + k
        end = int(self._bulk_arrival.searchsorted(until_us, side="right"))
        self._ahead = self._bulk_arrival[end:end + self.AHEAD].tolist()
        self._ahead_at, self._ahead_after = end, until_us
        return end

    def in_flight(self) -> int:
        return len(self._bulk_ids) - self._bulk_pos + len(self._heap)

