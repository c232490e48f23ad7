"""Hedgers: users whose perp position offsets an exposure they hold off the chain.

Noise traders lose nothing when the chain stops: their orders fail (or, with
``while_down = "queue"``, wait) and their positions freeze. A hedger's perp exists to cancel a price exposure it holds elsewhere (the spot
leg of a cash-and-carry basis trade, as Ethena's backing): while the chain runs it keeps
its margin up (it is a margin manager) and re-opens the hedge as soon as a liquidation
cuts it; while the chain is down it can do neither, and a liquidation at the restart
leaves its off-chain leg bare until its re-hedge is in a block. Its value therefore counts
the off-chain leg, marked at the reference, beside its perp account: a halt costs it
what the bare leg moves, and the liquidation's losses, not nothing.

Each off-chain leg is a ledger account: at the first fill the external account (the world
outside the chain) deposits the leg's notional in it, the capital behind the spot leg; at
the end of the run its mark-to-market is settled against the external account. A
hedger's value counts the leg's balance less that deposit, what the leg made, so the
users' values include it and the ledger still balances to the micro-USD.
"""
from __future__ import annotations

import numpy as np

from seqlab.agents.reactive import KeyedDelays
from seqlab.agents.traders import Flow
from seqlab.kernel import Simulation
from seqlab.ledger import EXTERNAL, Ledger
from seqlab.network import Network
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.scenario.schema import Hedgers as HedgersCfg
from seqlab.scenario.schema import MarginManagers as MarginManagersCfg
from seqlab.scenario.schema import Sequencer
from seqlab.txs import Kind, Status, TxStore

__all__ = ["Hedgers"]

MAX_FAILURES = 5  # trades in a row that fail before a hedger stops trying (a venue that refuses it)


