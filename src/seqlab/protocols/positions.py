"""The benchmark protocol: a transaction adds a signed quantity to the sender's position
and pays a fixed fee.

Small on purpose (it defines the ``fcfs-reference`` workload), but honest: a transaction
whose sender cannot pay the fee fails, judged in execution order, and the fee moves
through the ledger like any other value.
"""
from __future__ import annotations

import numpy as np

from seqlab.ledger import Ledger
from seqlab.protocols.fixed import PPM
from seqlab.protocols.market_view import MarketView, NoMarket
from seqlab.protocols.port import ProtocolPort
from seqlab.txs import Kind, Status, TxStore


class PositionsProtocol(ProtocolPort):
    """Positions per account (int64) and fee collection, executed over whole batches."""

    def __init__(self, ledger: Ledger, txs: TxStore, accounts: int, fee_micro: int,
                 start_balance_micro: int) -> None:
        self.ledger = ledger
        self.txs = txs
        self.fee = int(fee_micro)
        self.position = np.zeros(accounts, dtype=np.int64)
        self.account = ledger.open_many("user", accounts)
        self.fee_account = ledger.open("fees")
        ledger.transfer_many(0, self.account, start_balance_micro, "deposit")
        self._market = NoMarket()

    def handlers(self) -> dict:
        return {int(Kind.POSITION): self._add}

    def _add(self, sender: int, qty: int, b: int, block: int, t: int) -> bool:
        """One transaction: pay the fee if the sender can, then add ``qty``."""
        if self.ledger.balances.item(self.account[sender]) < self.fee:
            return False
        self.ledger.transfer(int(self.account[sender]), self.fee_account, self.fee, "fee")
        self.position[sender] += qty
        return True

    def execute(self, ids: np.ndarray, block: np.ndarray, t_us: np.ndarray,
                batch: bool = False) -> np.ndarray:
        """``_add`` over a whole batch at once: the same statuses and balances (positions
        have no price, so a batch-clearing design changes nothing)."""
        sender = self.txs.sender[ids].astype(np.int64)
        qty = self.txs.a[ids]
        ok = self._can_pay(sender)
        np.add.at(self.position, sender[ok], qty[ok])
        self.ledger.transfer_many(self.account[sender[ok]], self.fee_account, self.fee, "fee")
        return np.where(ok, Status.OK, Status.FAILED).astype(np.int8)

    def _can_pay(self, sender: np.ndarray) -> np.ndarray:
        """Whether each tx's sender can still pay its fee, counting earlier txs in order."""
        counts = np.bincount(sender, minlength=len(self.position))
        if self.fee == 0 or (self.ledger.balances[self.account] >= counts * self.fee).all():
            return np.ones(len(sender), dtype=bool)  # nobody can run out in this batch
        order = np.argsort(sender, kind="stable")
        s_sorted = sender[order]
        first = np.r_[0, np.flatnonzero(np.diff(s_sorted)) + 1]
        group_start = np.repeat(first, np.diff(np.r_[first, len(s_sorted)]))
        rank = np.empty(len(sender), dtype=np.int64)
        rank[order] = np.arange(len(sender)) - group_start
        balance = self.ledger.balances[self.account[sender]]
        return balance >= (rank + 1) * self.fee

    def state_arrays(self) -> list[np.ndarray]:
        """Final state for the run digest."""
        return [self.position]

    def summary(self) -> dict:
        return {"fees_usd": round(self.ledger.totals_by_reason().get("fee", 0) / PPM, 2),
                "liquidations": 0}

    def market_view(self) -> MarketView:
        return self._market
