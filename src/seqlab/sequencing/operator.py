"""What a centralized operator can see and do, and nothing more.

The operator runs the full node, so it sees the protocol's state and the contents of
every transaction that has reached it; it can choose the order, hold transactions back
and insert its own. ``OperatorView`` is the only handle an extractive design gets.
"""
from __future__ import annotations

from dataclasses import dataclass

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

    def insert(self, kind: Kind, sender: int, now: int, a: int = 0, b: int = 0) -> int:
        """Create the operator's own transaction (it needs no network to reach itself)."""
        t = np.array([now], dtype=np.int64)
        return int(self.txs.add_many(kind, sender, t, t, a, b)[0])

    def user_accounts(self, accounts: np.ndarray) -> np.ndarray:
        """Drop the operator's own accounts from a set."""
        return accounts[accounts < self.first_outside_account]
