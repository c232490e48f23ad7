"""Based sequencing with preconfirmations: the L1's proposers order the rollup.

A based rollup has no sequencer of its own: each L1 slot's proposer (every
``l1_block_time``, 12 s) may put the rollup's next block in its L1 block, so inclusion
happens at L1 block times. A share of proposers (``preconf_share``) are preconfers: they
have posted collateral and answer a transaction within ``preconf_latency`` with a promise
to include it in their slot, after those they promised before. The proposers of the next
``lookahead`` slots are public, so a transaction goes to the first preconfer among them;
while one is ahead it alone may sequence the rollup (otherwise a proposer before it could
execute transactions that invalidate its promises), so the proposers in between build no
rollup block. With no preconfer in the lookahead the rollup falls back to plain based
sequencing: the slot's proposer includes whatever is waiting. Unpromised transactions go
in by priority fee, as L1 builders order, after the promised ones.

A proposer misses its slot with ``missed_slot_rate``. A preconfer that misses its slot
breaks its promises and is slashed (``seqlab.sequencing.preconf``); the transactions go
back to the public pool. Proposers and misses are drawn per slot from keyed streams, so
they do not depend on what else the run draws.
"""
from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from seqlab.kernel import keyed_normals
from seqlab.rollup.fees import Capabilities
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, PendingQueue, QueuedDesign
from seqlab.sequencing.preconf import PromiseBook

NONE = -1  # no promise: the transaction waits in the public pool


class PromiseQueue(PendingQueue):
    """Pending transactions with the slot each was promised to and the promise's rank."""

    def __init__(self) -> None:
        super().__init__()
        self.slot = np.empty(0, dtype=np.int64)
        self.rank = np.empty(0, dtype=np.int64)

    def add(self, ids: np.ndarray, arrival_us: np.ndarray, slot: np.ndarray | None = None,
            rank: np.ndarray | None = None) -> None:
        if not len(ids):
            return
        super().add(ids, arrival_us)
        none = np.full(len(ids), NONE, dtype=np.int64)
        self.slot = np.concatenate((self.slot, none if slot is None else slot))
        self.rank = np.concatenate((self.rank, none if rank is None else rank))

    def keep_only(self, keep: np.ndarray) -> None:
        super().keep_only(keep)
        self.slot, self.rank = self.slot[keep], self.rank[keep]

    def drop_head(self, n: int) -> None:
        self.keep_only(np.arange(len(self.ids)) >= n)


