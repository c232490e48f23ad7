"""The hosted operator under sealed batches: one more liquidator in the race.

While a batch is open its contents are sealed, the operator's included, and once it is
closed its order is committed (``sealed_batch``). So the operator cannot read a pending
oracle update and slip its liquidations in behind it: what it can do is what an outside
bot does — watch the state the last batch left, decide, and send. Its transactions are
created when that batch closed, reach the sequencer ``operator_latency`` later (drawn per
account and attempt, ``keyed_normals`` streams ``batch.operator*``, so no other
stream moves), and go into the first batch that closes after they arrive, where the design's
hash order ranks them with everyone else's. Running the node, it sees the state without
feed latency; like a bot it has at most one liquidation per account in flight, and tries
again after any batch that leaves the account liquidatable. That is the most it can do
without a look inside the batch, so its share of the rewards is an upper bound.

With ``backrun`` on it liquidates, after every batch, each user account the batch left
liquidatable (under Dutch auctions it bids the break-even price, as the unsealed operator
does) and, beside an options market, every liquidatable writer. Nothing else of its strategies is
possible here: holding is forbidden, contents are sealed and every fill of a batch is at
one price.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Latency
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.strategies import Operator
from seqlab.txs import Kind, KindInt


class Tries:
    """Per-target delays keyed by (target, attempt): the k-th try on target i always
    draws the same delay, whatever happens to other targets."""

    def __init__(self, seed: int, name: str, targets: int, latency: Latency) -> None:
        self.seed, self.name, self.latency = seed, name, latency
        self.count = np.zeros(targets, dtype=np.int64)
        self.in_flight = np.zeros(targets, dtype=bool)

    def delays(self, targets: np.ndarray) -> np.ndarray:
        k = self.count[targets]
        self.count[targets] += 1
        return latency_from_normals(self.latency,
                                    keyed_normals(self.seed, self.name, targets, k))


class SealedBatchOperator:
    """The operator's liquidations, decided from executed state and sent like a bot's."""

    def __init__(self, operator: Operator, latency: Latency) -> None:
        self.operator, self.latency = operator, latency
        self.view: OperatorView | None = None
        self.accounts: Tries | None = None  # perps accounts
        self.writers: Tries | None = None   # option writers (the market attaches later)

    def attach(self, view: OperatorView) -> None:
        self.view = view
        self.accounts = Tries(view.seed, "batch.operator", len(view.protocol.size), self.latency)

    def react(self, t_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Liquidations decided at ``t_us`` from the state the last batch left: their ids
        and when each reaches the sequencer."""
        view = self.view
        if "backrun" not in self.operator.strategies or not view.protocol.price:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        p = view.protocol
        targets = view.user_accounts(p.liquidatable())
        targets = targets[~self.accounts.in_flight[targets]]
        dutch = hasattr(p.liquidation, "auctions")  # a take bids no more than breaks even
        bids = [self.operator.break_even(p.liquidation, acct, p.price, t_us) if dutch else 0
                for acct in targets.tolist()]
        ids, arrival = self._send(Kind.LIQUIDATE, targets, bids, self.accounts, t_us)
        if view.options is None:
            return ids, arrival
        if self.writers is None:
            self.writers = Tries(view.seed, "batch.operator.options",
                                 len(view.options.writer_wallet), self.latency)
        writers = view.options.liquidatable(t_us)
        writers = writers[~self.writers.in_flight[writers]]
        more, later = self._send(Kind.OPT_LIQUIDATE, writers, [0] * len(writers),
                                 self.writers, t_us)
        return np.concatenate((ids, more)), np.concatenate((arrival, later))

    def _send(self, kind: Kind, targets: np.ndarray, bids: list[int], tries: Tries,
              t_us: int) -> tuple[np.ndarray, np.ndarray]:
        if not len(targets):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        arrival = (t_us + tries.delays(targets)).astype(np.int64)
        tries.in_flight[targets] = True
        who, txs = self.view.accounts.backrun, self.view.txs
        ids = [txs.insert(kind, who, t_us, a=bid, b=acct, arrival=at)
               for acct, bid, at in zip(targets.tolist(), bids, arrival.tolist())]
        return np.array(ids, dtype=np.int64), arrival

    def committed(self, ids: np.ndarray) -> None:
        """A batch was committed: the operator's tries in it are no longer in flight."""
        txs = self.view.txs
        own = ids[txs.own(ids)]
        if not len(own):
            return
        kind, target = txs.kind(own), txs.target(own)
        self.accounts.in_flight[target[kind == KindInt.LIQUIDATE]] = False
        if self.writers is not None:
            self.writers.in_flight[target[kind == KindInt.OPT_LIQUIDATE]] = False
