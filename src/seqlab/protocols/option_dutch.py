"""Dutch-auction liquidation of option writers (``protocol.options.liquidation = "dutch"``).

The same Clipper auction as the perps market's (its ``[protocol.perps.dutch]`` curve,
``buf``, ``tail``, ``cusp`` and keeper incentive), over a writer's short book: the lot is
the writer's short units (all series), priced per unit of the underlying from oracle ×
``buf`` down the curve. A keeper who takes part of the lot has the pool take over that
share of every series the writer is short — the writer pays the buyback at the mark, as
in a fixed-bonus liquidation — and is paid the discount it bought at, (oracle − price)
per unit of underlying, out of the writer's margin. The first liquidation transaction
kicks the auction, and a stale one (older than ``tail`` or below ``cusp``) is reset by
the next; both earn ``tip + tab·chip`` from the insurance fund. A writer under auction is
seized: its top-ups fail until the auction is over.

With a fixed bonus the first liquidator is paid the whole bonus at once, so being first
— which a sequencer decides — is worth the bonus; here the first moment pays nothing and
the reward grows only as fast as the curve falls.
"""
from __future__ import annotations

from typing import Protocol

import numpy as np

from seqlab.ledger import Ledger
from seqlab.protocols.auction import Auction, exact_ratio, keeper_incentive
from seqlab.protocols.dutch import auction_quotes, make_curve
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.units import MICRO_USD as PPM


class WriterBook(Protocol):
    """What writer auctions use of the options protocol (which imports them, so they
    depend on this interface, not on its module)."""

    ledger: Ledger
    perps: LiquidationHost      # the perps market: price, insurance fund, keepers' accounts
    margin: np.ndarray          # ledger account of each writer's margin
    short: np.ndarray           # writers × series, micro-units short
    liquidations: list

    def take_over(self, writer: int, units: np.ndarray, t: int) -> int: ...


class WriterAuctions:
    """Kick, take and redo auctions over writers' short books."""

    def __init__(self, opt: WriterBook) -> None:
        self.opt = opt
        self.d = opt.perps.cfg.dutch
        self.curve = make_curve(self.d)
        self.buf, self.cusp = exact_ratio(self.d.buf), exact_ratio(self.d.cusp)
        self.chip, self.tip = exact_ratio(self.d.chip), int(round(self.d.tip_usd * PPM))
        self.auctions: dict[int, Auction] = {}
        self._next_id = 0

    def locks(self, writer: int) -> bool:
        return writer in self.auctions

    def liquidate(self, liquidator: int, max_price: int, writer: int, block: int,
                  t: int, liquidatable: bool) -> bool:
        """One liquidation transaction: kick, reset or take."""
        auction = self.auctions.get(writer)
        price = self.opt.perps.price
        if auction is None:
            return liquidatable and self._kick(liquidator, writer, t)
        if auction.needs_reset(t, self.curve, self.d.tail, self.cusp):
            auction.redo(t, price, self.buf)
            self._reward_keeper(liquidator, auction.tab)
            return True
        return self._take(liquidator, max_price or price, writer, auction, block, t)

    def _kick(self, liquidator: int, writer: int, t: int) -> bool:
        lot = int(self.opt.short[writer].sum())
        tab = lot * self.opt.perps.price // PPM
        if not lot or not tab:
            return False
        self.auctions[writer] = Auction.kick(self._next_id, writer, lot, tab, t,
                                             self.opt.perps.price, self.buf)
        self._next_id += 1
        self._reward_keeper(liquidator, tab)
        return True

    def _reward_keeper(self, liquidator: int, tab: int) -> None:
        p = self.opt.perps
        amount = min(keeper_incentive(tab, self.tip, self.chip), p.balance(p.insurance))
        p.ledger.transfer(p.insurance, p.liquidator_account[liquidator], amount,
                          "keeper_incentive")

    def _take(self, liquidator: int, max_price: int, writer: int, auction: Auction,
              block: int, t: int) -> bool:
        opt, p = self.opt, self.opt.perps
        held = int(opt.short[writer].sum())
        price = auction.price(t, self.curve)
        taken, _ = auction.take(t, min(auction.lot, held), max_price, self.curve,
                                tail_us=self.d.tail, cusp=self.cusp, unit=PPM)
        if not taken:
            return False
        share = opt.short[writer] * taken // held if taken < held else opt.short[writer].copy()
        notional = opt.take_over(writer, share, t)
        reward = min(taken * max(0, p.price - price) // PPM,
                     int(opt.ledger.balances[opt.margin[writer]]))
        opt.ledger.transfer(int(opt.margin[writer]), p.liquidator_account[liquidator], reward,
                            "liquidation_bonus")
        opt.liquidations.append((t, block, writer, liquidator, notional, reward))
        if auction.done or not opt.short[writer].any():
            self.auctions.pop(writer, None)
        return True

    def quotes(self, t_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Writers under auction and their current prices (what keepers watch)."""
        return auction_quotes(self.auctions, self.curve, t_us)
