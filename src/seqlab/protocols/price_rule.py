"""Which oracle price a trade may use: a staleness limit and delayed orders.

Real perps protocols do not let a trade pick its price freely:

- with a pull oracle the contract keeps the newest verified publication (an older one
  carried late changes nothing) and refuses a trade priced by a publication older than
  ``max_age`` (Pyth's ``getPriceNoOlderThan``);
- with delayed orders (Synthetix perps v2 offchain delayed orders and v3 async orders,
  GMX v2's two-step orders) a trade, close or reduce is only committed in its block; a
  keeper settles it at the first price published at least ``min_delay`` after the
  commit, carrying that price in its settlement, and an order nobody could settle by
  ``max_delay`` is cancelled. Nobody, the sequencer included, can then trade at a price
  already known when the order was placed.

The rule sits between the protocol's order handlers and their execution
(``PerpsProtocol.route_orders``) and hears every accepted update (``on_price``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seqlab.protocols.port import Handler


@dataclass(frozen=True)
class Order:
    """A committed delayed order: what to run, and the publish times it may settle at."""

    handler: Handler
    a: int
    b: int
    commit_us: int
    ready_us: int
    deadline_us: int


@dataclass
class PriceRule:
    """``publish_us[seq]``: when update ``seq`` was published; ``max_age`` 0: no limit."""

    publish_us: np.ndarray
    max_age: int = 0
    keep_newest: bool = False
    delayed: bool = False
    min_delay: int = 0
    max_delay: int = 0
    latest_us: int = -1  # publish time of the stored price
    pending: dict[int, Order] = field(default_factory=dict)  # by account: one each
    settled: list[tuple[int, int, int, int, int]] = field(default_factory=list)
    cancelled: int = 0

    def accepts(self, seq: int) -> bool:
        """Whether update ``seq`` replaces the stored price (a pull contract keeps the
        newest publication; a push feed's transmitter posts rounds in order)."""
        return not self.keep_newest or int(self.publish_us[seq]) > self.latest_us

    def fresh(self, t_us: int) -> bool:
        """Whether the stored price may price a trade at ``t_us``."""
        return not self.max_age or (self.latest_us >= 0 and t_us - self.latest_us <= self.max_age)

    def route(self, handler: Handler, defer: Callable[[], None]) -> Handler:
        """``handler`` behind the rule: refused on a stale price, or committed for later."""
        def routed(i: int, a: int, b: int, block: int, t: int) -> bool:
            if self.delayed:
                return self._commit(handler, defer, i, a, b, t)
            return self.fresh(t) and handler(i, a, b, block, t)
        return routed

    def _commit(self, handler: Handler, defer: Callable[[], None], i: int, a: int, b: int,
                t: int) -> bool:
        """Commit an order (one pending order per account, as Synthetix allows)."""
        if i in self.pending:
            return False
        self.pending[i] = Order(handler, a, b, t, t + self.min_delay, t + self.max_delay)
        defer()
        return True

    def on_price(self, seq: int, block: int, t: int,
                 settle: Callable[[Handler, int, int, int, int, int], bool],
                 cancel: Callable[[int], None] | None = None) -> None:
        """An update was accepted: store its publish time and settle, in commit order, the
        orders it may price; cancel those whose window it has passed (``cancel(account)``:
        what cancelling costs the account)."""
        pub = int(self.publish_us[seq])
        self.latest_us = max(self.latest_us, pub)
        if not self.pending:
            return
        for i, order in list(self.pending.items()):
            if pub < order.ready_us:
                continue
            del self.pending[i]
            if pub > order.deadline_us:
                self.cancelled += 1
                if cancel is not None:
                    cancel(i)
                continue
            ok = settle(order.handler, i, order.a, order.b, block, t)
            self.settled.append((i, order.commit_us, t, pub, int(ok)))

    def summary(self) -> dict[str, int]:
        """Delayed orders by outcome: a commit counts as a successful transaction, so
        what became of it afterwards is told here."""
        ok = sum(row[4] for row in self.settled)
        return {"delayed_orders_settled": ok, "delayed_orders_failed": len(self.settled) - ok,
                "delayed_orders_cancelled": self.cancelled,
                "delayed_orders_pending": len(self.pending)} if self.delayed else {}
