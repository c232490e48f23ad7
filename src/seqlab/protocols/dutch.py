"""Dutch-auction liquidation for the perps protocol (MakerDAO Liquidations 2.0 style).

A perp position is sold off the account: at kick the account is seized and its whole
position becomes the lot, priced from oracle × ``buf`` down the curve. A keeper who
takes part of the lot BUYS it with its own capital at the auction price: the account's
position is closed at that price (for a short lot, at the mirror price 2·oracle − price),
so the account bears the discount — and, when its margin runs out, the insurance fund,
then bad debt. The keeper pays price × units into the pool and receives the lot's value
at the oracle price, which it sells at once on the L2 venue (``KeeperVenue``, as a
Clipper taker sells through its exchange callee), losing the venue's price impact. A
keeper can take no more than its capital pays for. Whether a deep-discount take costs
the protocol anything now depends on who can bid: when nobody does for a long time,
the price keeps falling and the account's loss at that price can exceed its margin.

The kicker (and whoever resets a stale auction) earns the keeper incentive
``tip + tab·chip`` from the insurance fund. Because the reward grows with time instead
of being fixed, whoever controls ordering gains far less by being first. An account
under auction is locked (a Maker vault is seized at kick); an account that is healthy
again at the oracle price (equity back above maintenance) gets its auction ended and
the lock released. With ``congestion`` on each keeper transaction pays gas (``gas``,
set by the world from the day's gas prices), whether it takes anything or not.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from seqlab.protocols.auction import (Auction, ExponentialDecrease, LinearDecrease,
                                      StairstepExponentialDecrease, exact_ratio,
                                      keeper_incentive)
from seqlab.ledger import EXTERNAL
from seqlab.protocols.keeper_venue import KeeperVenue
from seqlab.protocols.liquidation_host import LiquidationHost
from seqlab.protocols.payout import each_reward
from seqlab.scenario.schema import Perps
from seqlab.units import MICRO_USD as PPM

GasCost = Callable[[int, int], int]  # (liquidator, t_us) -> micro-USD per transaction


class Take(NamedTuple):
    """One take: when, whose lot, which keeper, units (signed as the position), the
    auction price and the oracle price then, and the bad debt it booked (micro-USD)."""

    t_us: int
    account: int
    keeper: int
    units: int
    price: int
    oracle: int
    bad_debt: int


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
        self.venue = KeeperVenue(0.0, 1)  # no impact until the world names its venue
        self.gas: GasCost | None = None   # keepers' gas per transaction (congestion)
        self.takes: list[Take] = []
        self.kicks = self.resets = self.ended = 0

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
        due = keeper_incentive(tab, self.tip, self.chip)
        return min(due, p.balance(p.insurance) + p.balance(p.pool))

    def rewards(self, who: np.ndarray, block: int) -> np.ndarray:
        """``reward`` of each account of ``who`` (the protocol pays the incentive, under
        water or not)."""
        return each_reward(self.reward, who, block)

    def liquidate(self, liquidator: int, a: int, i: int, block: int, t: int) -> bool:
        p = self.p
        if self.gas is not None:  # included: the gas is spent whatever the outcome
            keeper = p.liquidator_account[liquidator]
            p.ledger.transfer(keeper, EXTERNAL, min(self.gas(liquidator, t),
                                                    p.balance(keeper)), "keeper_gas")
        auction = self.auctions.get(i)
        if auction is None:
            if not p.is_liquidatable(i):
                return False
            return self._kick(liquidator, i, t)
        if not p.is_liquidatable(i):
            self._end(i)
            return False
        if auction.needs_reset(t, self.curve, self.d.tail, self.cusp):
            auction.redo(t, p.price, self.buf)
            self.resets += 1
            self._reward_keeper(liquidator, auction.tab, t)
            return True
        return self._take(liquidator, a, i, auction, block, t)

    def resets_by(self, i: int, t_us: int) -> bool:
        """Whether account ``i``'s auction would need a reset at ``t_us`` (pure): how
        long whoever wants the price to fall can let it."""
        auction = self.auctions.get(i)
        return auction is not None and auction.needs_reset(t_us, self.curve, self.d.tail,
                                                           self.cusp)

    def on_price(self) -> None:
        """After an oracle update: end the auctions of accounts healthy again."""
        for i in [i for i in self.auctions if not self.p.is_liquidatable(i)]:
            self._end(i)

    def _end(self, i: int) -> None:
        """The account is healthy again: its auction is over and its lock released."""
        del self.auctions[i]
        self.ended += 1

    def _kick(self, liquidator: int, i: int, t: int) -> bool:
        p = self.p
        lot = abs(int(p.size[i]))
        tab = lot * p.price // PPM
        if not lot or not tab:
            return False
        self.auctions[i] = Auction.kick(self._next_id, i, lot, tab, t, p.price, self.buf)
        self._next_id += 1
        self.kicks += 1
        self._reward_keeper(liquidator, tab, t)
        return True

    def _reward_keeper(self, liquidator: int, tab: int, t: int) -> None:
        """Pay the kicker ``tip + tab·chip`` from the insurance fund; what the fund cannot
        pay comes out of the pool as bad debt, as Maker's Vow pays it with unbacked DAI
        (``vat.suck``): the incentive is owed whatever the surplus."""
        p = self.p
        due = keeper_incentive(tab, self.tip, self.chip)
        covered = min(due, p.balance(p.insurance))
        keeper = p.liquidator_account[liquidator]
        p.ledger.transfer(p.insurance, keeper, covered, "keeper_incentive")
        rest = min(due - covered, p.balance(p.pool))
        if rest > 0:
            p.ledger.transfer(p.pool, keeper, rest, "keeper_incentive")
            p.log.bad_debt += rest
            p.log.bad_debt_events.append((t, rest))

    def _take(self, liquidator: int, a: int, i: int, auction: Auction, block: int,
              t: int) -> bool:
        """Buy up to the whole lot at the current price if it is at or below the bid
        ``a`` (0: the oracle price), as far as the keeper's capital pays for it."""
        p = self.p
        keeper = p.liquidator_account[liquidator]
        size, oracle = int(p.size[i]), p.price
        price = auction.price(t, self.curve)
        afford = p.balance(keeper) * PPM // price if price else auction.lot
        taken, _ = auction.take(t, min(auction.lot, abs(size), afford), a if a > 0 else oracle,
                                self.curve, tail_us=self.d.tail, cusp=self.cusp, unit=PPM)
        if not taken:
            return False
        close = taken if size > 0 else -taken
        px = price if size > 0 else max(0, 2 * oracle - price)  # the account's price
        debt = p.log.bad_debt
        closed = p.close_for_liquidation(i, close, px)
        paid, value = abs(close * px // PPM), abs(close * oracle // PPM)
        if close > 0:  # buy the long lot, sell it on the venue
            p.ledger.transfer(keeper, p.pool, paid, "auction_payment")
            p.ledger.transfer(p.pool, keeper, value, "auction_lot")
        else:  # take the short over (paid its price), buy the units back on the venue
            p.ledger.transfer(p.pool, keeper, paid, "auction_payment")
            p.ledger.transfer(keeper, p.pool, min(value, p.balance(keeper)), "auction_lot")
        loss = min(self.venue.trade(close, oracle, t), p.balance(keeper))
        p.ledger.transfer(keeper, EXTERNAL, loss, "venue_impact")
        gain = (value - paid if close > 0 else paid - value) - loss
        p.log_liquidation(t, block, i, liquidator, closed, gain)
        self.takes.append(Take(t, i, liquidator, close, price, oracle, p.log.bad_debt - debt))
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
