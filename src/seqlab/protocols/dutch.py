"""Dutch-auction liquidation for the perps protocol (MakerDAO Liquidations 2.0 style).

A perp position has no collateral to sell, so the auction sells the right to take the
position off the account at a discount: its price starts at oracle × ``buf`` and falls
along the curve; a keeper who takes part of the lot closes that part at the oracle price
against the pool and is paid the discount it bought at, (oracle − price) per unit, out
of the account's margin. The kicker (and whoever resets a stale auction) earns the
keeper incentive ``tip + tab·chip`` from the insurance fund. Because the reward grows
with time instead of being fixed, whoever controls ordering gains far less by being
first: the first profitable moment pays almost nothing. As a Maker vault is seized at
kick, an account under auction is locked: its owner can no longer save it with a top-up.
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.auction import (Auction, ExponentialDecrease, LinearDecrease,
                                      StairstepExponentialDecrease, exact_ratio,
                                      keeper_incentive)
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.scenario.schema import Perps
from seqlab.units import MICRO_USD as PPM




def make_curve(d):
    if d.curve == "linear":
        return LinearDecrease(d.tau)
    if d.curve == "exponential":
        return ExponentialDecrease(d.cut)
    return StairstepExponentialDecrease(d.cut, d.step)


class DutchLiquidation:
    """Kick, take and redo Clipper-style auctions over perp positions."""

    def __init__(self, cfg: Perps, p: LiquidationHost) -> None:
        self.p, self.d = p, cfg.dutch
        self.curve = make_curve(self.d)
        self.buf, self.cusp, self.chip = exact_ratio(self.d.buf), exact_ratio(self.d.cusp), \
            exact_ratio(self.d.chip)
        self.tip = int(round(self.d.tip_usd * PPM))
        self.auctions: dict[int, Auction] = {}
        self._next_id = 0

    def locks(self, i: int) -> bool:
        """An account under auction is seized (as a Maker vault is at kick): its owner can
        no longer trade, top up or withdraw until the auction is over."""
        return i in self.auctions

    def reward(self, i: int, block: int) -> int:
        """What kicking account ``i``'s auction now would pay the kicker (micro-USD; 0 when
        it is not liquidatable or already under auction). Pure: nothing changes."""
        p = self.p
        if i in self.auctions or not p.is_liquidatable(i):
            return 0
        tab = p.notional(int(p.size[i]))
        return min(keeper_incentive(tab, self.tip, self.chip), p.balance(p.insurance))

    def liquidate(self, liquidator: int, a: int, i: int, block: int, t: int) -> bool:
        p = self.p
        auction = self.auctions.get(i)
        if auction is None:
            if not p.is_liquidatable(i):
                return False
            return self._kick(liquidator, i, t)
        if auction.needs_reset(t, self.curve, self.d.tail, self.cusp):
            auction.redo(t, p.price, self.buf)
            self._reward_keeper(liquidator, auction.tab)
            return True
        return self._take(liquidator, a, i, auction, block, t)

    def _kick(self, liquidator: int, i: int, t: int) -> bool:
        p = self.p
        lot = abs(int(p.size[i]))
        tab = lot * p.price // PPM
        if not lot or not tab:
            return False
        self.auctions[i] = Auction.kick(self._next_id, i, lot, tab, t, p.price, self.buf)
        self._next_id += 1
        self._reward_keeper(liquidator, tab)
        return True

    def _reward_keeper(self, liquidator: int, tab: int) -> None:
        p = self.p
        amount = min(keeper_incentive(tab, self.tip, self.chip), p.balance(p.insurance))
        p.ledger.transfer(p.insurance, p.liquidator_account[liquidator], amount,
                          "keeper_incentive")

    def _take(self, liquidator: int, a: int, i: int, auction: Auction, block: int,
              t: int) -> bool:
        p = self.p
        size = int(p.size[i])
        price = auction.price(t, self.curve)
        max_price = a if a > 0 else p.price
        taken, _ = auction.take(t, min(auction.lot, abs(size)), max_price, self.curve,
                                tail_us=self.d.tail, cusp=self.cusp, unit=PPM)
        if not taken:
            return False
        closed = p.close_for_liquidation(i, taken if size > 0 else -taken)
        reward = p.pay_from_margin(i, p.liquidator_account[liquidator],
                                   taken * max(0, p.price - price) // PPM, "liquidation_bonus")
        p.log_liquidation(t, block, i, liquidator, closed, reward)
        if auction.done or not p.size[i]:
            self.auctions.pop(i, None)
        return True

    def quotes(self, t_us: int) -> tuple[np.ndarray, np.ndarray]:
        """Accounts under auction and their current prices (what keepers watch)."""
        return auction_quotes(self.auctions, self.curve, t_us)


def auction_quotes(auctions: dict, curve, t_us: int) -> tuple[np.ndarray, np.ndarray]:
    """The accounts of running ``auctions`` (account → Auction) and their prices now."""
    if not auctions:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    accounts = np.fromiter(auctions, np.int64, len(auctions))
    prices = np.array([a.price(max(t_us, a.start_us), curve) for a in auctions.values()],
                      dtype=np.int64)
    return accounts, prices
