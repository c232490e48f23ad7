"""The rollup's fee market: priority tips, auction settlement, and what a design sells.

What a block's producer is paid is the rollup's business, not a product's: a perp market
would run the same under a first-come design as under a priority-fee auction. So the
design declares what its blocks do (``Capabilities``) and the rollup, around each block's
execution, does it:

- priority tips: every included transaction pays its offered tip to the sequencer,
  succeeded or not (as gas is), capped by its payer's balance;
- auction settlement: an express-lane round's price goes from the searchers' funds to
  the rollup's treasury, a builder's winning bid to the proposer (``Kind.AUCTION``),
  as a transaction at its place in the block;
- batch clearing: the block is one batch, and the protocol fills every trade of it at
  one price (how it prices a batch is the product's own logic; the rollup only says
  which blocks are batches).

The money goes to and from named sequencer-side accounts (``SequencerAccounts``), never
to positions in an array.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from seqlab.ledger import EXTERNAL, Ledger
from seqlab.txs import Kind, TxStore

#: ``payer(kind, sender) -> ledger account``: who pays a transaction's fees.
Payer = Callable[[int, int], int]
#: ``payers(kinds, senders) -> ledger accounts``: the same for a block's transactions.
Payers = Callable[[np.ndarray, np.ndarray], np.ndarray]


def each_payer(payer: Payer) -> Payers:
    """``payer`` asked of each transaction in turn, as ``Payers``."""
    def payers(kind: np.ndarray, sender: np.ndarray) -> np.ndarray:
        return np.array([payer(k, s) for k, s in zip(kind.tolist(), sender.tolist())],
                        dtype=np.int64)
    return payers

TO_TREASURY, TO_PROPOSER = 0, 1  # an AUCTION transaction's ``b``: where its payment goes
SEARCHER_DEPOSIT = "searcher_deposit"  # what searchers bring in beyond their first funds
# what the rollup's own costs (L1 data, sequencing services) take beyond the protocol's
# fee income: its other income (users' L2 gas, not modelled), so a protocol whose trading
# fees go to its pool still has its chain's costs paid, and measured, in full
ROLLUP_INCOME = "rollup_income"


@dataclass(frozen=True)
class Capabilities:
    """What a design's blocks do with fees. Every flag defaults to off: a design that
    declares nothing gets no fee handling (no tips charged, no auction settled, trades
    filled one by one)."""

    tips: bool = False           # included txs pay their priority fee to the sequencer
    express_lane: bool = False   # a lane controller's round price goes to the treasury
    builder_bids: bool = False   # the winning builder's bid goes to the proposer
    batch_clearing: bool = False  # every trade of a block clears at one price

    @property
    def auctions(self) -> bool:
        """Whether any auction payment settles on the rollup."""
        return self.express_lane or self.builder_bids


NO_CAPABILITIES = Capabilities()


@dataclass(frozen=True)
class SequencerAccounts:
    """The sequencing side's ledger accounts, by name."""

    sequencer: int  # priority fees
    searchers: int  # what searchers and builders bid from
    treasury: int   # express-lane auction proceeds (the rollup's DAO)
    proposer: int   # builders' winning bids

    @classmethod
    def open(cls, ledger: Ledger) -> "SequencerAccounts":
        """Open the four accounts, in this order (a run's digest lists balances by
        account, so the order is part of every pinned result)."""
        return cls(sequencer=ledger.open("sequencer"), searchers=ledger.open("searchers"),
                   treasury=ledger.open("treasury"), proposer=ledger.open("proposer"))


def pay_topped_up(ledger: Ledger, src: int, dst: int, amount: int, reason: str,
                  deposit: str) -> None:
    """Pay all of ``amount`` from ``src``, which brings from outside what it lacks
    (booked under ``deposit``, so a run can say how much came in that way)."""
    short = amount - ledger.balances.item(src)
    if short > 0:
        ledger.transfer(EXTERNAL, src, short, deposit)
    ledger.transfer(src, dst, amount, reason)


def pay_from_searchers(ledger: Ledger, searchers: int, dst: int, amount: int,
                       reason: str) -> None:
    """Pay ``amount`` from the searchers' (or builders') funds, which bring from outside
    what they lack (booked as ``SEARCHER_DEPOSIT``). What searchers win accrues to their
    trading and liquidator accounts, not to this one, so a bid (each capped by its
    bidder's capital) or express gas is funded the way a searcher funds it, from its own
    money, however many rounds it wins in a run; paying only what the account held would
    let a run's later winners pay short."""
    pay_topped_up(ledger, searchers, dst, amount, reason, SEARCHER_DEPOSIT)


class FeeMarket:
    """Charges a block's fees and settles its auction payments, as its design declares.

    The rollup sets ``capabilities`` to those of the design producing each block before
    executing it (a design that hands blocks to services changes them over a run), runs
    the auction payments through ``handlers()`` at their place in the block, and calls
    ``after_block`` once the block's transactions ran.
    """

    def __init__(self, ledger: Ledger, txs: TxStore, accounts: SequencerAccounts,
                 payer: Payer, payers: Payers | None = None) -> None:
        """``payers``: ``payer`` for a block at once, where the protocol answers it
        faster than one transaction at a time (None: ``payer`` in turn)."""
        self.ledger = ledger
        self.txs = txs
        self.accounts = accounts
        self.payers_of = each_payer(payer) if payers is None else payers
        self.capabilities = NO_CAPABILITIES

    def handlers(self) -> Mapping[int, Callable[[int, int, int, int, int], bool]]:
        """The transaction kinds the fee market settles itself."""
        return {Kind.AUCTION: self.settle_auction}

    def begin_block(self, t_us: int) -> None:
        """Nothing accrues between blocks: fees are per inclusion."""

    def payer(self, kind: int, sender: int) -> int:
        """An auction payment is paid from the searchers' funds."""
        return self.accounts.searchers

    def settle_auction(self, sender: int, amount: int, to: int, block: int, t: int) -> bool:
        """Pay a won auction from the searchers' (or builders') funds: an express-lane
        price to the treasury (``to`` = 0), a builder's bid to the proposer (1); failed
        when nothing was paid, or when the design producing the block sells no such
        auction."""
        caps = self.capabilities
        if not (caps.express_lane if to == TO_TREASURY else caps.builder_bids):
            return False
        acc = self.accounts
        dst, reason = (acc.treasury, "express_lane_auction") if to == TO_TREASURY else \
            (acc.proposer, "builder_bid")
        pay_from_searchers(self.ledger, acc.searchers, dst, amount, reason)
        return amount > 0

    def after_block(self, ids: np.ndarray) -> None:
        """After the block's transactions ``ids`` ran: charge their tips if the design
        producing the block takes them."""
        if self.capabilities.tips:
            self.charge_tips(ids)

    def charge_tips(self, ids: np.ndarray) -> None:
        """Priority fees to the sequencer, paid by included txs whether or not they
        succeeded (as gas is), each from its payer, capped by the payer's balance."""
        txs, ledger, to = self.txs, self.ledger, self.accounts.sequencer
        tip = txs.tip[ids]
        tips = tip.tolist()
        if tips and min(tips) > 0:  # the usual block of a tip-taking design: all tip
            tx = ids
        else:
            paying = (tip > 0).nonzero()[0]  # flatnonzero's wrapper costs more than the call
            if not len(paying):
                return
            tx, tip = ids[paying], tip[paying]
        # one at a time, in order: a payer may run short
        ledger.pay_capped(self.payers_of(txs.kind[tx], txs.sender[tx]), to, tip,
                          "priority_fee")
