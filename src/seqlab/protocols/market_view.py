"""A read-only view of a protocol's market, for whoever decides what to send or where to
place it: sequencer designs, the operator's strategies, searchers, agents and metrics.

Readers ask questions — the on-chain price, who is liquidatable at a price, who is left
exposed to liquidation if a given transaction waits, what a trade of some size would
fill at, what happened since a block — and get answers with named fields (numpy
structured arrays, never tuple positions), so a reader does not break when a protocol
records one more column. Nothing here can change the protocol: attributes cannot be
set, and every array handed out is read-only.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

I8 = np.int64

#: One liquidation: when, in which block, whose account, by which liquidator identity,
#: the notional closed and the reward paid (micro-USD), and the delay since the oracle
#: update that made the account liquidatable (in blocks and microseconds).
LIQUIDATION = np.dtype([("t_us", I8), ("block", I8), ("account", I8), ("liquidator", I8),
                        ("closed", I8), ("bonus", I8), ("blocks_after_oracle", I8),
                        ("us_after_oracle", I8)])

#: One oracle update executed on chain: when, in which block, the price stored
#: (micro-USD) and the publication's sequence number.
ORACLE_UPDATE = np.dtype([("t_us", I8), ("block", I8), ("price", I8), ("seq", I8)])

#: Units of the asset a liquidation closed (signed micro-units), and when: what the
#: liquidator hedges on the L2 venue.
LIQUIDATED_UNITS = np.dtype([("t_us", I8), ("units", I8)])

#: Bad debt booked (micro-USD: a loss neither the account's margin nor the insurance
#: fund could cover), and when.
BAD_DEBT = np.dtype([("t_us", I8), ("amount", I8)])

#: One option writer's liquidation: when, in which block, the writer, the liquidator
#: identity, the underlying notional taken over and the bonus paid (micro-USD).
OPTION_LIQUIDATION = np.dtype([("t_us", I8), ("block", I8), ("writer", I8),
                               ("liquidator", I8), ("notional", I8), ("bonus", I8)])

NO_ACCOUNTS = np.empty(0, dtype=I8)
NO_ACCOUNTS.flags.writeable = False


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a`` (the caller's own array stays writable)."""
    view = a.view()
    view.flags.writeable = False
    return view


class EventLog:
    """A protocol's list of event tuples, read as a structured array.

    The protocol keeps appending plain tuples (cheap on its hot path); a reader gets
    them as a typed array that grows by the rows added since the last read, so reading
    after every block costs what was added, not the whole history."""

    __slots__ = ("_rows", "_buf", "_n", "_view", "_block")

    def __init__(self, rows: list, dtype: np.dtype) -> None:
        self._rows = rows
        self._buf = np.zeros(16, dtype=dtype)
        self._n = 0
        self._view = frozen(self._buf[:0])
        self._block = dtype.names.index("block") if "block" in dtype.names else None

    def array(self) -> np.ndarray:
        """Every row so far (read-only), oldest first. Asked every block by some readers,
        so the answer is kept until a row is added."""
        rows, n = self._rows, self._n
        if len(rows) > n:
            if len(rows) > len(self._buf):
                grown = np.zeros(max(2 * len(self._buf), len(rows)), dtype=self._buf.dtype)
                grown[:n] = self._buf[:n]
                self._buf = grown
            self._buf[n:len(rows)] = rows[n:]
            self._n = n = len(rows)
            self._view = frozen(self._buf[:n])
        return self._view

    def since(self, block: int) -> np.ndarray:
        """Rows of block ``block`` and later (of a log with a ``block`` field): rows
        are logged in execution order, so their blocks never decrease."""
        rows = self.array()
        if block <= 0 or not len(rows):
            return rows
        if self._rows[-1][self._block] < block:  # nothing new: the common case per block
            return rows[len(rows):]
        return rows[int(np.searchsorted(rows["block"], block, side="left")):]


@dataclass(frozen=True)
class Events:
    """What a market recorded from some block on, by kind of event (empty arrays for
    kinds a market does not have)."""

    liquidations: np.ndarray    # LIQUIDATION (OPTION_LIQUIDATION on an options market)
    oracle_updates: np.ndarray  # ORACLE_UPDATE


class MarketView(ABC):
    """The questions every market answers, read-only. Prices are micro-USD; accounts
    are the protocol's own account indices."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a market view is read-only (tried to set '{name}')")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a market view is read-only (tried to delete '{name}')")

    @property
    @abstractmethod
    def price(self) -> int:
        """The price the protocol marks to now (0 before it has one)."""

    @abstractmethod
    def liquidatable(self, price: int | None = None) -> np.ndarray:
        """Accounts liquidatable now, or as they would be at ``price``."""

    @abstractmethod
    def at_risk_if_delayed(self, kind: int, sender: int, amount: int) -> np.ndarray:
        """Accounts liquidatable now that the transaction (its kind, sender and amount)
        would take out of reach of a liquidation: while it waits, they stay exposed."""

    @abstractmethod
    def fill_price(self, size: int) -> int:
        """What a trade of ``size`` (signed micro-units) would fill at now (0 if none)."""

    @abstractmethod
    def events_since(self, block: int) -> Events:
        """What the market recorded in block ``block`` and after."""


class NoMarket(MarketView):
    """The view of a protocol without a priced market (the benchmark positions
    protocol): no price, so nobody can be liquidated and nothing fills at a price."""

    __slots__ = ()

    @property
    def price(self) -> int:
        return 0

    def liquidatable(self, price: int | None = None) -> np.ndarray:
        return NO_ACCOUNTS

    def at_risk_if_delayed(self, kind: int, sender: int, amount: int) -> np.ndarray:
        return NO_ACCOUNTS

    def fill_price(self, size: int) -> int:
        return 0

    def events_since(self, block: int) -> Events:
        return Events(frozen(np.zeros(0, LIQUIDATION)), frozen(np.zeros(0, ORACLE_UPDATE)))
