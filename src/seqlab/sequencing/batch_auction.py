"""Frequent batch auctions with sealed batches: orders collected over an interval clear
together at one price, in an order fixed before anyone reads them.

Every ``interval`` the sequencer closes a batch with *all* transactions that have arrived
(it cannot hold any back), puts oracle updates first (by sender, the envelope), then
orders the rest by a hash of the run's seed and the transaction id — so arriving first
gives no advantage — commits that order (``sealed_batch``) and only then opens the
contents; the protocol fills every trade of the batch at one uniform clearing price
(Budish, Cramton & Shim 2015; CoW Protocol and Penumbra clear batches the same way).

While a batch is open its contents are sealed: the design's ``TxView`` raises on reads of
them, the hosted operator's included. So the operator has no last look: its own
transactions are decided from the last executed batch and travel to the sequencer like an
outside bot's (``batch_operator``), and the hash order ranks them with everyone else's.
The operator is asked tick by tick (the perps feed subscribes to every block), so it sees
each batch's result before the next one closes.
"""
from __future__ import annotations

import numpy as np

from seqlab.rollup.fees import Capabilities
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.batch_operator import SealedBatchOperator
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.sealed_batch import BatchLog
from seqlab.sequencing.strategies import HostsOperator


def hash_order(seed: int, ids: np.ndarray) -> np.ndarray:
    """A permutation of ``ids`` by a keyed hash: deterministic, independent of arrival."""
    from seqlab.kernel import keyed_normals

    return ids[np.lexsort((ids, keyed_normals(seed, "batch.order", ids, 0)))]


class BatchAuctionDesign(HostsOperator, QueuedDesign):
    """A sealed batch every ``interval``; inside it, updates first, then hash order."""

    name = "batch-auction"
    capabilities = Capabilities(batch_clearing=True)  # every trade of a block at one price
    contents_visible = False  # sealed until the batch's order is committed

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.every = max(1, cfg.batch_auction.interval // cfg.block_time)
        self.host(cfg.strategy, strategies)
        self.sealed_operator = None if self.operator is None else \
            SealedBatchOperator(self.operator, cfg.batch_auction.operator_latency)
        self.log = BatchLog()
        self._unseen: int | None = None  # close of a batch the operator has not looked at
        self._in_flight = (np.empty(0, np.int64), np.empty(0, np.int64))  # operator's txs

    def attach(self, view: OperatorView) -> None:
        super().attach(view)
        if self.sealed_operator is not None:
            self.sealed_operator.attach(view)

    def pending(self) -> int:
        return super().pending() + len(self._in_flight[0])

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        self._operator_looks(int(ticks[0]))
        self._deliver_own(int(ticks[-1]))
        if len(ticks) == 1 and (int(ticks[0]) // self.block_time) % self.every:
            return Blocks.collect([])  # a tick between batches: nothing closes
        closing = ticks[(ticks // self.block_time) % self.every == 0]
        blocks = blocks_per_tick(closing, self.queue, self._batch)
        index = np.searchsorted(ticks, closing[blocks.tick_index])
        return Blocks(blocks.ids, index.astype(np.int64))

    def _operator_looks(self, now: int) -> None:
        """After a batch has executed (any later tick), the operator decides, as of that
        batch's close, from the state it left; its transactions set off then."""
        if self.sealed_operator is None or self._unseen is None or now <= self._unseen:
            return
        ids, arrival = self.sealed_operator.react(self._unseen)
        self._unseen = None
        order = np.argsort(np.concatenate((self._in_flight[1], arrival)), kind="stable")
        self._in_flight = (np.concatenate((self._in_flight[0], ids))[order],
                           np.concatenate((self._in_flight[1], arrival))[order])

    def _deliver_own(self, now: int) -> None:
        """The operator's transactions that have reached the sequencer by ``now`` join the
        queue in arrival order, as the network's do."""
        ids, arrival = self._in_flight
        n = int(arrival.searchsorted(now, side="right"))
        if not n:
            return
        q = self.queue
        all_ids, all_arrival = np.concatenate((q.ids, ids[:n])), np.concatenate((q.arrival,
                                                                              arrival[:n]))
        order = np.argsort(all_arrival, kind="stable")
        q.ids, q.arrival = all_ids[order], all_arrival[order]
        self._in_flight = (ids[n:], arrival[n:])

    def _batch(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        ids = eligible
        is_oracle = self.view.txs.origin(ids) == -1  # the sender, not the contents
        oracle = ids[is_oracle]
        if len(oracle) > 1:  # updates in the order they arrived
            oracle = oracle[np.argsort(self.view.txs.arrival(oracle), kind="stable")]
        order = self.log.commit(now, np.concatenate((oracle,
                                                     hash_order(self.view.seed, ids[~is_oracle]))))
        self.view.txs.reveal(order)
        if self.sealed_operator is not None:
            self.sealed_operator.committed(order)
            self._unseen = now
        return order
