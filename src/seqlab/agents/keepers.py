"""Keepers: which running Dutch auctions each liquidation bot bids in, and when its bid lands.

A keeper buys a lot with its own capital and sells it on the L2 venue in the same
transaction, so a take is worth, per auction, ``q × (oracle − price)`` less the venue's
price impact on ``q`` units and the transaction's gas, where ``q`` is as much of the lot
as its capital pays for. A keeper bids only when that is positive and the price is at
least its ``min_discount`` below the oracle; its bid (the highest price it accepts) is
the price at which the take would still cover impact and gas. A keeper with little
capital can only take small parts, whose discount pays for the gas later — poor keepers
are priced out first.

With congestion on (``[protocol.perps.dutch] congestion``) gas is priced from the day's
gas series, and a keeper that offers a fixed gas price (``gas_price_gwei``) waits for
inclusion: each L1 block takes its transaction with the share of the day's transactions
that paid no more (``GasMarket.inclusion``), block by block through the day's prices, so
as the day's prices climb past its offer its bids land later and later (or, stuck, not
before the run ends) — on a falling auction price, later is cheaper: that is how
auctions clear at deep discounts when keepers are priced out. Waiting is drawn from the
``keepers.inclusion`` stream, used only with congestion on.
"""
from __future__ import annotations

import numpy as np

from seqlab.protocols.keeper_venue import KeeperVenue
from seqlab.rollup.gas import GasMarket
from seqlab.scenario.schema import Dutch, Liquidator
from seqlab.units import MICRO_USD as PPM

GWEI_PER_ETH = 1_000_000_000


def discount_bids(cfgs: list[Liquidator], prices: np.ndarray, oracle: int) -> np.ndarray:
    """Bids without capital or gas: each bot takes once the price is its ``min_discount``
    below the oracle (what option writers' auctions use). ``(bots, auctions)``, 0 = out."""
    bids = np.zeros((len(cfgs), len(prices)), dtype=np.int64)
    for j, cfg in enumerate(cfgs):
        limit = int(oracle * (1 - cfg.min_discount))
        bids[j, prices <= limit] = limit
    return bids


class Keepers:
    """The outside keepers' bidding rule under Dutch auctions of perp positions."""

    def __init__(self, cfgs: list[Liquidator], dutch: Dutch, gas: GasMarket | None,
                 rng: np.random.Generator | None, l1_block_us: int, until_us: int) -> None:
        self.cfgs, self.dutch, self.gas, self.rng = cfgs, dutch, gas, rng
        self.l1_block_us, self.until_us = int(l1_block_us), int(until_us)

    def gas_cost(self, j: int, t_us: int, oracle: int) -> int:
        """What one transaction of keeper ``j`` costs at ``t_us`` (micro-USD; 0 without
        congestion): ``keeper_gas`` × gas price (gwei) × the ETH price."""
        if self.gas is None:
            return 0
        offer = self.cfgs[j].gas_price_gwei if j < len(self.cfgs) else None
        gwei = self.gas.price_gwei(t_us, offer)
        return int(self.dutch.keeper_gas * gwei * oracle // GWEI_PER_ETH)

    def plan(self, t_us: int, prices: np.ndarray, lots: np.ndarray, oracle: int,
             capital: np.ndarray, venue: KeeperVenue) -> tuple[np.ndarray, np.ndarray]:
        """``(bids, delays)``, each ``(keepers, auctions)``: the highest price each keeper
        pays for each auction (0: it stays out) and how long after seeing the block its
        bid reaches the sequencer (µs). ``lots`` are signed like the positions."""
        shape = (len(self.cfgs), len(prices))
        bids, delays = np.zeros(shape, dtype=np.int64), np.zeros(shape, dtype=np.int64)
        if not oracle:
            return bids, delays
        for j, cfg in enumerate(self.cfgs):
            gas = self.gas_cost(j, t_us, oracle)
            ceiling = int(oracle * (1 - cfg.min_discount))
            for k, (price, lot) in enumerate(zip(prices.tolist(), lots.tolist())):
                q = min(abs(lot), int(capital[j]) * PPM // price if price else abs(lot))
                if not q or price > ceiling:
                    continue
                cost = venue.impact(q if lot > 0 else -q, oracle, t_us) + gas
                limit = min(ceiling, oracle - -(-cost * PPM // q))
                if price <= limit:
                    bids[j, k] = limit
            if self.gas is not None:
                for k in np.flatnonzero(bids[j]).tolist():
                    wait = self.gas.wait_us(t_us, cfg.gas_price_gwei, self.rng,
                                            self.l1_block_us, self.until_us)
                    if wait is None:  # stuck past the end of the run
                        bids[j, k] = 0
                    else:
                        delays[j, k] = wait
        return bids, delays
