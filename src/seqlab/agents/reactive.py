"""Agents that watch the block feed and react: margin managers and liquidators.

Both see each executed block after their own feed latency, decide from the state that
block left behind (never from pending transactions: they have no view of the
sequencer's queue), and send transactions that arrive after their network latency.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import Simulation
from seqlab.network import Network, sample_latency
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.scenario.schema import Liquidator, Sequencer
from seqlab.scenario.schema import MarginManagers as MarginManagersCfg
from seqlab.txs import Kind, TxStore


class MarginManagers:
    """Owners who top up when equity/notional nears maintenance margin."""

    def __init__(self, cfg: MarginManagersCfg, seq_cfg: Sequencer, sim: Simulation,
                 txs: TxStore, network: Network, perps: PerpsProtocol,
                 accounts: int) -> None:
        self.cfg, self.seq_cfg, self.sim = cfg, seq_cfg, sim
        self.txs, self.network, self.perps = txs, network, perps
        self.managed = sim.rng("margin.managed").random(accounts) < cfg.share
        self.pending = np.zeros(accounts, dtype=bool)
        self.rng = sim.rng("margin.reaction")

    def on_block(self, t_us: int, equity: np.ndarray, notional: np.ndarray) -> None:
        mm = self.perps.mm_ppm / PPM
        low = self.managed & ~self.pending & (notional > 0) & (
            equity < self.cfg.trigger * mm * notional)
        who = np.flatnonzero(low)
        if not len(who):
            return
        amount = np.rint(self.cfg.target * mm * notional[who] - equity[who]).astype(np.int64)
        n = len(who)
        submit = (t_us + sample_latency(self.rng, self.seq_cfg.feed_latency, n)
                  + sample_latency(self.rng, self.cfg.reaction, n))
        arrival = submit + sample_latency(self.rng, self.cfg.latency, n)
        ids = self.txs.add_many(Kind.TOPUP, who, submit, arrival, np.maximum(amount, 1))
        self.network.send(ids, arrival)
        self.pending[who] = True

    def on_executed(self, accounts: np.ndarray) -> None:
        self.pending[accounts] = False



class Liquidators:
    """Bots racing to liquidate: each reacts to the feed with its own latencies."""

    def __init__(self, cfgs: list[Liquidator], sim: Simulation, txs: TxStore,
                 network: Network, accounts: int) -> None:
        self.cfgs, self.txs, self.network = cfgs, txs, network
        self.pending = np.zeros((len(cfgs), accounts), dtype=bool)
        self.rngs = [sim.rng(f"liquidator.{c.name}") for c in cfgs]

    def on_block(self, t_us: int, candidates: np.ndarray) -> None:
        if not len(candidates):
            return
        for j, cfg in enumerate(self.cfgs):
            fresh = candidates[~self.pending[j, candidates]]
            if not len(fresh):
                continue
            n = len(fresh)
            rng = self.rngs[j]
            submit = t_us + sample_latency(rng, cfg.feed_latency, n)
            arrival = submit + sample_latency(rng, cfg.latency, n)
            ids = self.txs.add_many(Kind.LIQUIDATE, j, submit, arrival, 0, fresh)
            self.network.send(ids, arrival)
            self.pending[j, fresh] = True

    def on_executed(self, liquidator: np.ndarray, account: np.ndarray) -> None:
        self.pending[liquidator, account] = False
