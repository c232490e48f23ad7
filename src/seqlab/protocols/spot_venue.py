"""The live L2 spot venue: a constant-product pool on the rollup, beside the perps market.

Unlike the replay in ``metrics.venue`` (rebuilt after the run, influencing nothing), this
pool trades inside the block stream. Liquidated exposure is sold on it as the
liquidations happen: under Dutch auctions the keeper sells (or buys back) its lot inside
its take, as a Clipper taker does through its exchange callee; under the other
mechanisms the pool that took the position over unwinds it in the same block, right
after the liquidation. Each sale moves the pool's price by the constant-product formula
(``protocols.cpmm``), and arbitrageurs trading against the reference market close half
of the gap every ``market.arb_half_life`` (applied at each block's start, so the price a
block meets is the one left after the arbitrage that could land before it). The perps
market can mark to the venue, to the oracle, or to a blend
(``[protocol.venue] mark_weight``).

Ledger: the pool's USD reserve is a ledger account, funded at the start by its liquidity
providers. The asset is not a ledger currency, so a unit crossing the pool's edge is
valued at the oracle price against the outside world (``EXTERNAL``): a seller hands
its units out at the oracle price and is paid the pool's USD, so it loses exactly the
price impact and the fee; arbitrageurs' USD comes from and goes to the outside world.
Every move is a ledger transfer, so the ledger stays exact.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np

from seqlab.ledger import EXTERNAL, Ledger
from seqlab.protocols.cpmm import FEE_SCALE, Pool
from seqlab.protocols.market_view import MarketView
from seqlab.protocols.port import Handler, ProtocolPort
from seqlab.scenario.schema import Venue
from seqlab.txs import TxStore
from seqlab.units import MICRO_USD as PPM

ReferenceAt = Callable[[np.ndarray], np.ndarray]

#: One trade on the venue: when, signed units (> 0 sold into the pool), the USD that
#: crossed (micro-USD), the pool's price after it and the oracle price then.
SWAP = np.dtype([("t_us", np.int64), ("units", np.int64), ("usd", np.int64),
                 ("price", np.int64), ("oracle", np.int64)])


class SpotVenue(ProtocolPort):
    """A constant-product pool traded by liquidations and arbitraged to the reference."""

    def __init__(self, cfg: Venue, depth_usd: float, half_life_us: int, ledger: Ledger,
                 txs: TxStore, perps: Any, reference_at: ReferenceAt) -> None:
        """A pool of ``depth_usd`` (both sides) at the reference price, arbitraged with
        ``half_life_us``; ``perps``: the perps protocol it runs beside (its price, pool,
        liquidation log and mark hook); ``reference_at``: the reference (USD) at times."""
        self.txs, self.ledger, self.perps, self.reference_at = txs, ledger, perps, reference_at
        self.half_life_us = int(half_life_us)
        self.mark_weight = int(round(cfg.mark_weight * PPM))
        start = float(reference_at(np.array([0], dtype=np.int64))[0])
        usd = int(round(depth_usd / 2 * PPM))
        self.pool = Pool(max(1, int(round(usd / start))), usd,
                         int(round(cfg.fee * FEE_SCALE)))
        self.account = ledger.open("venue.pool")
        ledger.transfer(EXTERNAL, self.account, usd, "venue_liquidity")
        self.t_us = 0
        self.oracle = 0  # the last oracle price the perps market stored (micro-USD)
        self.path_t, self.path_price = [0], [self.pool.price]
        self.swaps: list[tuple[int, int, int, int, int]] = []
        self.arb_usd = 0  # USD arbitrageurs put in (< 0: took out), micro-USD
        self.hedge_loss = 0  # what sellers lost to impact and fee against the oracle
        self._seen = 0  # liquidations of the perps log already hedged

    # the port ---------------------------------------------------------------------------
    def handlers(self) -> Mapping[int, Handler]:
        """None of its own: its trades ride in the liquidations that cause them."""
        return {}

    def begin_block(self, t_us: int) -> None:
        """Arbitrage up to the block's time, then mark the perps market to the blend."""
        self._arbitrage(t_us)
        if self.mark_weight and self.oracle:
            self.perps.price = self.mark(self.oracle)

    def state_arrays(self) -> list[np.ndarray]:
        return [np.array([self.pool.units, self.pool.usd], dtype=np.int64)]

    def market_view(self) -> MarketView:
        """The venue has no accounts of its own to question: its readers ask the perps
        market it runs beside."""
        return self.perps.market_view()

    def summary(self) -> dict:
        ref = self.reference_at(np.asarray(self.path_t, dtype=np.int64))
        gap = np.asarray(self.path_price, dtype=np.float64) / PPM / ref - 1.0
        sold = sum(s[1] for s in self.swaps if s[1] > 0)
        bought = -sum(s[1] for s in self.swaps if s[1] < 0)
        return {"venue_swaps": len(self.swaps),
                "venue_sold_units": round(sold / PPM, 6),
                "venue_bought_units": round(bought / PPM, 6),
                "venue_hedge_loss_usd": round(self.hedge_loss / PPM, 2),
                "venue_max_discount_bps": round(float(-gap.min()) * 1e4, 2),
                "venue_max_premium_bps": round(float(gap.max()) * 1e4, 2),
                "venue_final_price": round(self.pool.price / PPM, 6)}

    def tables(self) -> dict[str, dict[str, np.ndarray]]:
        rows = np.array(self.swaps, dtype=SWAP)
        return {"venue_swaps": {name: rows[name] for name in SWAP.names}}

    # prices -------------------------------------------------------------------------------
    def mark(self, oracle: int) -> int:
        """The perps mark for oracle price ``oracle``: ``mark_weight`` of the way from
        the oracle to the venue's price (the oracle itself at weight 0)."""
        self.oracle = oracle
        if not self.mark_weight:
            return oracle
        return oracle + self.mark_weight * (self.pool.price - oracle) // PPM

    def price_at(self, t_us: np.ndarray) -> np.ndarray:
        """The venue's price (USD) on a time grid: what the last change left."""
        k = np.searchsorted(np.asarray(self.path_t, dtype=np.int64), t_us, side="right") - 1
        return np.asarray(self.path_price, dtype=np.float64)[np.maximum(k, 0)] / PPM

    def _target(self, pool: Pool, t_us: int, since: int) -> int:
        """The price arbitrage brings ``pool`` to by ``t_us``: its log gap to the
        reference halved every ``half_life_us`` since ``since``."""
        ref = float(self.reference_at(np.array([t_us], dtype=np.int64))[0]) * PPM
        gap = math.log(pool.price / ref) * 0.5 ** ((t_us - since) / self.half_life_us)
        return int(round(ref * math.exp(gap)))

    def _arbitrage(self, t_us: int) -> None:
        if t_us <= self.t_us:
            return
        into = self.pool.rebalance(self._target(self.pool, t_us, self.t_us))
        if into > 0:
            self.ledger.transfer(EXTERNAL, self.account, into, "venue_arbitrage")
        elif into < 0:
            self.ledger.transfer(self.account, EXTERNAL, -into, "venue_arbitrage")
        self.arb_usd += into
        self.t_us = t_us
        self._record(t_us)

    def _record(self, t_us: int) -> None:
        if self.path_t[-1] == t_us:
            self.path_price[-1] = self.pool.price
        else:
            self.path_t.append(t_us)
            self.path_price.append(self.pool.price)

    # trading --------------------------------------------------------------------------------
    def _fill(self, pool: Pool, units: int) -> tuple[int, int]:
        """Sell (``units`` > 0) or buy back on ``pool``: the units that trade (a buy
        never takes more than half the reserve) and the USD out (sale) or in (buy)."""
        if units > 0:
            return units, pool.sell(units)
        q = min(-units, pool.units // 2)
        return -q, pool.buy(q)

    @staticmethod
    def _loss(units: int, usd: int, oracle: int) -> int:
        """What the trade loses against the oracle price (micro-USD; < 0: a gain)."""
        value = abs(units) * oracle // PPM
        return value - usd if units > 0 else usd - value

    def impact(self, units: int, oracle: int, t_us: int) -> int:
        """What selling (``units`` > 0) or buying back (< 0) would lose against the
        oracle price now (micro-USD, ≥ 0). Pure: what a keeper weighs before a take."""
        if not units or oracle <= 0:
            return 0
        pool = self.pool.copy()
        if t_us > self.t_us:
            pool.rebalance(self._target(pool, t_us, self.t_us))
        filled, usd = self._fill(pool, units)
        return max(0, self._loss(filled, usd, oracle))

    def trade(self, units: int, oracle: int, t_us: int) -> int:
        """Sell or buy back ``units`` now, moving the pool's side of the ledger; returns
        the loss against the oracle price (≥ 0), which the seller pays out itself (a
        Dutch take does, ``DutchLiquidation``)."""
        return max(0, self._swap(units, oracle, t_us))

    def _swap(self, units: int, oracle: int, t_us: int) -> int:
        if not units or oracle <= 0:
            return 0
        self._arbitrage(t_us)
        filled, usd = self._fill(self.pool, units)
        if filled > 0:
            self.ledger.transfer(self.account, EXTERNAL, usd, "venue_swap")
        else:
            self.ledger.transfer(EXTERNAL, self.account, usd, "venue_swap")
        self.swaps.append((t_us, filled, usd, self.pool.price, oracle))
        self._record(t_us)
        loss = self._loss(filled, usd, oracle)
        self.hedge_loss += loss
        return loss

    def hedge(self, payer: int, units: int, oracle: int, t_us: int) -> None:
        """``payer`` sells (``units`` > 0) or buys back what a liquidation closed, paying
        the loss against the oracle out of its balance (a gain is paid to it)."""
        loss = self._swap(units, oracle, t_us)
        if loss > 0:
            self.ledger.transfer(payer, EXTERNAL, min(loss, int(self.ledger.balances[payer])),
                                 "venue_impact")
        elif loss < 0:
            self.ledger.transfer(EXTERNAL, payer, -loss, "venue_impact")

    def on_block(self, block: int, t_us: int, ids: np.ndarray, status: np.ndarray) -> None:
        """After a block: the pool that took over each liquidated position unwinds it
        here, in the order the liquidations ran, at the oracle price they ran at."""
        closed = self.perps.log.liquidation_units
        for t, units in closed[self._seen:]:
            self.hedge(self.perps.pool, int(units), self.oracle or self.perps.price, int(t))
        self._seen = len(closed)
