"""The protocol port: what every protocol offers the rollup, the world and its readers.

A protocol handles transactions by kind (``handlers``), has a start and an end of block
(what accrues before the first transaction, what is charged after the last), states its
final arrays for the run digest, reports its own figures and tables (``report``, given
the run's end: the world merges what each protocol returns and builds none of it), and
answers questions through a read-only ``market_view()``. The rollup calls ``execute``,
charges its own fees (``rollup.fees``), then calls ``end_block``; the default ``execute``
runs the handlers one transaction at a time, in order, and a protocol with a faster path
(a vectorised batch, a per-block price) overrides it with the same meaning.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from seqlab.market import ReferencePrice
from seqlab.protocols.fixed import PPM
from seqlab.protocols.market_view import MarketView
from seqlab.txs import Status, TxStore

#: ``handler(sender, a, b, block, t_us) -> succeeded``: one transaction of one kind.
Handler = Callable[[int, int, int, int, int], bool]

_OK, _FAILED = int(Status.OK), int(Status.FAILED)


@dataclass(frozen=True)
class RunEnd:
    """What the world knows once the run is over and a protocol reports: when the run
    ended and the off-chain reference price (None in a world without a market, as the
    benchmark's)."""

    t_us: int
    reference: ReferencePrice | None = None

    def mark_micro(self) -> int:
        """The reference price at the end (micro-USD): what positions are marked at."""
        return int(round(float(self.reference.at(self.t_us)) * PPM))


class ProtocolPort(ABC):
    """One protocol on one rollup. Value moves only through the ledger."""

    txs: TxStore

    @abstractmethod
    def handlers(self) -> Mapping[int, Handler]:
        """The protocol's transaction kinds and the handler of each."""

    def begin_block(self, t_us: int) -> None:
        """Before a block's first transaction (interest, funding, expiries); once per
        block time. A protocol with nothing time-driven keeps this default."""

    def end_block(self, ids: np.ndarray) -> None:
        """After a block's transactions ``ids`` ran and the rollup charged its fees (a
        protocol's own charges per inclusion). A protocol that charges nothing per block
        keeps this default."""

    def execute(self, ids: np.ndarray, block: np.ndarray, t_us: np.ndarray,
                batch: bool = False) -> np.ndarray:
        """Run ``ids`` in order and return each one's status; a kind the protocol has no
        handler for fails, as a call to a contract without that function reverts.
        ``batch``: the design clears the block as one batch (a protocol whose fills have
        no price of their own ignores it). The rollup calls ``end_block`` afterwards,
        once its own fees are charged."""
        if not len(ids):
            return np.empty(0, dtype=np.int8)
        self.begin_block(int(t_us[0]))
        handlers, txs = self.handlers(), self.txs
        rows = zip(txs.kind[ids].tolist(), txs.sender[ids].tolist(), txs.a[ids].tolist(),
                   txs.b[ids].tolist(), block.tolist(), t_us.tolist())
        status = []
        for kind, sender, a, b, blk, t in rows:
            handler = handlers.get(kind)
            status.append(_OK if handler is not None and handler(sender, a, b, blk, t)
                          else _FAILED)
        return np.array(status, dtype=np.int8)

    @abstractmethod
    def state_arrays(self) -> list[np.ndarray]:
        """The final state that goes into the run digest."""

    def summary(self) -> dict:
        """Figures the protocol reports of itself at the end of a run (merged into the
        run's summary; figures that need the world around it are the world's)."""
        return {}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        """Tables the protocol reports of itself at the end of a run, by name."""
        return {}

    def report(self, end: RunEnd) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
        """The protocol's figures and tables at ``end``, as the world merges them into
        the run's. By default its ``summary()`` and ``tables()``; a protocol whose figures
        need the run's end (the final mark, the reference path) or are read off its own
        tables overrides this."""
        return self.summary(), self.tables()

    def sequencer_gains(self, end: RunEnd) -> dict[str, int]:
        """What the sequencing side's own accounts in this protocol gained by ``end``, by
        strategy (micro-USD): a protocol attached to another reports it there, where the
        operator's profit is counted. Nothing by default: the sequencer holds no account."""
        return {}

    @abstractmethod
    def market_view(self) -> MarketView:
        """The read-only view designs, strategies, agents and metrics ask questions of."""
