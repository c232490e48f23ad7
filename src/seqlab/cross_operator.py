"""A shared sequencer's operator that trades ahead of the cross-rollup bundles it places.

One operator ordering several rollups sees every rollup's flow at once. A cross-rollup
arbitrage bundle tells it, before anyone else, that buying on one rollup and selling on
another pays: it copies the bundle's legs with its own account and puts each copy just
ahead of the leg on the leg's rollup. Its copies fill at the quotes the arbitrageur
expected; the arbitrageur's legs then meet prices its own first leg moved, and revert
where that passes their limits (under atomic execution the whole bundle is then dropped;
under inclusion only, one leg may fill and the other revert, leaving the arbitrageur
unhedged). An operator of a single rollup sees one leg only and cannot hedge a copy on
the other rollup, which is what ``rollups.operator`` compares against.

The operator copies a bundle only when the copy, hedged across the rollups, gains more
than its two taker fees at the prices it will meet (exact: the copies go first).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.protocols.fixed import PPM, toward_zero
from seqlab.txs import Kind


@dataclass
class CrossOperatorLog:
    """What the operator did: copies placed and their expected gain at placement."""

    copies: int = 0
    notional_usd: float = 0.0
    expected_gain_usd: float = 0.0


class CrossRollupOperator:
    """Copies the legs of profitable bundles ahead of them, from account ``account`` on
    every rollup (funded like an arbitrageur's)."""

    def __init__(self, chains: list, account: int) -> None:
        self.chains, self.account = chains, account
        self.log = CrossOperatorLog()

    def front_run(self, legs: list[tuple[int, int]], now: int) -> dict[int, tuple[int, int]]:
        """The operator's copies, by rollup: ``{rollup: (tx, units)}`` to place ahead of
        that rollup's leg (``units`` it adds to the skew first); empty where copying the
        bundle would not pay or one copy could not trade."""
        plans, gain, notional = [], 0.0, 0.0
        for k, tx in legs:
            p = self.chains[k].protocol
            p.begin_block(now)
            usd = int(self.chains[k].txs.a[tx])
            px = p.quote(usd)
            if not px or not p.can_trade(self.account, usd, px):
                return {}
            units = toward_zero(usd * PPM, p.price)
            gain -= units * px / PPM / PPM + abs(usd) / PPM * p.fee_ppm / PPM
            notional += abs(usd) / PPM
            plans.append((k, usd, px, units))
        if gain <= 0:
            return {}
        out = {}
        for k, usd, px, units in plans:
            txs = self.chains[k].txs
            at = np.array([now])
            tx = int(txs.add_many(Kind.TRADE, self.account, at, at, usd, px)[0])
            out[k] = (tx, units)
        self.log.copies += 1
        self.log.notional_usd += notional
        self.log.expected_gain_usd += gain
        return out
