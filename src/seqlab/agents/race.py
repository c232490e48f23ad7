"""What a product's bots and owners do with each block, whatever the product.

Every margined product (perps, the options beside them) feeds its agents the same way:
the top-ups and liquidations a block executed clear their senders' pending flags, then
the bots race for what is liquidatable — under Dutch auctions kicking new auctions and
bidding in running ones, at prices the product's bidding rule (``Bid``) sets.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from seqlab.agents.liquidators import Liquidators
from seqlab.agents.reactive import MarginManagers
from seqlab.ledger import Ledger
from seqlab.txs import TxStore

#: ``bid(bots, t_us, accounts, prices, only)``: ``bots`` bid in the running auctions of
#: ``accounts`` (each at its current ``prices``); ``only``: the bots that look now.
Bid = Callable[[Liquidators, int, np.ndarray, np.ndarray, Sequence[int] | None], None]


def executed(txs: TxStore, ids: np.ndarray, kind: np.ndarray, managers: MarginManagers,
             liquidators: Liquidators) -> None:
    """Clear the pending flags of the top-ups and liquidations that are done: executed
    in a block or, after a restart, refused by the down sequencer (its senders then act
    again on the next block they see, as after any other)."""
    managers.on_executed(ids, kind)
    if liquidators.kind not in kind.tolist():  # most blocks: no array work
        return
    done = ids[kind == liquidators.kind]
    if len(done):
        liquidators.on_executed(txs.sender[done], txs.b[done])


def race(bots: Liquidators, t_us: int, candidates: np.ndarray,
         quotes: tuple[np.ndarray, np.ndarray] | None, notional: np.ndarray, bid: Bid,
         only: Sequence[int] | None = None) -> None:
    """Bots race to liquidate ``candidates``; under Dutch auctions (``quotes``: who is
    under auction at what price) they kick new auctions and bid in running ones.
    ``only``: the bots that look now (a poller); None: those streaming the feed."""
    if quotes is not None:
        accounts, prices = quotes
        candidates = np.setdiff1d(candidates, accounts)
        if len(accounts):
            bid(bots, t_us, accounts, prices, only)
    bots.on_block(t_us, candidates, notional, only)


def balances_of(ledger: Ledger, accounts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """The ledger balances of ``accounts[who]``, looked up only for ``who``."""
    balances = ledger.balances
    return lambda who: balances[accounts[who]]
