"""The books of sold sequencing rights: what each epoch's winner paid, what it got.

What a winner paid is its bid; what sequencing the epoch was worth is measured in the
run: how much richer the sequencing side (the operator's and builders' accounts, the
express lane's searchers and treasury, the priority fees kept) is at the end of the
epoch than at its start. The two side by side show whether the bidders' forecasts were
right, and the proceeds go to the rollup on the ledger, one exact transfer an epoch.
"""
from __future__ import annotations

import numpy as np

from seqlab.ledger import EXTERNAL, Ledger
from seqlab.protocols.perps import PPM


def sequencing_side(view) -> int:
    """Micro-USD the sequencing side holds now: operators' and builders' perps equity and
    liquidation accounts, the searchers' funds, the treasury and the priority fees."""
    p, seq = view.protocol, view.sequencer_side
    total = p.balance(seq.sequencer) + p.balance(seq.treasury) + p.balance(seq.searchers)
    for party in view.accounts.parties:
        total += p.equity(party.stale) + p.equity(party.sandwich)
        total += p.balance(p.liquidator_account[party.backrun])
        total += p.balance(p.liquidator_account[party.censor])
    return int(total)


class RightsBook:
    """The auction's sales, with the sequencing side's value at each epoch's start."""

    def __init__(self, sales: tuple) -> None:
        self.sales = sales
        self.starts = np.array([s.start for s in sales], dtype=np.int64)
        self.marks: list[int] = []  # the sequencing side's value at each epoch's start
        self.proceeds = 0  # micro-USD paid to the rollup

    def mark(self, now: int, view) -> None:
        """Note the value at the start of every epoch that has begun by ``now``."""
        while len(self.marks) < len(self.starts) and self.starts[len(self.marks)] <= now:
            self.marks.append(sequencing_side(view))

    def settle(self, ledger: Ledger, view) -> int:
        """Each sold epoch's price from its winner to the rollup; returns micro-USD."""
        self.marks.append(sequencing_side(view))  # the end of the last epoch
        rollup = ledger.open("sequencing rights")
        for sale in self.sales:
            paid = int(round(sale.price_usd * PPM))
            ledger.transfer(EXTERNAL, rollup, paid, "sequencing_rights")
            self.proceeds += paid
        return self.proceeds

    def metrics(self) -> dict:
        """Who won how often, what each paid and what its epochs were worth (USD)."""
        n = min(len(self.sales), len(self.marks) - 1)
        realised = np.diff(np.asarray(self.marks[: n + 1], dtype=np.int64)) / PPM
        won: dict[str, int] = {}
        paid: dict[str, float] = {}
        got: dict[str, float] = {}
        for sale, value in zip(self.sales[:n], realised.tolist()):
            won[sale.winner] = won.get(sale.winner, 0) + 1
            paid[sale.winner] = paid.get(sale.winner, 0.0) + sale.price_usd
            got[sale.winner] = got.get(sale.winner, 0.0) + value
        sold = [s for s in self.sales[:n] if s.price_usd > 0]
        return {"epochs": len(self.sales), "sold": len(sold),
                "won": won, "paid_usd": {k: round(v, 2) for k, v in paid.items()},
                "realised_usd": {k: round(v, 2) for k, v in got.items()},
                "proceeds_usd": round(self.proceeds / PPM, 2)}
