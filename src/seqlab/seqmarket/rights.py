"""The books of sold sequencing rights: what each epoch's winner paid, what it got.

What a winner paid is its bid; what sequencing the epoch was worth is measured in the
run: how much richer the sequencing side (the operator's and builders' accounts, the
express lane's searchers and treasury, the priority fees kept) is at the end of the
epoch than at its start, with the positions the epoch's operator opened followed to
their close. The two side by side show whether the bidders' forecasts were
right, and the proceeds go to the rollup on the ledger, one exact transfer an epoch.
"""
from __future__ import annotations

from typing import Callable

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
    """The auction's sales, and what each sold epoch realised for its winner.

    An epoch's value is the change over it in what the sequencing side holds, except
    for positions a hosted operator still holds open at the epoch's end: those are the
    epoch's winner's bets, so what they gain or lose until they close (on the next
    service, when the rollup moves: ``_close_orphans``) is booked to the epoch that
    opened them, not to the next epoch's winner. ``on_value(epoch, usd, ended)`` hears
    every booking: at the epoch's end (``ended``) and on each later close."""

    def __init__(self, sales: list, on_value: Callable[[int, float, bool], None] | None
                 = None) -> None:
        self.sales = sales          # grows as the epochs are sold
        self.on_value = on_value
        self.values: list[int] = []  # micro-USD booked to each ended epoch
        self.base: int | None = None  # the side less carried positions, at the epoch start
        self.carried: dict[int, list[int]] = {}  # account -> [epoch, equity last booked]
        self.proceeds = 0  # micro-USD paid to the rollup

    def _book(self, epoch: int, micro: int, ended: bool) -> None:
        if ended:
            self.values.append(micro)
        else:
            self.values[epoch] += micro
        if self.on_value is not None:
            self.on_value(epoch, micro / PPM, ended)

    def begin(self, view) -> None:
        """The first epoch starts: note what the sequencing side holds."""
        self.base = sequencing_side(view)

    def watch(self, view) -> None:
        """Book each carried position that has closed to the epoch that opened it."""
        p = view.protocol
        for a in [a for a in self.carried if p.size[a] == 0]:
            epoch, last = self.carried.pop(a)
            now = int(p.equity(a))
            self._book(epoch, now - last, False)
            self.base += now  # the account's later gains belong to the epochs they fall in

    def end_epoch(self, view) -> None:
        """The epoch in progress ends: book its value; the hosted operators' positions
        still open are carried, theirs to the end."""
        self.watch(view)
        p = view.protocol
        epoch = len(self.values)
        equity = {a: int(p.equity(a)) for a in self.carried}
        pool = sequencing_side(view) - sum(equity.values())
        for a, now in equity.items():
            held = self.carried[a]
            self._book(held[0], now - held[1], False)
            held[1] = now
        self._book(epoch, pool - self.base, True)
        for party in view.accounts.parties:
            for a in (party.stale, party.sandwich):
                if p.size[a] != 0 and a not in self.carried:
                    now = int(p.equity(a))
                    self.carried[a] = [epoch, now]
                    pool -= now
        self.base = pool

    def settle(self, ledger: Ledger, view) -> int:
        """The last epoch ends with the run; what is still open is booked where it
        stands. Then each sold epoch's price goes from its winner to the rollup;
        returns micro-USD."""
        if self.base is not None and len(self.values) < len(self.sales):
            self.end_epoch(view)
            p = view.protocol
            for a, (epoch, last) in self.carried.items():
                self._book(epoch, int(p.equity(a)) - last, False)
            self.carried = {}
        rollup = ledger.open("sequencing rights")
        for sale in self.sales:
            paid = int(round(sale.price_usd * PPM))
            ledger.transfer(EXTERNAL, rollup, paid, "sequencing_rights")
            self.proceeds += paid
        return self.proceeds

    def metrics(self) -> dict:
        """Who won how often, what each paid and what its epochs were worth (USD)."""
        n = min(len(self.sales), len(self.values))
        won: dict[str, int] = {}
        paid: dict[str, float] = {}
        got: dict[str, float] = {}
        for sale, value in zip(self.sales[:n], self.values[:n]):
            won[sale.winner] = won.get(sale.winner, 0) + 1
            paid[sale.winner] = paid.get(sale.winner, 0.0) + sale.price_usd
            got[sale.winner] = got.get(sale.winner, 0.0) + value / PPM
        sold = [s for s in self.sales[:n] if s.price_usd > 0]
        return {"epochs": len(self.sales), "sold": len(sold),
                "won": won, "paid_usd": {k: round(v, 2) for k, v in paid.items()},
                "realised_usd": {k: round(v, 2) for k, v in got.items()},
                "net_usd": {k: round(got[k] - paid[k], 2) for k in won},
                "proceeds_usd": round(self.proceeds / PPM, 2), **bid_counts(self.sales)}


def bid_counts(sales: list) -> dict:
    """Who took part: the epochs each service bid in (a bid at or above the reserve;
    one that values the epoch below it, or not at all, stays out), and how many epochs
    drew no bid, one, two, ... (``epochs_by_bids``, keyed by the number of bids)."""
    bid_in: dict[str, int] = {}
    by_count: dict[str, int] = {}
    for sale in sales:
        bidders = [name for name, bid in zip(sale.asked, sale.bids) if bid > 0]
        for name in bidders:
            bid_in[name] = bid_in.get(name, 0) + 1
        key = str(len(bidders))
        by_count[key] = by_count.get(key, 0) + 1
    return {"bid_epochs": bid_in, "epochs_by_bids": dict(sorted(by_count.items(),
                                                                key=lambda kv: int(kv[0])))}
