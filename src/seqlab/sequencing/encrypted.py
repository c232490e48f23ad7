"""Threshold-encrypted mempool (Shutter-style): order first, reveal after.

Users encrypt their transactions; the sequencer commits the order of ciphertexts at each
tick, and only then do ``threshold`` of ``keypers`` release the decryption key, after
their own latencies (the t-th fastest keyper decides). A committed batch executes at the
first tick after its key is out, and batches execute in commit order — so the latency
cost is the key release, modelled per batch.

A hosted operator sees senders but not contents (the design's ``TxView`` is sealed:
``contents_visible`` is False, and reading contents raises): strategies that need
contents (backrun an oracle update, sandwich, trade ahead of a price) find nothing to act
on, while content-blind ones still can — it may hold back every transaction of a sender
it wants liquidated.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign
from seqlab.sequencing.strategies import HostsOperator


class EncryptedDesign(HostsOperator, QueuedDesign):
    """FCFS commitment of ciphertexts, execution after the threshold key release."""

    name = "encrypted"
    contents_visible = False  # the sequencer orders ciphertexts: its TxView is sealed

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.enc = cfg.encrypted
        self.host(cfg.strategy, strategies)
        self.committed: deque[tuple[int, np.ndarray]] = deque()  # (key out at, ids)
        self.seed = 0

    def attach(self, view) -> None:
        super().attach(view)
        self.seed = view.seed

    def pending(self) -> int:
        return len(self.queue) + sum(len(ids) for _, ids in self.committed)

    def key_delay(self, commit_us: int) -> int:
        """When the threshold-th keyper has released its share (µs after the commit)."""
        keypers = np.arange(self.enc.keypers)
        z = keyed_normals(self.seed, "encrypted.keyper", keypers, commit_us)
        return int(np.sort(latency_from_normals(self.enc.key_latency, z))[self.enc.threshold - 1])

    def _commit(self, now: int) -> None:
        n = self.queue.arrived_by(now)
        if not n:
            return
        ids, arrival = self.queue.ids[:n], self.queue.arrival[:n]
        order = self.operator.plan(ids, arrival, now) if self.operator is not None else ids
        if self.capacity > 0:
            order = order[: self.capacity]
        self.queue.remove(order)
        if len(order):
            self.committed.append((now + self.key_delay(now), order))

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        out = []
        for k, tick in enumerate(ticks.tolist()):
            self._commit(tick)
            while self.committed and self.committed[0][0] <= tick:
                out.append((k, self.committed.popleft()[1]))
        return Blocks.collect(out)
