"""What a sequencer design may read of transactions, enforced rather than promised.

A design, and any operator it hosts, sees transactions only through a ``TxView``. The
envelope — when a transaction arrived, the fee it offers and, where the design links
ciphertexts to their senders, who sent it — is public. The contents — what it does and
for how much — are readable only where the design lets the sequencer see them: under an
encrypted mempool a strict read of someone else's pending contents raises
``SealedContent``, and the content-blind reads (``known_kind``, ``known_payload``) report
them as unknown. Where the sender cannot be linked either (``senders_visible`` False), a
strict read of the sender raises ``SealedSender`` and ``known_origin`` reports
``UNKNOWN_SENDER``. The operator can always read what it inserted itself. The raw
transaction store is not part of the interface.

A design that seals only while a batch is open (sealed-bid batch auctions) ``reveal``s a
batch once its order is committed: from then on its contents read like plaintext.
"""
from __future__ import annotations

import numpy as np

from seqlab.txs import Kind, KindInt, TxStore

UNKNOWN_KIND = -1
UNKNOWN_SENDER = np.iinfo(np.int64).min  # below every real origin (users >= 0, oracle -1, bots)


class SealedContent(PermissionError):
    """A design tried to read contents it is not allowed to see."""


class SealedSender(SealedContent):
    """A design tried to learn who sent a ciphertext it cannot link to its sender."""


class TxView:
    """Transactions as a design may see them (``contents_visible``: plaintext or not;
    ``senders_visible``: whether a ciphertext can be linked to its sender)."""

    __slots__ = ("_txs", "_visible", "_senders", "_own", "_revealed")

    def __init__(self, txs: TxStore, contents_visible: bool = True,
                 senders_visible: bool = True) -> None:
        self._txs = txs
        self._visible = contents_visible
        self._senders = senders_visible or contents_visible  # plaintext names its sender
        self._own: set[int] = set()
        self._revealed: set[int] = set()  # committed, so no longer sealed

    @property
    def contents_visible(self) -> bool:
        return self._visible

    @property
    def senders_visible(self) -> bool:
        return self._senders

    @property
    def count(self) -> int:
        """How many transactions exist (ids are 0 .. count-1)."""
        return self._txs.n

    # the envelope: public -------------------------------------------------------------
    def origin(self, ids: np.ndarray) -> np.ndarray:
        """Who sent each tx: user accounts >= 0, the oracle -1, liquidation bot j -(2+j);
        raises ``SealedSender`` where a ciphertext cannot be linked to its sender."""
        if not self._senders and not self.own(ids).all():
            raise SealedSender("the senders of pending transactions cannot be linked to "
                               "their ciphertexts under this design")
        return self._origin(ids)

    def known_origin(self, ids: np.ndarray) -> np.ndarray:
        """Senders where linkable, ``UNKNOWN_SENDER`` where not (for sender-blind use)."""
        if self._senders:
            return self._origin(ids)
        return np.where(self.own(ids), self._origin(ids), UNKNOWN_SENDER)

    def _origin(self, ids: np.ndarray) -> np.ndarray:
        kind, sender = self._txs.kind[ids], self._txs.sender[ids].astype(np.int64)
        return np.where(kind == KindInt.ORACLE, -1,
                        np.where(kind == KindInt.LIQUIDATE, -2 - sender, sender))

    def arrival(self, ids: np.ndarray) -> np.ndarray:
        """When each tx reached the sequencer (µs)."""
        return self._txs.arrival_us[ids]

    def tip(self, ids: np.ndarray) -> np.ndarray:
        """The priority fee each tx offers (micro-USD): part of the envelope."""
        return self._txs.tip[ids]

    # the contents: only where visible ------------------------------------------------
    def own(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the operator inserted itself."""
        mine = self._own
        return np.fromiter((tx in mine for tx in np.asarray(ids).tolist()), bool, len(ids))

    def readable(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` this view may read the contents of: all under plaintext;
        otherwise the operator's own and those of committed (revealed) batches."""
        if self._visible:
            return np.ones(len(ids), dtype=bool)
        seen = self._revealed
        if not seen:  # nothing opened yet (an encrypted mempool never opens)
            return self.own(ids)
        return self.own(ids) | np.fromiter((tx in seen for tx in np.asarray(ids).tolist()),
                                           bool, len(ids))

    def _check(self, ids: np.ndarray) -> None:
        if not self._visible and not self.readable(ids).all():
            raise SealedContent("the contents of pending transactions are encrypted "
                                "under this design")

    def kind(self, ids: np.ndarray) -> np.ndarray:
        """What each tx does (``Kind``); raises ``SealedContent`` where hidden."""
        self._check(ids)
        return self._txs.kind[ids]

    def payload(self, ids: np.ndarray) -> np.ndarray:
        """Each tx's amount (the kind's ``a``); raises ``SealedContent`` where hidden."""
        self._check(ids)
        return self._txs.a[ids]

    def target(self, ids: np.ndarray) -> np.ndarray:
        """Each tx's second operand (the account a liquidation targets); raises
        ``SealedContent`` where hidden."""
        self._check(ids)
        return self._txs.b[ids]

    def known_kind(self, ids: np.ndarray) -> np.ndarray:
        """Kinds where readable, ``UNKNOWN_KIND`` where hidden (for content-blind use)."""
        if self._visible:
            return self._txs.kind[ids]
        return np.where(self.readable(ids), self._txs.kind[ids], UNKNOWN_KIND)

    def known_payload(self, ids: np.ndarray) -> np.ndarray:
        """Amounts where readable, 0 where hidden."""
        if self._visible:
            return self._txs.a[ids]
        return np.where(self.readable(ids), self._txs.a[ids], 0)

    # what the sequencer does ----------------------------------------------------------
    def insert(self, kind: Kind, sender: int, now: int, a: int = 0, b: int = 0,
               arrival: int | None = None) -> int:
        """Create the operator's own transaction, decided at ``now``. It needs no network
        to reach itself unless the design makes it wait like everyone else: then it
        arrives at ``arrival``."""
        t = np.array([now], dtype=np.int64)
        at = t if arrival is None else np.array([max(now, arrival)], dtype=np.int64)
        tx = int(self._txs.add_many(kind, sender, t, at, a, b)[0])
        self._own.add(tx)
        return tx

    def reveal(self, ids: np.ndarray) -> None:
        """Open the contents of ``ids``: their order is committed, so reading them can
        no longer change where they go."""
        self._revealed.update(np.asarray(ids).tolist())

    def inserted_since(self, first: int) -> np.ndarray:
        """The operator's own transactions with ids from ``first`` on, ascending."""
        return np.array([i for i in range(first, self._txs.n) if i in self._own],
                        dtype=np.int64)

    def hold(self, ids: np.ndarray) -> None:
        """Record that the sequencer deliberately delayed ``ids`` (censorship metrics)."""
        self._txs.held[ids] = 1
