"""Threshold-encrypted mempool (Shutter-style): order first, reveal after, include on time.

Users encrypt their transactions; the sequencer commits the order of ciphertexts at each
tick, and only then do ``threshold`` of ``keypers`` release the decryption key, after
their own latencies (the threshold-th fastest keyper decides). A committed batch executes
at the first tick after its key is out, and batches execute in commit order — so the
latency cost is the key release, modelled per batch.

Encryption alone stops an operator from acting on contents, not from holding
ciphertexts back. Real designs pair it with an inclusion guarantee (``inclusion``):

- ``committee`` — decentralized Timeboost: the keypers are the sequencing committee of
  n nodes, F = (n−1)//3 of which (the sequencer's own node 0 first) collude with the
  operator. Node k ≥ 1 receives a transaction a lognormal ``node_latency`` after the
  sequencer did (``keyed_normals(seed, "encrypted.node", tx id, k)``); every
  ``committee.list_interval`` each node lists what it has held for ``committee.list_age``;
  a transaction in F+1 lists is carried by at least one honest node and must be in the
  next block. So a transaction is due at the first list time at which F+1 honest nodes
  list it;
- ``deadline`` — it is due ``inclusion_deadline`` after it reached the sequencer;
- ``none`` — nothing but the rollup's force-inclusion window bounds a hold.

The block produced at the first tick at or after a transaction's due time commits it,
whatever the operator planned (and beyond ``max_txs_per_block`` if need be: the guarantee
comes first). ``commit_log`` records every commit so the bound can be checked.

The hosted operator's view is sealed (``contents_visible`` False: reading contents
raises), so strategies that need contents (backrun an oracle update, sandwich, trade ahead
of a price) find nothing to act on. Whether it can tell who sent a ciphertext is
``sender_linkable``: if it can, it may hold back every transaction of an account it wants
liquidated (until the due time); if not (``senders_visible`` False: reading a sender
raises), it cannot even choose whom to censor.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from seqlab.arrays import member
from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, PendingQueue, QueuedDesign
from seqlab.sequencing.key_release import KeyRelease
from seqlab.sequencing.strategies import HostsOperator

NEVER = np.iinfo(np.int64).max  # a due time for ``inclusion = "none"``
UNSET = np.iinfo(np.int64).min  # a queued transaction's due time not yet worked out


class DeadlineQueue(PendingQueue):
    """A ``PendingQueue`` that also keeps the time each transaction is due by, worked out
    only when it is needed: a transaction committed the tick it arrives (what the
    operator does with nearly all of them) never needs one."""

    def __init__(self) -> None:
        super().__init__()
        self.due = np.empty(0, dtype=np.int64)

    def add(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        if len(ids):
            super().add(ids, arrival_us)
            unset = np.empty(len(ids), dtype=np.int64)
            unset.fill(UNSET)  # np.full costs twice as much, every tick
            self.due = np.concatenate((self.due, unset)) if len(self.due) else unset

    def due_at(self, at: np.ndarray,
               work_out: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
        """The due times of the queued transactions at positions ``at``; those not yet
        known are ``work_out(ids, arrivals)`` (a pure function of the transaction, so
        working it out late gives the time it would have had on arrival) and kept."""
        due = self.due[at]
        unset = due == UNSET
        if unset.any():
            fresh = at[unset]
            due[unset] = self.due[fresh] = work_out(self.ids[fresh], self.arrival[fresh])
        return due

    def keep_only(self, keep: np.ndarray) -> None:
        super().keep_only(keep)
        self.due = self.due[keep]

    def drop_head(self, n: int) -> None:
        super().drop_head(n)
        self.due = self.due[n:]


def honest_listing_time(receipts: np.ndarray, faulty: int, list_interval: int,
                        list_age: int) -> np.ndarray:
    """When F+1 honest nodes' candidate lists carry each transaction.

    ``receipts`` is (transactions × nodes) receive times; nodes ``0..faulty-1`` are the
    operator's. Node k lists a transaction from the first multiple of ``list_interval``
    at least ``list_age`` after it received it, so F+1 honest lists carry it from the
    list time after the (F+1)-th honest receipt plus ``list_age``.
    """
    honest = np.sort(receipts[:, faulty:], axis=1)[:, faulty]
    ready = honest + list_age
    return -(-ready // list_interval) * list_interval


class EncryptedDesign(HostsOperator, QueuedDesign):
    """FCFS commitment of ciphertexts, bounded holding, execution after the key release."""

    name = "encrypted"
    contents_visible = False  # the sequencer orders ciphertexts: its TxView is sealed

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.enc = cfg.encrypted
        self.senders_visible = self.enc.sender_linkable
        self.faulty = (self.enc.keypers - 1) // 3
        self.queue: DeadlineQueue = DeadlineQueue()
        self.host(cfg.strategy, strategies)
        self.committed: deque[tuple[int, np.ndarray]] = deque()  # (key out at, ids)
        self.commit_log: list[tuple[int, np.ndarray]] = []  # (commit tick, ids)
        self.seed = 0
        self.key_release = KeyRelease(self.enc, cfg.block_time)

    def attach(self, view) -> None:
        super().attach(view)
        self.seed = view.seed

    def pending(self) -> int:
        return len(self.queue) + sum(len(ids) for _, ids in self.committed)

    def node_receipts(self, ids: np.ndarray, arrival_us: np.ndarray) -> np.ndarray:
        """When each committee node has each tx (len(ids) × keypers); node 0 is the
        sequencer, which has it at ``arrival_us``."""
        n, m = self.enc.keypers, len(ids)
        out = np.empty((m, n), dtype=np.int64)
        out[:, 0] = arrival_us
        if n > 1:
            z = keyed_normals(self.seed, "encrypted.node", np.repeat(ids, n - 1),
                              np.tile(np.arange(1, n, dtype=np.int64), m))
            out[:, 1:] = arrival_us[:, None] + latency_from_normals(
                self.enc.node_latency, z).reshape(m, n - 1)
        return out

    def due(self, ids: np.ndarray, arrival_us: np.ndarray) -> np.ndarray:
        """The time from which each tx must go into the next block (the design's bound)."""
        arrival_us = np.asarray(arrival_us, dtype=np.int64)
        if self.enc.inclusion == "deadline":
            return arrival_us + self.enc.inclusion_deadline
        if self.enc.inclusion == "committee":
            c = self.cfg.committee
            return honest_listing_time(self.node_receipts(ids, arrival_us), self.faulty,
                                       c.list_interval, c.list_age)
        return np.full(len(ids), NEVER, dtype=np.int64)

    def key_delay(self, commit_us: int) -> int:
        """When the threshold-th keyper has released its share (µs after the commit)."""
        return self.key_release.delay(self.seed, commit_us)

    def _commit(self, now: int) -> None:
        q = self.queue
        n = q.arrived_by(now)
        if not n:
            return
        ids, arrival = q.ids[:n], q.arrival[:n]
        order = self.operator.plan(ids, arrival, now) if self.operator is not None else ids
        if self.capacity > 0:
            order = order[: self.capacity]
        if order is not ids:  # the plan may hold some back: those overdue go too
            left = np.flatnonzero(~member(ids, order))  # what the plan holds back, in order
            if len(left):
                overdue = ids[left[q.due_at(left, self.due) <= now]]
                order = np.concatenate((order, overdue))
            order = np.asarray(order, dtype=np.int64)
        q.remove_taken(order, ids)
        if len(order):
            self.committed.append((now + self.key_delay(now), order))
            self.commit_log.append((now, order))

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        out = []
        for k, tick in enumerate(ticks.tolist()):
            self._commit(tick)
            while self.committed and self.committed[0][0] <= tick:
                out.append((k, self.committed.popleft()[1]))
        return Blocks.collect(out)
