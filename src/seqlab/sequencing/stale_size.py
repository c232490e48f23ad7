"""How much a stale-price trade takes: the size that maximises its profit in the market.

Trading ahead of an oracle update at the price still on chain, and closing right after
it, earns the move on what is traded. The operator (and a builder, and an express-lane
controller) picks the size that earns most, given what the market charges and allows:

- the fill it can count on: at once, the on-chain price; under delayed orders none (the
  open and the close both settle at prices published after they were committed, so the
  update it has seen is worth nothing to it and it does not trade);
- the taker fee, paid on the way in (at the old price) and out (at the new one);
- the skew premium (Synthetix-style price impact, ``skew_scale``): the open fills at
  the old price moved by the mean premium over the trade, the close at the new price
  moved by the same premium, so the premium comes back on a moved price. In asset units
  ``x`` on side ``σ`` (+1 long when the price rises, -1 short when it falls), with old
  price ``P0``, new price ``P1``, skew ``s``, scale ``S`` and fee ``f``, the round trip
  earns

      π(x) = x·(|P1 - P0|·(1 + s/S) - f·(P0 + P1)) + σ·|P1 - P0|·x² / (2S):

  linear without price impact, convex for a long (the premium grows with the rising
  price), concave for a short, whose best size is ``(|P1-P0|·(1 + s/S) - f·(P0+P1))·S
  / |P1 - P0|`` — a bound that only a small ``skew_scale`` makes real;
- the open-interest cap of the side it trades (Synthetix ``maxMarketValue``, GMX max
  open interest): it can add only what the cap leaves;
- its margin: after the entry fee and the premium paid in (marked at the oracle price,
  the position starts that much down), the capital it trades with must still cover the
  initial margin, ``x²·P0/(2S) + x·P0·(f + im + σ·s/S) ≤ capital - im·(notional
  held)``. The capital is ``capital_usd``, or the account's equity when that is less:
  what it has won is not put back to work within a run, so a run's profit is
  proportional to the capital and the same for rivals that bring the same (builders
  bidding for one block value it alike);
- ``stale_trade_usd`` where set: the most notional it commits to one update.

With no interior best the profit grows with size, so the tightest of the last three
bounds decides: on a perps market without an open-interest cap that is the operator's
capital at the initial margin. A convex profit may first fall below zero (the first
units earn less than the fees) and then rise: the bound decides too, if the trade at it
earns anything.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterable

from seqlab.protocols.fixed import PPM
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario.schema import Strategy

# A size at a bound is cut by this share so the protocol's integer rounding (fees and
# cost basis floored to micro-USD) cannot leave the trade a few micro-USD short of its
# initial margin or past the open-interest cap: it costs a millionth of the size times
# the profit's slope there (a millionth of the profit where the profit is linear; more
# of it where a convex profit has only just crossed zero, a fraction of a cent).
ROUNDING_MARGIN = 1e-6
BOUNDS = ("fees", "price", "open_interest", "margin", "capital")


@dataclass(frozen=True)
class StaleMarket:
    """What the market offers one stale-price round trip (prices in USD, sizes in units of
    the asset, money in USD; a bound of ``math.inf`` does not bind)."""

    fill: float          # P0: the price the open fills around (the on-chain price)
    coming: float        # P1: the price the known update brings
    fee: float           # taker fee, a share of notional, paid on the open and the close
    skew: float = 0.0    # s: net open interest before the trade (units, + long)
    scale: float = 0.0   # S: skew scale (units); 0: fills at the oracle price
    initial_margin: float = 0.05
    equity: float = math.inf        # the capital it margins the trade with
    room_usd: float = math.inf      # the side's open-interest room at the oracle price
    capital_usd: float = math.inf   # the most notional it commits to one update

    @property
    def side(self) -> int:
        return 1 if self.coming > self.fill else -1

    @property
    def move(self) -> float:
        return abs(self.coming - self.fill)

    def linear(self) -> float:
        """The profit per unit of the first unit traded (USD): the move, enlarged by the
        skew premium it is earned on, less the two fees."""
        premium = self.skew / self.scale if self.scale else 0.0
        return self.move * (1.0 + premium) - self.fee * (self.fill + self.coming)

    def quadratic(self) -> float:
        """The coefficient of x² in the profit: ``σ·|ΔP|/(2S)``, 0 without price impact."""
        return self.side * self.move / (2.0 * self.scale) if self.scale else 0.0


@dataclass(frozen=True)
class Sizing:
    """The chosen size (units of the asset, ≥ 0), its side, and the bound that set it."""

    units: float
    side: int
    bound: str


def round_trip_profit(m: StaleMarket, units: float) -> float:
    """USD a round trip of ``units`` (≥ 0, on the side the move favours) earns: π(x)."""
    return units * m.linear() + m.quadratic() * units * units


def margin_units(m: StaleMarket) -> float:
    """The largest size whose initial margin the equity covers after the entry fee and
    the premium paid in: the positive root of ``a·x² + b·x = equity``."""
    if m.equity <= 0:
        return 0.0
    if math.isinf(m.equity):
        return math.inf
    a = m.fill / (2.0 * m.scale) if m.scale else 0.0
    premium = m.side * m.skew / m.scale if m.scale else 0.0
    b = m.fill * (m.fee + m.initial_margin + premium)
    disc = b * b + 4.0 * a * m.equity
    if a == 0.0:
        return m.equity / b if b > 0 else math.inf
    return 2.0 * m.equity / (b + math.sqrt(disc))  # the root, stable when a·equity ≪ b²


def best_size(m: StaleMarket) -> Sizing:
    """The size that maximises π(x) over what the bounds allow, and which bound binds:
    ``fees`` (no size earns anything), ``price`` (the interior best of a concave profit),
    ``open_interest``, ``margin`` or ``capital``.

    A convex profit (a long on a rising price with a skew premium) may start below zero,
    the first units earning less than the fees, and still end above it: its best is then
    the largest size allowed, if that earns anything."""
    linear, quadratic = m.linear(), m.quadratic()
    if m.fill <= 0 or m.coming == m.fill or (linear <= 0 and quadratic <= 0):
        return Sizing(0.0, m.side, "fees")
    limits = {"open_interest": m.room_usd / m.fill, "margin": margin_units(m),
              "capital": m.capital_usd / m.fill}
    if quadratic < 0:  # concave (and rising at 0): the best size where dπ/dx = 0
        limits["price"] = linear / (-2.0 * quadratic)
    bound = min(limits, key=limits.__getitem__)
    units = limits[bound]
    if math.isinf(units):
        raise ValueError("a stale-price trade with no bound: set stale_trade_usd or give "
                         "the account finite equity")
    if bound != "price":
        units *= 1.0 - ROUNDING_MARGIN
    if linear <= 0 and round_trip_profit(m, units) <= 0:
        return Sizing(0.0, m.side, "fees")  # convex, but even the most allowed loses
    return Sizing(max(0.0, units), m.side, bound)


def stale_market(p: PerpsProtocol, account: int, coming: int, fill: int,
                 prm: Strategy) -> StaleMarket | None:
    """The market ``account`` faces trading ahead of an update to ``coming`` when its
    order fills around ``fill`` (micro-USD), with ``prm``'s capital and limit; None when
    it cannot know its fill."""
    if not fill or not p.price or coming == fill:
        return None
    held = p.notional(int(p.size[account]))
    im = p.im_ppm / PPM
    room = p.open_interest_room(1 if coming > fill else -1)
    capital = min(p.equity(account), int(round(prm.capital_usd * PPM)))
    return StaleMarket(
        fill=fill / PPM, coming=coming / PPM, fee=p.fee_ppm / PPM,
        skew=p.skew / PPM, scale=p.scale_units / PPM, initial_margin=im,
        equity=(capital - im * held) / PPM,
        room_usd=room / PPM if room >= 0 else math.inf,
        capital_usd=prm.stale_trade_usd if prm.stale_trade_usd > 0 else math.inf)


def stale_sizing(p: PerpsProtocol, account: int, coming: int, fill: int,
                 prm: Strategy) -> tuple[StaleMarket, Sizing] | None:
    """The market and the profit-maximising size in it (None: no known fill)."""
    m = stale_market(p, account, coming, fill, prm)
    return None if m is None else (m, best_size(m))


def stale_trade_usd(p: PerpsProtocol, account: int, coming: int, fill: int,
                    prm: Strategy) -> int:
    """Signed micro-USD ``account`` trades ahead of an update to price ``coming`` when
    its order fills at ``fill`` (micro-USD): the profit-maximising size, 0 when no size
    beats the fees."""
    sized = stale_sizing(p, account, coming, fill, prm)
    if sized is None:
        return 0
    _, s = sized
    return s.side * int(s.units * p.price)


def stale_profit_usd(p: PerpsProtocol, account: int, coming: int, fill: int,
                     prm: Strategy) -> float:
    """What that trade is expected to earn (USD): π at the chosen size."""
    sized = stale_sizing(p, account, coming, fill, prm)
    if sized is None:
        return 0.0
    m, s = sized
    return round_trip_profit(m, s.units)


def known_fill(p: PerpsProtocol) -> int:
    """The price an order placed now is known to fill at (micro-USD): the stored price,
    or 0 under delayed orders. There both legs of a round trip settle at prices
    published after their commits, which nobody knows when placing them, so seeing the
    coming update tells the operator nothing about its profit: the expected edge is
    zero whichever way it trades."""
    rule = p.price_rule
    return 0 if rule is not None and rule.delayed else p.price


def rule_value(start: int, prices: Iterable[int], min_move: float,
               profit: Callable[[int, int], float]) -> float:
    """What a stale-price rule takes on a run of oracle updates (prices in micro-USD;
    ``start``: the on-chain price before them, 0 for none yet): ``profit(fill, coming)``
    for each update that moves the price by more than ``min_move`` of it, and nothing for
    the others. The rule trades only ahead of those, so an update a larger trade could
    have earned on below that threshold is worth nothing to whoever runs the rule: valuing
    it would have bidders pay for minutes in which the controller sends nothing."""
    total, prev = 0.0, start
    for price in prices:
        if prev and abs(price - prev) > min_move * prev:
            total += max(0.0, profit(prev, price))
        prev = price
    return total
