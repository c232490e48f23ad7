"""What a centralized operator can see and do, and nothing more.

The operator runs the full node, so it sees the protocol's state and the contents of
every transaction that has reached it; it can choose the order, hold transactions back
and insert its own. ``OperatorView`` is the only handle an extractive design gets.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from seqlab.protocols.perps import PerpsProtocol
from seqlab.txs import Kind, TxStore

OPERATOR_LIQUIDATORS = ("operator-backrun", "operator-censor")


@dataclass
class OperatorView:
    """The operator's powers over one rollup running the perps protocol."""

    protocol: PerpsProtocol
    txs: TxStore
    stale_account: int      # perps account for stale-oracle trades
    sandwich_account: int   # perps account for sandwiches
    backrun_liquidator: int  # liquidator index of the operator's backrun identity
    censor_liquidator: int   # … and of its censorship identity
    first_outside_account: int  # operator accounts are >= this index
    seed: int = 0               # the run's seed, for designs' keyed randomness
    reference: object = None    # the off-chain reference price (ReferencePrice), public
    contents_visible: bool = True  # False under an encrypted mempool
    options: object = None         # the options protocol, when the rollup runs one
    inserted: set[int] = field(default_factory=set)

    def insert(self, kind: Kind, sender: int, now: int, a: int = 0, b: int = 0) -> int:
        """Create the operator's own transaction (it needs no network to reach itself)."""
        t = np.array([now], dtype=np.int64)
        tx = int(self.txs.add_many(kind, sender, t, t, a, b)[0])
        self.inserted.add(tx)
        return tx

    def kind(self, ids: np.ndarray) -> np.ndarray:
        """What the operator can read of pending txs' kinds (-1 where encrypted)."""
        if self.contents_visible:
            return self.txs.kind[ids]
        return np.where(self._own(ids), self.txs.kind[ids], -1)

    def payload(self, ids: np.ndarray) -> np.ndarray:
        """What the operator can read of pending txs' amounts (0 where encrypted)."""
        if self.contents_visible:
            return self.txs.a[ids]
        return np.where(self._own(ids), self.txs.a[ids], 0)

    def _own(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the operator inserted itself (it can read its own)."""
        inserted = self.inserted
        return np.fromiter((tx in inserted for tx in ids.tolist()), bool, len(ids))

    def origin(self, ids: np.ndarray) -> np.ndarray:
        """Who sent each tx: visible even when contents are not. User accounts are >= 0,
        the oracle -1, liquidation bot j -(2 + j)."""
        kind, sender = self.txs.kind[ids], self.txs.sender[ids].astype(np.int64)
        return np.where(kind == Kind.ORACLE, -1,
                        np.where(kind == Kind.LIQUIDATE, -2 - sender, sender))

    def user_accounts(self, accounts: np.ndarray) -> np.ndarray:
        """Drop the operator's own accounts from a set."""
        return accounts[accounts < self.first_outside_account]
