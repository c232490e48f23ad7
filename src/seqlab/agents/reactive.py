"""Agents that watch the block feed and react: margin managers (liquidators, which also
poll and speculate, live in ``seqlab.agents.liquidators``).

They see each executed block after their own feed latency, decide from the state that
block left behind (never from pending transactions: they have no view of the
sequencer's queue), and send transactions that arrive after their network latency.
Their random delays are keyed by account and attempt (``keyed_normals``), so a design
that changes one account's history leaves every other account's draws untouched.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from seqlab.agents.recourse import Recourse
from seqlab.agents.trigger_kernel import examine, examine_all
from seqlab.kernel import Simulation, keyed_normals
from seqlab.network import Network, latency_from_normals
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Latency, Sequencer
from seqlab.scenario.schema import MarginManagers as MarginManagersCfg
from seqlab.txs import Kind, TxStore


class KeyedDelays:
    """Per-account lognormal delays: the k-th draw for account i is fixed by (i, k)."""

    def __init__(self, seed: int, name: str, accounts: int) -> None:
        self.seed, self.name = seed, name
        self.count = np.zeros(accounts, dtype=np.int64)

    def draw(self, who: np.ndarray, *cfgs: Latency) -> list[np.ndarray]:
        """One delay per config for each account in ``who``; advances their counters."""
        k = self.count[who]
        self.count[who] += 1
        return [latency_from_normals(cfg, keyed_normals(self.seed, f"{self.name}/{j}", who, k))
                for j, cfg in enumerate(cfgs)]


class MarginManagers:
    """Owners who top up when equity nears the maintenance requirement.

    ``total`` accounts, of which the first ``accounts`` belong to users (a ``share`` of
    them manage their margin); ``kind`` is the top-up transaction of their protocol.
    With ``recourse``, an owner whose top-up is not included in time acts on it.
    """

    FEW = 32  # up to this many changed accounts are re-examined one by one (compiled)

    def __init__(self, cfg: MarginManagersCfg, seq_cfg: Sequencer, sim: Simulation,
                 txs: TxStore, network: Network, total: int, accounts: int,
                 kind: Kind = Kind.TOPUP, name: str = "margin",
                 recourse: Recourse | None = None) -> None:
        self.cfg, self.seq_cfg, self.kind = cfg, seq_cfg, int(kind)  # compared per block
        self.txs, self.network = txs, network
        self.managed = np.zeros(total, dtype=bool)
        self.managed[:accounts] = sim.rng(f"{name}.managed").random(accounts) < cfg.share
        self.pending = np.zeros(total, dtype=bool)
        # managed owners below the trigger when last examined (nobody watches the others)
        self.low = np.zeros(total, dtype=bool)
        # low, managed and not pending: the owners who would top up now, kept as each flag
        # changes, with their number, so a block need not scan every account to find them
        self.due = np.zeros(total, dtype=bool)
        self.n_due = 0
        self.delays = KeyedDelays(sim.seed, name, total)
        self.recourse = recourse

    def on_block(self, t_us: int, equity: np.ndarray, notional: np.ndarray, rate: float = 1.0,
                 wallet: Callable[[np.ndarray], np.ndarray] | None = None,
                 changed: np.ndarray | None = None) -> None:
        """Top up (to ``target`` × requirement) where equity < ``trigger`` × requirement,
        the requirement being ``rate`` × ``notional``; an owner whose wallet (``wallet``
        gives the balances of the accounts passed to it) is empty has nothing to send.

        ``changed`` names the accounts whose equity or notional may have moved since the
        last call (None: any): only those are re-examined, so a quiet block costs little
        however many accounts there are.
        """
        if changed is None:  # every account, in one compiled pass
            self.n_due = examine_all(self.managed, self.pending, self.low, self.due,
                                     notional, equity, self.cfg.trigger, rate)
        elif len(changed) > self.FEW:
            req = rate * notional[changed]
            self.low[changed] = (req > 0) & (equity[changed] < self.cfg.trigger * req) \
                & self.managed[changed]
            np.logical_and(self.low, ~self.pending, out=self.due)
            self.n_due = int(np.count_nonzero(self.due))
        else:  # the same float comparisons one account at a time: a block changes a few
            self.n_due += examine(changed, self.managed, self.pending, self.low, self.due,
                                  notional, equity, self.cfg.trigger, rate)
        if self.recourse is not None:
            self.recourse.act(t_us, self.low)
        if not self.n_due:
            return
        who = np.flatnonzero(self.due)  # in account order, as a scan
        if wallet is not None and len(who):
            who = who[wallet(who) > 0]
        if not len(who):
            return
        amount = np.rint(self.cfg.target * (rate * notional[who]) - equity[who]).astype(np.int64)
        feed, reaction, net = self.delays.draw(who, self.seq_cfg.feed_latency,
                                               self.cfg.reaction, self.cfg.latency)
        submit = t_us + feed + reaction
        arrival = submit + net
        amount, tip = np.maximum(amount, 1), int(round(self.cfg.tip_usd * PPM))
        ids = self.txs.add_many(self.kind, who, submit, arrival, amount, tip=tip)
        self.network.send(ids, arrival)
        self.pending[who] = True
        self.due[who] = False
        self.n_due -= len(who)
        if self.recourse is not None:
            self.recourse.started(who, ids, submit, amount, tip)

    def on_executed(self, ids: np.ndarray, kind: np.ndarray) -> None:
        """Executed txs ``ids`` (of kinds ``kind``): an owner whose top-up (or, with
        recourse, any version of it) is in a block stops waiting."""
        if self.recourse is not None:
            self._resolved(self.recourse.resolved(ids))
            return
        done = ids[kind == self.kind]
        if len(done):
            self._resolved(self.txs.sender[done])

    def _resolved(self, owners: np.ndarray) -> None:
        """``owners`` stop waiting: those still low (and managed) are due again."""
        if not len(owners):
            return
        self.pending[owners] = False
        self.due[owners[self.low[owners]]] = True  # low: managed
        self.n_due = int(np.count_nonzero(self.due))

