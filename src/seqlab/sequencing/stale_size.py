"""How much a stale-price trade can take: what the market leaves, not a configured size.

Trading ahead of an oracle update at the price still on chain earns the move on what is
traded. Real perps markets bound that in several ways, and the operator sizes its trade
by the tightest:

- the fill it can count on: at once, the on-chain price; under delayed orders none (the
  open and the close both settle at prices published after they were committed, so the
  update it has seen is worth nothing to it and it does not trade);
- the edge must beat the taker fee paid on the way in and out;
- the open-interest cap of the side it trades (Synthetix ``maxMarketValue``, GMX max
  open interest): it can add only what the cap leaves;
- its capital: the initial margin of the position must be covered by the account's
  equity;
- ``stale_trade_usd``: the most the operator is willing to put on one update.

Skew pricing does not appear: a trade opened just before the update and closed just
after it pays the skew premium in and is paid it back out (on a moved price), so price
impact does not eat a round trip the sequencer keeps together.
"""
from __future__ import annotations

from seqlab.protocols.fixed import PPM
from seqlab.protocols.perps import PerpsProtocol


def stale_trade_usd(p: PerpsProtocol, account: int, coming: int, fill: int,
                    most_usd: float) -> int:
    """Signed micro-USD ``account`` can trade ahead of an update to price ``coming`` when
    its order fills at ``fill`` (micro-USD): 0 when the edge does not beat two fees."""
    if not fill or coming == fill:
        return 0
    side = 1 if coming > fill else -1
    edge_ppm = abs(coming - fill) * PPM // fill - 2 * p.fee_ppm
    if edge_ppm <= 0:
        return 0
    usd = int(round(most_usd * PPM))
    room = p.open_interest_room(side)
    if room >= 0:
        usd = min(usd, room)
    margin = p.equity(account) * PPM // p.im_ppm - p.notional(int(p.size[account]))
    usd = min(usd, max(0, margin))
    return side * usd


def known_fill(p: PerpsProtocol) -> int:
    """The price an order placed now is known to fill at (micro-USD): the stored price,
    or 0 under delayed orders. There both legs of a round trip settle at prices
    published after their commits, which nobody knows when placing them, so seeing the
    coming update tells the operator nothing about its profit: the expected edge is
    zero whichever way it trades."""
    rule = p.price_rule
    return 0 if rule is not None and rule.delayed else p.price
