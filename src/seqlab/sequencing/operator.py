"""What a centralized operator can see and do, and nothing more.

The operator runs the full node, so it sees the protocol's state and the contents of
every transaction that has reached it; it can choose the order, hold transactions back
and insert its own. ``OperatorView`` is the only handle an extractive design gets.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.accounts import OperatorAccounts
from seqlab.protocols.market_view import MarketView
from seqlab.protocols.perps import PerpsProtocol
from seqlab.rollup.fees import SequencerAccounts
from seqlab.sequencing.txview import UNKNOWN_KIND, TxView
from seqlab.txs import Kind, KindInt


@dataclass
class OperatorView:
    """The operator's powers over one rollup running the perps protocol: the state, the
    transactions as its design lets it see them (``txs``), and its own accounts."""

    protocol: PerpsProtocol
    txs: TxView
    accounts: OperatorAccounts
    seed: int = 0               # the run's seed, for designs' keyed randomness
    reference: object = None    # the off-chain reference price (ReferencePrice), public
    options: object = None      # the options protocol, when the rollup runs one
    # a firewalled oracle network: updates reach the chain on a path the sequencer
    # cannot read ahead, so a pending update reads as unknown until it has executed
    sealed_updates: bool = False
    oracle: object = None       # the push feed's public parameters (schema Oracle), if any
    # the rollup's fee market accounts: where tips go and what searchers and builders
    # bid from (None: a view built without a rollup, as in unit tests)
    sequencer_side: SequencerAccounts | None = None

    @property
    def contents_visible(self) -> bool:
        return self.txs.contents_visible

    @property
    def market(self) -> MarketView:
        """The protocol's read-only market view: prices, liquidatable accounts, events."""
        return self.protocol.market_view()

    def insert(self, kind: Kind, sender: int, now: int, a: int = 0, b: int = 0) -> int:
        """Create the operator's own transaction."""
        return self.txs.insert(kind, sender, now, a, b)

    def kind(self, ids: np.ndarray) -> np.ndarray:
        """What the operator can read of pending txs' kinds (-1 where encrypted, or an
        oracle update on a firewalled network)."""
        kind = self.txs.known_kind(ids)
        if self.sealed_updates:
            return np.where(kind == KindInt.ORACLE, UNKNOWN_KIND, kind)
        return kind

    def payload(self, ids: np.ndarray) -> np.ndarray:
        """What the operator can read of pending txs' amounts (0 where encrypted, or an
        oracle update on a firewalled network)."""
        amount = self.txs.known_payload(ids)
        if self.sealed_updates:
            return np.where(self.txs.known_kind(ids) == KindInt.ORACLE, 0, amount)
        return amount

    def origin(self, ids: np.ndarray) -> np.ndarray:
        """Who sent each tx (raises where the design hides senders)."""
        return self.txs.origin(ids)

    def known_origin(self, ids: np.ndarray) -> np.ndarray:
        """Who sent each tx as far as the operator can tell (``UNKNOWN_SENDER`` where the
        design does not link ciphertexts to senders)."""
        return self.txs.known_origin(ids)

    def user_accounts(self, accounts: np.ndarray) -> np.ndarray:
        """Drop the operator's own accounts from a set."""
        return accounts[accounts < self.accounts.first_outside]