class Hedgers:
    """A ``share`` of the user accounts, each with an off-chain leg its perp offsets.

    ``who`` are the hedgers' account numbers; ``leg`` their off-chain size (micro-ETH,
    opposite the perp's), set at the first fill; ``entry`` the reference price then.
    """

    def __init__(self, cfg: HedgersCfg, margin: MarginManagersCfg, seq_cfg: Sequencer,
                 sim: Simulation, txs: TxStore, network: Network, ledger: Ledger,
                 users: int, collateral_usd: np.ndarray) -> None:
        rng = sim.rng("hedgers")
        chosen, long_u = rng.random(users), rng.random(users)  # both drawn for every user
        self.cfg, self.margin, self.seq_cfg = cfg, margin, seq_cfg
        self.txs, self.network = txs, network
        self.who = np.flatnonzero(chosen < cfg.share)
        n = len(self.who)
        self.side = np.where(long_u[self.who] < cfg.long_share, 1, -1).astype(np.int64)
        self.notional = np.rint(cfg.leverage * collateral_usd[self.who] * PPM).astype(np.int64)
        self.leg = np.zeros(n, dtype=np.int64)
        self.entry = np.zeros(n, dtype=np.int64)
        self.deposit = np.zeros(n, dtype=np.int64)  # the capital behind each leg
        self.ledger = ledger
        self.pending = np.full(n, -1, dtype=np.int64)  # the hedger's trade in flight
        self.failures = np.zeros(n, dtype=np.int64)
        self.delays = KeyedDelays(sim.seed, "hedgers", n)
        self.outside = ledger.open_many("offchain", n) if n else np.empty(0, np.int64)
        self.rehedges = 0
        self.bare_usd_us = 0  # ∫ |perp + off-chain leg| × price dt, micro-USD·µs
        self._bare_now = 0    # |perp + leg| × price after the last block, micro-USD
        self._last_t = 0

    def is_hedger(self, users: int) -> np.ndarray:
        """A mask over the ``users`` accounts: which are hedgers."""
        mask = np.zeros(users, dtype=bool)
        mask[self.who] = True
        return mask

    def without_hedgers(self, flow: Flow, users: int) -> Flow:
        """The noise flow less the hedgers' orders: a hedger trades only to hedge. The
        draws are untouched; only the orders of hedger accounts are left out."""
        keep = ~self.is_hedger(users)[flow.account]
        tip = flow.tip[keep] if isinstance(flow.tip, np.ndarray) else flow.tip
        b = flow.b[keep] if isinstance(flow.b, np.ndarray) else flow.b
        return Flow(flow.submit_us[keep], flow.account[keep], flow.kind[keep],
                    flow.a[keep], tip, b)

    def on_block(self, t_us: int, p: PerpsProtocol, reference_micro: int) -> None:
        """After each block: note fills, then send the trades that (re-)open hedges.

        ``reference_micro`` is the reference price now, at which a first fill's off-chain
        leg starts (the exposure the perp was sold against)."""
        if not len(self.who):
            return
        size = p.size[self.who]
        self.bare_usd_us += self._bare_now * (t_us - self._last_t)
        self._last_t = t_us
        flying = self.pending >= 0
        if flying.any():
            status = self.txs.status[self.pending[flying]]
            done = np.flatnonzero(flying)[status != Status.PENDING]
            ok = self.txs.status[self.pending[done]] == Status.OK
            self.failures[done[ok]] = 0
            self.failures[done[~ok]] += 1
            self.pending[done] = -1
        first = (self.leg == 0) & (size != 0)
        self.leg[first] = -size[first]
        self.entry[first] = reference_micro
        if first.any():
            self.deposit[first] = np.abs(self.leg[first]) * reference_micro // PPM
            self.ledger.transfer_many(EXTERNAL, self.outside[first], self.deposit[first],
                                      "offchain")
        price = p.price
        self._bare_now = int(np.abs(self.leg + size).sum()) * price // PPM
        if not price:
            return
        idle = (self.pending < 0) & (self.failures < MAX_FAILURES)
        opening = idle & (self.leg == 0)
        cover = np.where(self.leg != 0, -size * PPM // np.where(self.leg == 0, 1, self.leg), PPM)
        short = idle & (self.leg != 0) & (cover < int(self.cfg.rehedge_below * PPM))
        usd = np.where(opening, self.side * self.notional,
                       (-self.leg - size) * price // PPM)
        self._send(t_us, np.flatnonzero(opening | short), usd, short)

    def _send(self, t_us: int, idx: np.ndarray, usd: np.ndarray, short: np.ndarray) -> None:
        """Each hedger in ``idx`` sends a trade of ``usd[idx]``; a re-hedge (``short``)
        first tops up the margin its leverage asks for the notional it re-opens."""
        if not len(idx):
            return
        accounts = self.who[idx]
        feed, reaction, net = self.delays.draw(idx, self.seq_cfg.feed_latency,
                                               self.margin.reaction, self.margin.latency)
        submit = t_us + feed + reaction
        arrival = submit + net
        tip = int(round(self.margin.tip_usd * PPM))
        re = short[idx]
        if re.any():
            margin = np.rint(np.abs(usd[idx][re]) / self.cfg.leverage).astype(np.int64)
            ids = self.txs.add_many(Kind.TOPUP, accounts[re], submit[re], arrival[re],
                                    np.maximum(margin, 1), tip=tip)
            self.network.send(ids, arrival[re])
            self.rehedges += int(re.sum())
        # the trade a microsecond behind its top-up: arrival order puts the margin first
        ids = self.txs.add_many(Kind.TRADE, accounts, submit, arrival + 1, usd[idx], tip=tip)
        self.network.send(ids, arrival + 1)
        self.pending[idx] = ids

    def offchain_pnl(self, price_micro: int) -> np.ndarray:
        """Each hedger's off-chain leg marked at ``price_micro`` (micro-USD); a short
        leg loses at most its capital (a price more than doubled). Exact integers: a leg
        of a few thousand ETH times a price in micro-USD passes int64, so the product is
        taken in Python integers, as ``PerpsProtocol.unrealized`` does."""
        pnl = self.leg.astype(object) * (price_micro - self.entry.astype(object)) // PPM
        return np.maximum(pnl, -self.deposit.astype(object)).astype(np.int64)

    def settle(self, price_micro: int, horizon_us: int) -> None:
        """Book each off-chain leg's mark-to-market against the external account, and
        close the exposure integral at the horizon."""
        self.bare_usd_us += self._bare_now * max(horizon_us - self._last_t, 0)
        self._last_t = horizon_us
        pnl = self.offchain_pnl(price_micro)
        gain = pnl > 0
        self.ledger.transfer_many(EXTERNAL, self.outside[gain], pnl[gain], "offchain")
        self.ledger.transfer_many(self.outside[~gain], EXTERNAL, -pnl[~gain], "offchain")

    def summary(self, p: PerpsProtocol, liquidated: np.ndarray, price_micro: int,
                users: int) -> dict:
        """The hedgers' figures, each a total (rollups add them up): how many, how much
        they hedge, their open interest beside all users' at the end, how often a liquidation cut a hedge
        (``liquidated``: the liquidated account of every liquidation), the re-hedges, the
        bare exposure over the run and what the off-chain legs made."""
        hit = np.isin(liquidated, self.who)
        def usd(size: np.ndarray) -> float:
            return round(int(np.abs(size).sum()) * price_micro / PPM / PPM, 2)

        return {"hedgers": int(len(self.who)), "oi_usd": usd(p.size[self.who]),
                "users_oi_usd": usd(p.size[:users]),
                "hedged_usd": usd(self.leg),
                "hedger_liquidations": int(hit.sum()),
                "rehedge_orders": int(self.rehedges),
                "bare_usd_hours": round(self.bare_usd_us / PPM / 3.6e9, 2),
                "offchain_pnl_usd": round(float(self.offchain_pnl(price_micro).sum()) / PPM, 2),
                "value_usd": round(float(p.account_values(price_micro)[self.who].sum()) / PPM, 2)}