class BasedDesign(QueuedDesign):
    """L1 proposers sequence the rollup in turn; preconfers promise ahead of their slot."""

    name = "based"
    # L1 builders order by priority fee, and the proposer keeps it
    capabilities = Capabilities(tips=True)

    def __init__(self, cfg: Sequencer) -> None:
        super().__init__(cfg)
        self.based = cfg.based
        self.slot_us = cfg.l1_block_time
        self.block_time = cfg.l1_block_time  # alone, the rollup ticks once a slot
        self.queue = PromiseQueue()
        self.book = PromiseBook(cfg.based.collateral_eth)
        self.seed = 0
        self._txs = None  # the design's TxView: tips are on the envelope
        self.last_slot = 0  # every slot up to here is built or has passed
        self.opened = 0  # when the design started sequencing (µs)
        self.load: dict[int, int] = {}  # promises per preconfer slot
        self.rank = 0  # promises made so far: the order they were made in
        self.received = 0
        self.counts = {"blocks": 0, "preconfer_blocks": 0, "fallback_blocks": 0,
                       "missed_slots": 0, "waiting_slots": 0}

    def attach(self, view) -> None:
        self.seed = view.seed
        self._txs = view.txs
        self.book.attach(view.protocol)

    # who proposes ------------------------------------------------------------------
    def _draw(self, stream: str, slots: np.ndarray, share: float) -> np.ndarray:
        slots = np.asarray(slots, dtype=np.int64)
        z = keyed_normals(self.seed, stream, slots, np.zeros_like(slots))
        return ndtr(z) < share

    def preconfers(self, slots: np.ndarray) -> np.ndarray:
        """Whether each slot's proposer is a preconfer."""
        return self._draw("based/preconfers", slots, self.based.preconf_share)

    def missed(self, slots: np.ndarray) -> np.ndarray:
        """Whether each slot's proposer misses its slot."""
        return self._draw("based/missed", slots, self.based.missed_slot_rate)

    # promises ------------------------------------------------------------------------
    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Each transaction goes to the first preconfer in the lookahead whose slot comes
        after the promise can be made (and whose block has room); it answers at once."""
        if not len(ids):
            return
        self.received += len(ids)
        s = self.slot_us
        seen = np.maximum(arrival_us, self.opened)  # it reached a preconfer of this design
        at = seen + self.based.preconf_latency
        first = np.maximum(-(-at // s), self.last_slot + 1)
        last = seen // s + self.based.lookahead
        lo, hi = int(first.min()), int(max(last.max(), first.min()))
        span = np.arange(lo, hi + 1, dtype=np.int64)
        pre = span[self.preconfers(span)]
        slot = np.full(len(ids), NONE, dtype=np.int64)
        cap = self.capacity
        for k, (f, l) in enumerate(zip(first.tolist(), last.tolist())):
            j = int(np.searchsorted(pre, f))
            while j < len(pre) and pre[j] <= l and cap and self.load.get(int(pre[j]), 0) >= cap:
                j += 1
            if j < len(pre) and pre[j] <= l:
                slot[k] = pre[j]
                self.load[int(pre[j])] = self.load.get(int(pre[j]), 0) + 1
        promised = slot != NONE
        rank = np.full(len(ids), NONE, dtype=np.int64)
        rank[promised] = self.rank + np.arange(int(promised.sum()))
        self.rank += int(promised.sum())
        self.book.promise(ids[promised], slot[promised], at[promised])
        self.queue.add(ids, arrival_us, slot, rank)

    def begin(self, t_us: int) -> None:
        """The design starts sequencing at ``t_us`` (a rollup that buys sequencing moved
        to it): the slots before have passed, and a promise is made no earlier than now,
        whatever the transaction's arrival."""
        self.opened = t_us
        self.last_slot = max(self.last_slot, -(-t_us // self.slot_us) - 1)

    def strand_promises(self, t_us: int) -> None:
        """The rollup moves away at ``t_us``: the promises for slots that began before are
        broken (their preconfers had the slot and built nothing), those for later slots
        are stranded; either way their transactions are back in the public pool."""
        for slot in sorted(self.load):
            if slot * self.slot_us < t_us:
                self._break(slot)
            else:
                self.book.strand(slot, self._release(slot))

    def _break(self, slot: int) -> None:
        """The preconfer of ``slot`` produced no block: slash it for every promise it
        made; those transactions wait in the public pool again."""
        self.book.slash(slot, self._release(slot))

    def _release(self, slot: int) -> np.ndarray:
        """Take back the promises for ``slot``: their transactions, in promise order, wait
        in the public pool again."""
        q = self.queue
        mine = np.flatnonzero(q.slot == slot)
        mine = mine[np.argsort(q.rank[mine], kind="stable")]
        ids = q.ids[mine]
        q.slot[mine] = NONE
        q.rank[mine] = NONE
        self.load.pop(slot, None)
        return ids

    # blocks -----------------------------------------------------------------------------
    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        """A block at the first tick of each slot the rollup reaches (alone, every tick)."""
        out = []
        for k, tick in enumerate(ticks.tolist()):
            slot = tick // self.slot_us
            if slot <= self.last_slot:
                continue
            for passed in sorted(j for j in self.load if j < slot):  # no tick: no block
                self._break(passed)
            self.last_slot = slot
            block = self._slot(slot, tick)
            if len(block):
                out.append((k, block))
        return Blocks.collect(out)

    def _slot(self, slot: int, tick: int) -> np.ndarray:
        """The rollup block the proposer of ``slot`` builds (empty: none)."""
        empty = np.empty(0, dtype=np.int64)
        if self.missed(np.array([slot]))[0]:
            self.counts["missed_slots"] += 1
            if slot in self.load:
                self._break(slot)
            return empty
        preconfer = bool(self.preconfers(np.array([slot]))[0])
        if not preconfer and self.preconfers(
                np.arange(slot + 1, slot + self.based.lookahead + 1)).any():
            self.counts["waiting_slots"] += 1  # a preconfer ahead holds the rollup
            return empty
        q = self.queue
        n = q.arrived_by(tick)
        slots, ids = q.slot[:n], q.ids[:n]
        mine = np.flatnonzero(slots == slot)
        mine = ids[mine[np.argsort(q.rank[:n][mine], kind="stable")]]
        public = np.flatnonzero(slots == NONE)
        if self._txs is not None and len(public):
            order = np.lexsort((ids[public], q.arrival[:n][public],
                                -self._txs.tip(ids[public])))
            public = public[order]
        block = np.concatenate((mine, ids[public]))
        if self.capacity > 0:
            block = block[: self.capacity]
        q.remove(block)
        self.load.pop(slot, None)
        if len(block):
            self.counts["blocks"] += 1
            self.counts["preconfer_blocks" if preconfer else "fallback_blocks"] += 1
        return block

    def commits_by(self, t_us: int) -> bool:
        return t_us % self.slot_us == 0

    def metrics(self, horizon_us: int) -> dict:
        txs = self.book.protocol.txs if self.book.protocol is not None else None
        figures = dict(self.counts)
        if txs is not None:
            figures.update(self.book.metrics(txs, self.received, self.slot_us))
        return {"design_metrics": figures}
