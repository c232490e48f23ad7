"""The one small interface every sequencer design implements.

A design receives transactions (ids with their receive times, never before they have
arrived) and, when the rollup ticks, returns the order in which they go into blocks. The
rollup may ask for several consecutive ticks at once (``ticks`` is an array) when nothing
else can happen in between; a design answers as if it had been asked tick by tick.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable

import numpy as np

from seqlab.arrays import member
from seqlab.rollup.fees import NO_CAPABILITIES, Capabilities
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.fcfs_rule import FcfsRule


@dataclass
class Blocks:
    """Output of ``build_blocks``: tx ids in execution order, and the tick each lands in."""

    ids: np.ndarray        # int64 tx ids, in order
    tick_index: np.ndarray  # int64 index into the ``ticks`` array, non-decreasing

    @classmethod
    def collect(cls, per_tick: list[tuple[int, np.ndarray]]) -> "Blocks":
        """Join ``(tick index, block ids)`` pairs (empty blocks are skipped)."""
        per_tick = [(k, ids) for k, ids in per_tick if len(ids)]
        if not per_tick:
            return cls(np.empty(0, np.int64), np.empty(0, np.int64))
        if len(per_tick) == 1:  # one block (the usual tick): nothing to join
            k, ids = per_tick[0]
            tick_index = np.empty(len(ids), np.int64)
            tick_index.fill(k)  # np.full costs twice as much
            return cls(np.asarray(ids, dtype=np.int64), tick_index)  # no copy: never written
        return cls(np.concatenate([ids for _, ids in per_tick]).astype(np.int64),
                   np.concatenate([np.full(len(ids), k, dtype=np.int64)
                                   for k, ids in per_tick]))


# nothing held back: ids, arrivals (writable, as the compiled runner takes every array)
NOTHING_HELD = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))


class PendingQueue:
    """Received, not yet sequenced transactions, kept in arrival order."""

    def __init__(self) -> None:
        self.ids = np.empty(0, dtype=np.int64)
        self.arrival = np.empty(0, dtype=np.int64)

    def add(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        if not len(ids):
            return
        if len(self.ids):
            self.ids = np.concatenate((self.ids, ids))
            self.arrival = np.concatenate((self.arrival, arrival_us))
        else:  # the usual tick under FCFS: the queue was emptied, take the arrays as they
            # are (the queue never writes into its arrays, it replaces them)
            self.ids = np.asarray(ids, dtype=np.int64)
            self.arrival = np.asarray(arrival_us, dtype=np.int64)

    def arrived_by(self, t_us: int) -> int:
        """How many queued transactions had arrived by ``t_us`` (they form a prefix):
        all of them when the last had (the usual tick), without a search."""
        arrival = self.arrival
        if not len(arrival) or arrival.item(-1) <= t_us:
            return len(arrival)
        return int(arrival.searchsorted(t_us, side="right"))  # the method: no dispatch

    SHORT = 64  # up to this many queued, ``remove`` tests membership on Python ints

    def remove(self, taken: np.ndarray) -> None:
        """Drop the transactions in ``taken`` (ids), keeping the others' order."""
        if len(self.ids) > self.SHORT:
            self.keep_only(~member(self.ids, taken))
            return
        gone = set(np.asarray(taken).tolist())  # a short queue: cheaper than arrays
        self.keep_only(np.array([i not in gone for i in self.ids.tolist()], dtype=bool))

    def remove_taken(self, taken: np.ndarray, head: np.ndarray) -> None:
        """Drop ``taken``, built from ``head`` (``ids[:n]`` as this queue handed it out):
        when it is ``head`` itself, as it was (a quiet block), the head goes in one slice,
        with no membership test."""
        if taken is head:
            self.drop_head(len(head))
        else:
            self.remove(taken)

    def keep_only(self, keep: np.ndarray) -> None:
        """Keep the queued transactions where ``keep`` is True (a subclass keeping more
        per-transaction columns filters them here too)."""
        self.ids, self.arrival = self.ids[keep], self.arrival[keep]

    def drop_head(self, n: int) -> None:
        self.ids, self.arrival = self.ids[n:], self.arrival[n:]

    def __len__(self) -> int:
        return len(self.ids)


