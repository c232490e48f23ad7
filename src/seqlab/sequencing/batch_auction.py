"""Frequent batch auctions: orders collected over an interval clear together at one price.

Every ``interval`` the sequencer closes a batch with *all* transactions that have arrived
(it cannot hold any back), puts oracle updates first, then orders the rest by a hash of
the run's seed and the transaction id — so arriving first gives no advantage — and the
protocol fills every trade of the batch at one uniform clearing price. A hosted
extractive operator may still add its own transactions to a batch, but it cannot choose
where they go or what price they get.
"""
from __future__ import annotations

import numpy as np

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.strategies import HostsOperator


def hash_order(seed: int, ids: np.ndarray) -> np.ndarray:
    """A permutation of ``ids`` by a keyed hash: deterministic, independent of arrival."""
    from seqlab.kernel import keyed_normals

    return ids[np.lexsort((ids, keyed_normals(seed, "batch.order", ids, 0)))]


class BatchAuctionDesign(HostsOperator, QueuedDesign):
    """A batch every ``interval``; inside it, updates first, then hash order."""

    name = "batch-auction"
    uniform_fills = True

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.every = max(1, cfg.batch_auction.interval // cfg.block_time)
        self.host(cfg.strategy, strategies)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        closing = ticks[(ticks // self.block_time) % self.every == 0]
        blocks = blocks_per_tick(closing, self.queue, self._batch)
        index = np.searchsorted(ticks, closing[blocks.tick_index])
        return Blocks(blocks.ids, index.astype(np.int64))

    def _batch(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        ids = eligible
        if self.operator is not None:
            wanted = self.operator.plan(eligible, arrival, now, can_hold=False)
            ids = np.union1d(eligible, wanted)  # its order is not ours to take
        is_oracle = self.view.txs.origin(ids) == -1  # the sender, not the contents
        oracle = ids[is_oracle]
        oracle = oracle[np.argsort(self.view.txs.arrival(oracle), kind="stable")]
        return np.concatenate((oracle, hash_order(self.view.seed, ids[~is_oracle])))
