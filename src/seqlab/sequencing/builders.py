"""Proposer-builder separation: builders compete for each block, the proposer sells it.

``count`` builders receive the order flow, each with its own extra latency behind the
sequencer, and a share of user transactions (``private_share``) goes privately to one
builder only. At every tick each builder values what it can see — the liquidation
bonuses a visible oracle update unlocks, the stale-price edge of the update, the price
impact of large visible orders it could sandwich — and the proposer takes the highest
bid. Builders bid competitively: the winner pays the second-highest value (what an
open auction among them converges to; nothing when it is alone), as an on-chain
transfer to the proposer. The winning builder then builds the block from its own view
with the extractive operator's strategies (it may order, insert and leave transactions
out; what it leaves stays pending for the next block).

Extraction therefore splits between builder profit and proposer revenue; with more
competing builders, more of it moves to the proposer.
"""
from __future__ import annotations

import numpy as np

from seqlab.arrays import member
from scipy.special import ndtr

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Latency, Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.strategies import HostsOperator
from seqlab.txs import Kind


class BuildersDesign(HostsOperator, QueuedDesign):
    """A block auction among ``count`` builders at every tick."""

    name = "builders"

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        b = cfg.builders
        self.k = b.count
        self.latency = [b.latency[i] if i < len(b.latency)
                        else Latency(median=f"{5 * (i + 1)}ms", sigma=0.3) for i in range(self.k)]
        self.private_share = b.private_share
        self.host(cfg.strategy, strategies)
        self._seen_at = np.empty((0, self.k), dtype=np.int64)  # when each builder sees a tx
        self.payments: list[tuple[int, int, float]] = []  # (tick, winner, price USD)

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        if not len(ids):
            return
        seed = self.view.seed
        seen = np.stack([arrival_us + latency_from_normals(
            lat, keyed_normals(seed, f"builders.{i}", ids, 0)) for i, lat in
            enumerate(self.latency)], axis=1)
        if self.private_share > 0:
            user = self.view.origin(ids) >= 0
            u = ndtr(keyed_normals(seed, "builders.private", ids, 0))  # uniform in (0, 1)
            private = user & (u < self.private_share)
            owner = (np.abs(keyed_normals(seed, "builders.owner", ids, 0)) * 1e6
                     ).astype(np.int64) % self.k
            hidden = private[:, None] & (np.arange(self.k)[None, :] != owner[:, None])
            seen = np.where(hidden, np.iinfo(np.int64).max, seen)
        self.queue.add(ids, arrival_us)
        self._seen_at = np.concatenate((self._seen_at, seen))

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        seen = self._seen_at[: len(eligible)] <= now
        values = np.array([self._value(eligible[seen[:, b]]) for b in range(self.k)])
        winner = int(np.argmax(values))
        price = float(np.sort(values)[-2]) if self.k > 1 else 0.0
        mine = seen[:, winner]
        block = eligible[mine]
        if self.operator is not None:
            block = self.operator.plan(block, arrival[mine], now)
        pay = []
        if price > 0:
            self.payments.append((now, winner, price))
            pay = [self.view.insert(Kind.AUCTION, winner, now, a=int(round(price * PPM)), b=1)]
        taken = member(eligible, block)
        self._seen_at = np.concatenate((self._seen_at[: len(eligible)][~taken],
                                        self._seen_at[len(eligible):]))
        return np.concatenate((np.asarray(pay, dtype=np.int64), block))

    def _value(self, visible: np.ndarray) -> float:
        """USD a builder expects from the opportunities in ``visible`` (its bid ceiling)."""
        v = self.view
        p = v.protocol
        if not len(visible) or not p.price:
            return 0.0
        kind = v.kind(visible)
        value = 0.0
        updates = visible[kind == Kind.ORACLE]
        if len(updates):
            price = int(v.payload(updates[-1:])[0])
            equity, notional = p.margin_state(price)
            accounts = v.user_accounts(p.liquidatable(price))
            # a bonus is paid out of what is left of the account's margin
            bonus = np.minimum(p.bonus_ppm / PPM * notional[accounts],
                               np.clip(equity[accounts], 0, None))
            value += float(bonus.sum()) / PPM
            edge = abs(price / p.price - 1) - 2 * p.fee_ppm / PPM
            value += max(0.0, edge) * self.cfg.strategy.stale_trade_usd
        if p.scale_units:
            trades = np.abs(v.payload(visible[kind == Kind.TRADE])).astype(np.float64)
            units = trades * PPM / p.price  # micro-units of the asset
            size = self.cfg.strategy.sandwich_size_usd
            gain = size * units / p.scale_units - 2 * p.fee_ppm / PPM * size
            value += float(np.clip(gain, 0, None).sum())
        return value