def blocks_per_tick(ticks: np.ndarray, queue: PendingQueue,
                    build: Callable[[np.ndarray, np.ndarray, int], np.ndarray]) -> Blocks:
    """Tick by tick: ``build(eligible ids, their arrivals, now)`` returns one block's ids
    (in order); they leave the queue, everything else stays for later ticks."""
    out = []
    for k, tick in enumerate(ticks.tolist()):
        n = queue.arrived_by(tick)
        if not n:
            continue
        eligible = queue.ids[:n]
        block = build(eligible, queue.arrival[:n], tick)
        queue.remove_taken(block, eligible)
        out.append((k, block))
    return Blocks.collect(out)


class Design(ABC):
    """A sequencer design (ordering policy). Subclasses register a ``name``."""

    name: str = "abstract"
    # what the design's blocks do with fees (tips, auctions, batch clearing): the
    # rollup's fee market reads it; none by default
    capabilities: Capabilities = NO_CAPABILITIES
    public_mempool: bool = False  # whether pending txs are gossiped where bots can watch
    contents_visible: bool = True  # whether the sequencer may read pending txs' contents
    senders_visible: bool = True  # whether it can tell who sent a tx it cannot read
    operator_orders: bool = True  # whether a hosted operator's block layout is kept
    builders: int = 0  # independent block builders, each with accounts of its own

    def __init__(self, cfg: Sequencer) -> None:
        self.cfg = cfg
        self.block_time = cfg.block_time
        self.capacity = cfg.max_txs_per_block

    def gossips(self, t_us: int) -> bool:
        """Whether pending transactions are gossiped where bots watch at ``t_us``: a
        design that changes hands during a run (a sequencing market) may say so only part
        of the time."""
        return self.public_mempool

    def attach(self, view: object) -> None:
        """Receive the operator's view of the chain (only extractive designs use it)."""

    @abstractmethod
    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Transactions that reached the sequencer (sorted by arrival, then id)."""

    @abstractmethod
    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        """Order pending transactions into the blocks produced at ``ticks``."""

    @abstractmethod
    def pending(self) -> int:
        """Transactions received but not yet sequenced."""

    def fcfs_rule(self) -> FcfsRule | None:
        """Which of its blocks the design builds as first-come-first-served, so a runner
        may play them without asking it (None: none; asked once the world is
        assembled). See ``fcfs_rule``."""
        return None

    def held(self) -> tuple[np.ndarray, np.ndarray] | None:
        """What the design holds back, ids and arrivals in its order, each kept while its
        ``fcfs_rule`` says so; None where it holds anything the rule cannot judge (asked
        before a runner plays a stretch)."""
        return NOTHING_HELD if self.pending() == 0 else None

    def active_capabilities(self) -> Capabilities:
        """The capabilities of the block being produced now: the design's own, unless it
        hands its blocks to others (a market of sequencing services answers for the
        service in use)."""
        return self.capabilities

    def honours_bundles(self, t_us: int) -> bool:
        """Whether the block produced at ``t_us`` keeps a bundle of separate transactions
        together, in its order (an oracle update and the backrun sold with it): a
        producer that only orders does; one that backruns for itself splits it."""
        return True

    def commits_by(self, t_us: int) -> bool:
        """Whether the block produced at ``t_us`` is a committed one a bundle can ride in
        (always, for a design that produces a block at every tick)."""
        return True

    def admit_delayed(self, ids: np.ndarray, ready_us: np.ndarray, now: int) -> int:
        """How many of the delayed-inbox messages ``ids`` (in inbox order, each
        includable since ``ready_us``) the sequencer includes now: a prefix, as the inbox
        is read in order. An honest sequencer takes them all."""
        return len(ids)

    def take_overdue(self, deadline_us: int) -> np.ndarray:
        """Remove and return txs received at or before ``deadline_us`` that are still
        waiting: the rollup force-includes them through L1, whatever the design wants.
        Designs without a ``PendingQueue`` keep theirs (they never hold txs back)."""
        queue = getattr(self, "queue", None)
        if not isinstance(queue, PendingQueue) or not len(queue):
            return np.empty(0, dtype=np.int64)
        late = queue.ids[: queue.arrived_by(deadline_us)]  # in arrival order: a prefix
        if len(late):
            queue.remove(late)
        return late


class QueuedDesign(Design):
    """A design that keeps what it has received, in arrival order, in one PendingQueue."""

    def __init__(self, cfg: Sequencer) -> None:
        super().__init__(cfg)
        self.queue = PendingQueue()

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        self.queue.add(ids, arrival_us)

    def pending(self) -> int:
        return len(self.queue)
