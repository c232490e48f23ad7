"""Cross-rollup arbitrageurs: they buy the cheap rollup's perp and sell the dear one's.

Each arbitrageur watches every rollup's feed at the end of a sequencing round. When the
cheapest and dearest live market differ by more than the two taker fees plus
``min_gap_bps``, every idle arbitrageur sends a pair of legs of equal size in units:
a buy on the cheap rollup and a sell on the dear one, each with a limit ``slippage_bps``
past its quote. The size closes the gap (with Synthetix-style skew pricing the fill is
the mean of the price before and after, so closing the whole gap is what maximises the
profit), capped at ``max_trade_usd``.

How the legs travel is the sequencing mode's business: under isolated sequencers each leg
goes over the network to its own sequencer and may fail alone (its limit is crossed
first, or its sequencer is down); the arbitrageur then unwinds the filled leg at market.
Under a shared sequencer both legs go in one bundle that executes whole or not at all.
A rollup whose feed has shown no block for ``stale_after`` is left alone: a halted
rollup's price is not a price anyone can trade at.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seqlab.agents.reactive import KeyedDelays
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Arbitrageurs as ArbitrageursCfg
from seqlab.txs import Kind, Status

# (arrival time, [(rollup, tx), (rollup, tx)]) handed to a shared sequencer
BundleSink = Callable[[int, list[tuple[int, int]]], None]


@dataclass
class ArbLog:
    """Outcomes of every attempt, for the Result."""

    rows: list[tuple[int, int, int, int, float, float, int]] = field(default_factory=list)
    # (t_us, arbitrageur, buy rollup, sell rollup, gap bps, size USD, outcome code)


OUTCOMES = ("filled", "failed_leg", "both_failed", "reverted")


class Arbitrageurs:
    """``count`` arbitrageurs, each with an account ``account0 + j`` on every rollup."""

    def __init__(self, cfg: ArbitrageursCfg, seed: int, chains: list, account0: int,
                 bundle: BundleSink | None, stale_after: int) -> None:
        self.cfg, self.chains, self.account0 = cfg, chains, account0
        self.bundle, self.stale_after = bundle, stale_after
        self.delays = KeyedDelays(seed, "arbitrage", cfg.count)
        self.pending: list[tuple | None] = [None] * cfg.count
        self.log = ArbLog()

    # deciding -------------------------------------------------------------------------
    def observe(self, t_us: int) -> None:
        """After a sequencing round: settle finished attempts, then act on the gap."""
        self._settle()
        live = [k for k, c in enumerate(self.chains)
                if c.protocol.price and t_us - c.rollup.last_tick <= self.stale_after]
        if len(live) < 2:
            return
        mids = np.array([self.chains[k].protocol.mid() for k in live])
        lo, hi = live[int(np.argmin(mids))], live[int(np.argmax(mids))]
        p_lo, p_hi = self.chains[lo].protocol, self.chains[hi].protocol
        gap_bps = (p_hi.mid() - p_lo.mid()) / p_lo.mid() * 1e4
        edge_bps = gap_bps - p_lo.cfg.taker_fee_bps - p_hi.cfg.taker_fee_bps
        idle = [j for j, p in enumerate(self.pending) if p is None]
        if edge_bps <= self.cfg.min_gap_bps or not idle:
            return
        units = self._units(p_lo, p_hi, edge_bps)
        if units <= 0:
            return
        for j in idle:
            self._send(j, t_us, lo, hi, units, gap_bps)

    def _units(self, p_lo, p_hi, edge_bps: float) -> int:
        """Micro-units that close the gap net of fees, capped by ``max_trade_usd``."""
        cap = self.cfg.max_trade_usd / (p_lo.price / PPM)
        if not p_lo.scale_units:
            return int(cap * PPM)
        scale = p_lo.scale_units / PPM
        close = edge_bps / 1e4 * p_lo.mid() * scale / (p_lo.price / PPM + p_hi.price / PPM)
        return int(min(close, cap) * PPM)

    def _send(self, j: int, t_us: int, lo: int, hi: int, units: int, gap_bps: float) -> None:
        cfg = self.cfg
        reaction, lat_lo, lat_hi = self.delays.draw(np.array([j]), cfg.reaction, cfg.latency,
                                                    cfg.latency)
        submit = t_us + int(reaction[0])
        slip = cfg.slippage_bps / 1e4
        legs = []
        for k, sign, lat in ((lo, 1, lat_lo), (hi, -1, lat_hi)):
            p = self.chains[k].protocol
            usd = sign * units * p.price // PPM
            limit = int(p.quote(usd) * (1 + sign * slip))
            arrival = submit + int((lat_lo if self.bundle else lat)[0])
            tx = int(self.chains[k].txs.add_many(Kind.TRADE, self.account0 + j,
                                                 np.array([submit]), np.array([arrival]),
                                                 usd, limit)[0])
            if self.bundle is None:
                self.chains[k].network.send(np.array([tx]), np.array([arrival]))
            legs.append((k, tx))
        if self.bundle is not None:
            self.bundle(submit + int(lat_lo[0]), legs)
        self.pending[j] = (t_us, legs, gap_bps, units * self.chains[lo].protocol.price / PPM
                           / PPM)

    # settling -------------------------------------------------------------------------
    def _settle(self) -> None:
        for j, attempt in enumerate(self.pending):
            if attempt is None:
                continue
            t_us, legs, gap_bps, usd = attempt
            status = [int(self.chains[k].txs.status[tx]) for k, tx in legs]
            if Status.PENDING in status:
                continue
            ok = [s == Status.OK for s in status]
            included = [self.chains[k].txs.included_us[tx] >= 0 for k, tx in legs]
            if all(ok):
                outcome = 0
            elif any(ok):
                outcome = 1
                self._unwind(j, *legs[ok.index(True)])
            else:
                outcome = 2 if any(included) else 3
            self.log.rows.append((t_us, j, legs[0][0], legs[1][0], gap_bps, usd, outcome))
            self.pending[j] = None

    def _unwind(self, j: int, k: int, tx: int) -> None:
        """Leg risk: the filled leg alone is a naked position; sell it back at market."""
        chain = self.chains[k]
        now = int(chain.txs.included_us[tx])
        delay, net = self.delays.draw(np.array([j]), self.cfg.reaction, self.cfg.latency)
        submit = now + int(delay[0])
        arrival = submit + int(net[0])
        ids = chain.txs.add_many(Kind.TRADE, self.account0 + j, np.array([submit]),
                                 np.array([arrival]), -int(chain.txs.a[tx]), 0)
        chain.network.send(ids, np.array([arrival]))

    # results --------------------------------------------------------------------------
    def table(self) -> dict[str, np.ndarray]:
        rows = np.array(self.log.rows, dtype=np.float64).reshape(-1, 7)
        return {"t_s": rows[:, 0] / 1e6, "arbitrageur": rows[:, 1].astype(np.int64),
                "buy_rollup": rows[:, 2].astype(np.int64),
                "sell_rollup": rows[:, 3].astype(np.int64), "gap_bps": rows[:, 4],
                "size_usd": rows[:, 5],
                "outcome": np.asarray(OUTCOMES, dtype=object)[rows[:, 6].astype(np.int64)]
                if len(rows) else np.empty(0, dtype=object)}
