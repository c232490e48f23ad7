"""Timeboost (as deployed on Arbitrum): FCFS with an express lane sold by auction.

Time is cut into rounds (60 s). The right to control the next round's express lane is
sold in a sealed-bid second-price auction that closes ``auction_closing`` (15 s) before
the round: the highest bid at or above the reserve wins and pays the second-highest bid,
or the reserve when it is alone above it; the payment is an on-chain transfer from the
searchers to the treasury. The controller's transactions are sequenced at once; every
other transaction is delayed by ``delay`` (200 ms), and apart from that the order is
first come, first served. The controller cannot see or reorder anyone else's
transactions.

Searchers value the lane by the opportunities the chain showed in past rounds — every
liquidation bonus paid, and every oracle update that moved the price by more than two
taker fees (worth that excess on a stale-price trade) — as an exponential average
starting from ``prior_round_value_usd``, each with its own noise, and bid their value (truthful bidding is optimal in a second-price
auction); so the price emerges from the simulation. Simplification: bids are formed
with what is known at the round boundary, and the winner pays at the start of its
round. The controller uses the lane the
way the extractive operator's content-free strategies can: it liquidates accounts that
the public state shows liquidatable, and when the off-chain reference price has moved
away from the on-chain price it trades at the stale on-chain price ahead of the coming
(delayed) oracle update, closing once the update has landed.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.strategies import LIQUIDATIONS_PER_ACCOUNT
from seqlab.txs import Kind

EMA_WEIGHT = 0.3  # weight of the latest round in searchers' lane valuation


def second_price_auction(bids: np.ndarray, reserve: float) -> tuple[int | None, float]:
    """Winner (index of the highest bid at or above ``reserve``; lowest index on ties) and
    price: the second-highest bid, or the reserve if no other bid reaches it."""
    bids = np.asarray(bids, dtype=np.float64)
    eligible = np.flatnonzero(bids >= reserve)
    if not len(eligible):
        return None, 0.0
    winner = int(eligible[np.argmax(bids[eligible])])
    others = np.delete(bids, winner)
    second = float(others.max()) if len(others) else reserve
    return winner, max(second, reserve)


class TimeboostDesign(QueuedDesign):
    """FCFS on (arrival + delay) for everyone but the express-lane controller."""

    name = "timeboost"

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        self.tb = cfg.timeboost
        self.strategies = frozenset(strategies)
        self.view = None
        self.round = -1
        self.controller: int | None = None
        self.value_estimate = self.tb.prior_round_value_usd
        self._seen = (0, 0)  # liquidation and oracle log rows already valued
        self._stale: tuple[int, int] | None = None  # (side, on-chain price when opened)
        self.rounds: list[tuple[int, int | None, float]] = []  # (round, winner, price USD)

    def attach(self, view) -> None:
        self.view = view

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Queue by effective time: everyone else's transactions wait ``delay``."""
        self.queue.add(ids, arrival_us + self.tb.delay)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, effective: np.ndarray, now: int) -> np.ndarray:
        express = self._new_round(now) + self._express(now)
        block = np.concatenate((np.asarray(express, dtype=np.int64), eligible))
        return block if self.capacity <= 0 else block[: self.capacity]

    # the auction ----------------------------------------------------------------------
    def _round_opportunity(self) -> float:
        """USD a lane controller could have taken since the last look (public data)."""
        p = self.view.protocol
        liq, orc = p.log.liquidations, p.log.oracle
        seen_liq, seen_orc = self._seen
        bonus = sum(row[5] for row in liq[seen_liq:]) / PPM
        edge = 0.0
        prev = orc[seen_orc - 1][2] if seen_orc else None
        threshold = 2 * p.fee_ppm / PPM
        for row in orc[seen_orc:]:
            if prev:
                edge += max(0.0, abs(row[2] / prev - 1) - threshold)
            prev = row[2]
        self._seen = (len(liq), len(orc))
        return bonus + edge * self.cfg.strategy.stale_trade_usd

    def _new_round(self, now: int) -> list[int]:
        """At a round boundary: learn from the last round, run the auction, settle it."""
        r = now // self.tb.round
        if r == self.round or not self.strategies:  # nobody to use the lane: no auction
            return []
        if self.round >= 0:
            seen = self._round_opportunity()
            self.value_estimate += EMA_WEIGHT * (seen - self.value_estimate)
        self.round = r
        noise = keyed_normals(self.view.seed, "timeboost.bid", np.arange(self.tb.searchers), r)
        bids = max(self.value_estimate, 0.0) * np.exp(self.tb.valuation_noise * noise)
        self.controller, price = second_price_auction(bids, self.tb.reserve_usd)
        self.rounds.append((r, self.controller, price))
        if self.controller is None:
            return []
        return [self.view.insert(Kind.AUCTION, self.controller, now,
                                 a=int(round(price * PPM)))]

    # the controller -------------------------------------------------------------------
    def _express(self, now: int) -> list[int]:
        """What the controller sends through the lane, from public information only."""
        if self.controller is None:
            return []
        out: list[int] = []
        if "stale_oracle" in self.strategies:
            out += self._stale_trade(now)
        if "backrun" in self.strategies:
            v = self.view
            for acct in v.user_accounts(v.protocol.liquidatable()).tolist():
                out += [v.insert(Kind.LIQUIDATE, v.accounts.backrun, now, b=acct)
                        for _ in range(LIQUIDATIONS_PER_ACCOUNT)]
        return out

    def _stale_trade(self, now: int) -> list[int]:
        v, p = self.view, self.view.protocol
        if not p.price:
            return []
        if self._stale is not None:
            if p.price != self._stale[1]:  # the update landed: take the profit
                self._stale = None
                return [v.insert(Kind.CLOSE, v.accounts.stale, now)]
            return []
        ref = float(v.reference.at(now)) * PPM
        if abs(ref - p.price) <= self.tb.stale_min_move * p.price:
            return []
        side = 1 if ref > p.price else -1
        self._stale = (side, p.price)
        usd = side * int(round(self.cfg.strategy.stale_trade_usd * PPM))
        return [v.insert(Kind.TRADE, v.accounts.stale, now, a=usd)]
