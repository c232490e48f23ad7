"""The perps market as its readers see it: ``PerpsProtocol.market_view()``.

It depends on the narrow ``PerpsState`` below rather than on the protocol's module (the
protocol builds its view, so importing it back would be a cycle). Every answer is the
protocol's own exact integer arithmetic, asked without changing anything.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from seqlab.ledger import Ledger
from seqlab.protocols.fixed import PPM, toward_zero
from seqlab.protocols.market_view import (BAD_DEBT, LIQUIDATED_UNITS, LIQUIDATION,
                                          NO_ACCOUNTS, ORACLE_UPDATE, EventLog, Events,
                                          MarketView, frozen)
from seqlab.txs import Kind

_TOPUP, _CLOSE, _REDUCE, _ORACLE = (int(Kind.TOPUP), int(Kind.CLOSE), int(Kind.REDUCE),
                                    int(Kind.ORACLE))


class PerpsState(Protocol):
    """What the view reads of the perps protocol."""

    ledger: Ledger
    size: np.ndarray
    wallet: np.ndarray
    price: int
    mm_ppm: int
    fee_ppm: int
    log: Any          # PerpsLog
    liquidation: Any  # the liquidation mechanism: ``locks(i)`` while an auction runs

    def is_liquidatable(self, i: int) -> bool: ...

    def liquidatable(self, price_micro: int | None = None) -> np.ndarray: ...

    def equity(self, i: int) -> int: ...

    def preview_close(self, i: int, close: int, px: int | None = None) -> tuple[int, int]: ...

    def fill_units(self, delta: int) -> int: ...


class PerpsMarketView(MarketView):
    """Read-only questions about one perps market (see ``MarketView``)."""

    __slots__ = ("_p", "_liquidations", "_oracle", "_units", "_bad_debt")

    def __init__(self, p: PerpsState) -> None:
        object.__setattr__(self, "_p", p)
        object.__setattr__(self, "_liquidations", EventLog(p.log.liquidations, LIQUIDATION))
        object.__setattr__(self, "_oracle", EventLog(p.log.oracle, ORACLE_UPDATE))
        object.__setattr__(self, "_units", EventLog(p.log.liquidation_units, LIQUIDATED_UNITS))
        object.__setattr__(self, "_bad_debt", EventLog(p.log.bad_debt_events, BAD_DEBT))

    @property
    def price(self) -> int:
        return self._p.price

    def liquidatable(self, price: int | None = None) -> np.ndarray:
        return frozen(self._p.liquidatable(price))

    def at_risk_if_delayed(self, kind: int, sender: int, amount: int) -> np.ndarray:
        """Who waits with the transaction, on the on-chain price: a top-up's, close's or
        reduce's sender if it is liquidatable now and would not be once the transaction
        ran (fill premium and fee counted); an oracle update's (``amount`` its price):
        the accounts liquidatable on the stored price and not on the new one. Other
        kinds rescue nobody."""
        p = self._p
        if kind == _ORACLE:
            now = p.liquidatable()
            return frozen(np.setdiff1d(now, p.liquidatable(amount))) if len(now) else NO_ACCOUNTS
        if kind not in (_TOPUP, _CLOSE, _REDUCE) or not 0 <= sender < len(p.size) \
                or not p.is_liquidatable(sender) or p.liquidation.locks(sender):
            return NO_ACCOUNTS  # nothing to rescue, or refused while under auction
        if kind == _TOPUP:
            added = min(amount, p.ledger.balances.item(p.wallet[sender]))
            rescued = added > 0 and self._healthy(p.equity(sender) + added,
                                                  p.size.item(sender))
        elif kind == _CLOSE:
            rescued = True
        else:
            rescued = 0 < amount <= 10_000 and self._reduce_rescues(sender, amount)
        return frozen(np.array([sender], dtype=np.int64)) if rescued else NO_ACCOUNTS

    def _healthy(self, equity: int, size: int) -> bool:
        """The protocol's maintenance test for an account of ``equity`` holding ``size``."""
        p = self._p
        return not size or equity * PPM >= p.mm_ppm * (abs(size) * p.price // PPM)

    def _reduce_rescues(self, i: int, bps: int) -> bool:
        """Whether closing ``bps`` of account ``i`` at its fill price, fee paid, leaves it
        above maintenance."""
        p = self._p
        size = p.size.item(i)
        close = toward_zero(size * bps, 10_000)
        if not close:
            return False
        margin, equity = p.preview_close(i, close, p.fill_units(-close))
        fee = abs(close) * p.price // PPM * p.fee_ppm // PPM
        return self._healthy(equity - min(fee, margin), size - close)

    def fill_price(self, size: int) -> int:
        return self._p.fill_units(size) if self._p.price and size else 0

    def events_since(self, block: int) -> Events:
        return Events(self._liquidations.since(block), self._oracle.since(block))

    def liquidated_units(self) -> np.ndarray:
        """Every liquidation's closed units and time (``LIQUIDATED_UNITS``), oldest first."""
        return self._units.array()

    def bad_debt(self) -> np.ndarray:
        """Every booking of bad debt (``BAD_DEBT``), oldest first."""
        return self._bad_debt.array()
