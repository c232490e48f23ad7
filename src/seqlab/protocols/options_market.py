"""The options market as its readers see it: ``OptionsProtocol.market_view()``.

Accounts are option writers (the only side that can be liquidated); prices are those of
the underlying, on the perps market's oracle, which the options mark and settle to.
Depends on the narrow ``OptionsState`` rather than on the protocol's module.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from seqlab.ledger import Ledger
from seqlab.protocols.fixed import PPM
from seqlab.protocols.market_view import (NO_ACCOUNTS, OPTION_LIQUIDATION, EventLog, Events,
                                          MarketView, frozen)
from seqlab.txs import Kind

_TOPUP, _ORACLE = int(Kind.OPT_TOPUP), int(Kind.ORACLE)


class OptionsState(Protocol):
    """What the view reads of the options protocol."""

    ledger: Ledger
    perps: Any            # the perps market whose oracle the options use
    auctions: Any         # Dutch auctions of writers (None with a fixed bonus)
    writer_wallet: np.ndarray
    liquidations: list
    t_us: int             # the time of the last block begun

    def liquidatable(self, t_us: int, price_micro: int | None = None) -> np.ndarray: ...

    def margin_state(self, t_us: int, price_micro: int | None = None
                     ) -> tuple[np.ndarray, np.ndarray]: ...

    def marks(self, t_us: int, price_micro: int | None = None) -> np.ndarray: ...


class OptionsMarketView(MarketView):
    """Read-only questions about the options market (see ``MarketView``), asked at the
    time of the last block begun."""

    __slots__ = ("_o", "_liquidations")

    def __init__(self, o: OptionsState) -> None:
        object.__setattr__(self, "_o", o)
        object.__setattr__(self, "_liquidations", EventLog(o.liquidations, OPTION_LIQUIDATION))

    @property
    def price(self) -> int:
        return self._o.perps.price

    def liquidatable(self, price: int | None = None) -> np.ndarray:
        """Writers whose equity is below their maintenance requirement."""
        return frozen(self._o.liquidatable(self._o.t_us, price))

    def at_risk_if_delayed(self, kind: int, sender: int, amount: int) -> np.ndarray:
        """A writer's top-up that would lift it back to maintenance (it is refused while
        the writer is under auction), or the writers an oracle update to ``amount``
        would take out of reach."""
        o = self._o
        now = o.liquidatable(o.t_us)
        if kind == _ORACLE:
            return frozen(np.setdiff1d(now, o.liquidatable(o.t_us, amount))) if len(now) \
                else NO_ACCOUNTS
        if kind != _TOPUP or sender not in now or \
                (o.auctions is not None and o.auctions.locks(sender)):
            return NO_ACCOUNTS
        added = min(amount, int(o.ledger.balances[o.writer_wallet[sender]]))
        equity, need = o.margin_state(o.t_us)
        if added > 0 and not equity[sender] + added < need[sender]:
            return frozen(np.array([sender], dtype=np.int64))
        return NO_ACCOUNTS

    def fill_price(self, size: int, series: int = 0) -> int:
        """Premium per unit (micro-USD) a buy of ``size`` micro-units of ``series``
        would pay now, as the protocol rounds it (0 if it has no price or expired)."""
        o = self._o
        if size <= 0 or not o.perps.price:
            return 0
        return int(size * o.marks(o.t_us)[series]) * PPM // size

    def events_since(self, block: int) -> Events:
        """Writers' liquidations, and the oracle updates the options marked to."""
        return Events(self._liquidations.since(block),
                      self._o.perps.market_view().events_since(block).oracle_updates)
