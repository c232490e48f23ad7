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
        # per-transaction flags indexed by id (grown on demand, with spare room): a flag
        # array answers "which of these ids" with one index, where a set needs a loop
        self._own = np.zeros(0, dtype=bool)
        self._revealed: np.ndarray | None = None  # committed, so no longer sealed

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
        own = self.own(ids)
        if not own.any():  # the usual pending set: no ciphertext of its own to name
            return np.full(len(own), UNKNOWN_SENDER, dtype=np.int64)
        return np.where(own, self._origin(ids), UNKNOWN_SENDER)

    def _origin(self, ids: np.ndarray) -> np.ndarray:
        kind, sender = self._txs.kind[ids], self._txs.sender[ids].astype(np.int64)
        kinds = kind.tolist()
        if KindInt.ORACLE not in kinds and KindInt.LIQUIDATE not in kinds:
            return sender  # users' own: the sender is the origin (a list test, no arrays)
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
        return self._flagged(self._own, ids)

    def _flagged(self, flags: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """``flags`` at ``ids``; ids past its end (transactions created since it last
        grew) are unflagged."""
        ids = np.asarray(ids, dtype=np.int64)
        if len(flags) < self._txs.n:
            flags = self._grown(flags, self._txs.n)
        return flags[ids]

    def _grown(self, flags: np.ndarray, need: int) -> np.ndarray:
        """``flags`` grown to hold at least ``need`` ids (doubling, so growth is rare);
        the owner's attribute is replaced."""
        bigger = np.zeros(max(need, 2 * len(flags), 1024), dtype=bool)
        bigger[: len(flags)] = flags
        if flags is self._own:
            self._own = bigger
        else:
            self._revealed = bigger
        return bigger

    def readable(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` this view may read the contents of: all under plaintext;
        otherwise the operator's own and those of committed (revealed) batches."""
        if self._visible:
            return np.ones(len(ids), dtype=bool)
        if self._revealed is None:  # nothing opened yet (an encrypted mempool never opens)
            return self.own(ids)
        return self.own(ids) | self._flagged(self._revealed, ids)

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
        at = now if arrival is None else max(now, arrival)
        tx = self._txs.add_one(kind, sender, now, at, a, b)
        own = self._own if tx < len(self._own) else self._grown(self._own, tx + 1)
        own[tx] = True
        return tx

    def reveal(self, ids: np.ndarray) -> None:
        """Open the contents of ``ids``: their order is committed, so reading them can
        no longer change where they go."""
        ids = np.asarray(ids, dtype=np.int64)
        seen = np.zeros(0, dtype=bool) if self._revealed is None else self._revealed
        if len(seen) < self._txs.n:
            seen = self._grown(seen, self._txs.n)
        seen[ids] = True

    def inserted_since(self, first: int) -> np.ndarray:
        """The operator's own transactions with ids from ``first`` on, ascending."""
        first = max(first, 0)
        return np.flatnonzero(self.own(np.arange(first, self._txs.n))) + first

    def hold(self, ids: np.ndarray) -> None:
        """Record that the sequencer deliberately delayed ``ids`` (censorship metrics)."""
        self._txs.held[ids] = 1
