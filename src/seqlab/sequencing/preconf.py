"""Preconfirmations: promises of inclusion made before a slot, and the slashing that makes
them worth something.

A preconfer (an L1 proposer that opted in, with collateral) answers a transaction within
its latency with a signed promise: the transaction goes into the preconfer's slot, after
the ones it promised before. A promise is only as good as what breaking it costs, so a
slot that passes without the preconfer's block breaks every promise made for it, and the
preconfer's collateral goes to the users it let down, on the ledger, split exactly.
The book keeps every promise and every broken one, for the run's figures. A promise can
also be stranded: when a rollup that buys its sequencing moves away from based sequencing
before the promised slot, that slot's preconfer never held the right to build it; the
promise is void and counted apart, and nobody is slashed for it.
"""
from __future__ import annotations

import numpy as np

from seqlab.ledger import EXTERNAL
from seqlab.protocols.perps import PPM
from seqlab.txs import TxStore


def split_exactly(total: int, parts: int) -> np.ndarray:
    """``total`` (integer micro-USD) in ``parts`` shares that differ by at most one and
    sum to ``total`` exactly (the earlier promises take the odd micro-USD)."""
    if parts <= 0:
        return np.empty(0, dtype=np.int64)
    cuts = (total * np.arange(parts + 1, dtype=np.int64)) // parts
    return np.diff(cuts)[::-1].copy()


class PromiseBook:
    """Every promise a run's preconfers made, and what broke."""

    def __init__(self, collateral_eth: float) -> None:
        self.collateral_eth = collateral_eth
        self.protocol = None  # the perps protocol: its ledger, price and payers
        self.account: int | None = None  # slashed collateral passes through here
        self._ids: list[np.ndarray] = []
        self._slot: list[np.ndarray] = []
        self._at: list[np.ndarray] = []
        self.broken: list[tuple[int, int, int]] = []  # (tx, slot, micro-USD paid to it)
        self.stranded: list[tuple[int, int]] = []  # (tx, slot): the rollup moved away first
        self.slashed_slots = 0

    def attach(self, protocol) -> None:
        """Book onto ``protocol``'s ledger (once: a book several designs share keeps one
        account)."""
        if protocol is self.protocol:
            return
        self.protocol = protocol
        self.account = protocol.ledger.open("preconf collateral")

    def promise(self, ids: np.ndarray, slots: np.ndarray, at: np.ndarray) -> None:
        """Record promises: ``ids`` into ``slots``, each made at ``at`` (µs)."""
        if len(ids):
            self._ids.append(ids.astype(np.int64))
            self._slot.append(slots.astype(np.int64))
            self._at.append(at.astype(np.int64))

    def slash(self, slot: int, ids: np.ndarray) -> None:
        """The preconfer of ``slot`` did not include ``ids`` (in promise order): its
        collateral, ``collateral_eth`` at the chain's price, goes to their senders."""
        if not len(ids):
            return
        self.slashed_slots += 1
        total = 0
        p = self.protocol
        if p is not None:
            total = int(round(self.collateral_eth * p.price))
        shares = split_exactly(total, len(ids))
        if total:
            p.ledger.transfer(EXTERNAL, self.account, total, "preconf_collateral")
        for tx, share in zip(ids.tolist(), shares.tolist()):
            if share:
                to = p.payer(int(p.txs.kind[tx]), int(p.txs.sender[tx]))
                p.ledger.transfer(self.account, to, share, "preconf_slash")
            self.broken.append((tx, slot, share))

    def strand(self, slot: int, ids: np.ndarray) -> None:
        """The rollup stopped buying from based sequencing before ``slot``: its preconfer
        never held the right to build it, so the promises for it to ``ids`` are void, not
        broken; nobody is slashed, and they are counted apart."""
        self.stranded.extend((int(tx), int(slot)) for tx in ids.tolist())

    def promised(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every promise: tx ids, promised slots, when each was made (µs)."""
        if not self._ids:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(self._ids), np.concatenate(self._slot), np.concatenate(self._at)

    def metrics(self, txs: TxStore, received: int, slot_us: int) -> dict:
        """The run's preconfirmation figures: how many, how fast, how many kept."""
        ids, slots, at = self.promised()
        out: dict = {"received": received, "preconfirmed": int(len(ids)),
                     "preconfirmed_share": round(len(ids) / received, 4) if received else 0.0,
                     "broken_promises": len(self.broken), "slots_slashed": self.slashed_slots,
                     "slashed_usd": round(sum(b[2] for b in self.broken) / PPM, 2),
                     "stranded_promises": len(self.stranded)}
        if len(ids):
            wait = (at - txs.submit_us[ids]) / 1000.0
            out["preconf_latency_ms"] = {"p50": round(float(np.percentile(wait, 50)), 3),
                                         "p99": round(float(np.percentile(wait, 99)), 3)}
            # every promise ends one way: broken (slashed), stranded, kept (in its slot)
            # or, for a slot after the run's end, still open
            ended = {(b[0], b[1]) for b in self.broken} | set(self.stranded)
            live = np.array([(tx, slot) not in ended
                             for tx, slot in zip(ids.tolist(), slots.tolist())], dtype=bool)
            included = txs.included_us[ids]
            out["kept"] = int((live & (included >= 0) & (included // slot_us == slots)).sum())
            out["open_at_end"] = int((live & (included < 0)).sum())
            # included, but not in its slot and neither broken nor stranded: none may be
            out["unaccounted"] = int(live.sum()) - out["kept"] - out["open_at_end"]
        return out
