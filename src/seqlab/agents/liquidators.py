"""A population of liquidation bots: who sees what when, what an attempt costs, when to try.

Real liquidators are not a few identical always-on bots. Some stream the sequencer feed
from next to it, some poll an RPC node every few seconds, each is offline part of the
time, pays gas for every attempt (won or lost) and skips liquidations not worth its
costs; a few speculate on the next oracle update instead of waiting for it. That spread
is what gives the time from an oracle update to the liquidations it enables its shape
(most within a second on Arbitrum, a tail out to many seconds).

Every random delay is keyed by (bot, account, attempt) (``KeyedDelays``) and every
bot's downtime comes from its own named stream, so a design that changes one account's
history leaves every other draw untouched.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from seqlab.agents.reactive import KeyedDelays
from seqlab.kernel import Simulation
from seqlab.network import Network
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Latency, Liquidator, Perps
from seqlab.txs import Kind, TxStore


@dataclass(frozen=True)
class Expected:
    """What a bot watching the reference price expects the next oracle update to do:
    the accounts it will make liquidatable, their notional there (micro-USD)."""

    accounts: np.ndarray
    notional: np.ndarray


Scan = Callable[[int, Sequence[int]], None]
Forecast = Callable[[int], "Expected | None"]


@dataclass
class Costs:
    """How a bot values an attempt: the protocol's reward estimate (micro-USD per
    account, liquidating now; given the accounts and everyone's notional), the reward
    per USD of notional (what it expects from a liquidation an update has not yet
    enabled) and its realised profit so far (micro-USD, from the ledger)."""

    reward: Callable[[np.ndarray, np.ndarray], np.ndarray]
    reward_rate: float
    profit: Callable[[int], int]


#: The protocol's own liquidator, where the protocol liquidates rather than paying bots to:
#: dYdX v4's validators run a liquidation daemon and the proposer places the liquidation
#: orders in the next block; GMX v2's keepers are run by GMX and paid only their gas. It
#: liquidates whatever is liquidatable, paid or not, and never gives up.
PROTOCOL_KEEPER = Liquidator(name="protocol-keeper", strategy="protocol",
                             feed_latency=Latency(median="5ms", sigma=0.2),
                             latency=Latency(median="10ms", sigma=0.2), gas_usd=0.0,
                             min_profit_usd=0.0, max_loss_usd=1e8, max_pending=100_000)


def population(bots: Sequence[Liquidator], perps: Perps) -> list[Liquidator]:
    """The scenario's bots, and the protocol's own keeper where the mechanism pays
    outside liquidators nothing at the maintenance line (``fillable``: the discount is
    zero there; ``keeper_fee`` with no keeper fee): without it, rational bots would leave
    a just-liquidatable account alone until it is nearly bankrupt."""
    unpaid = perps.liquidation == "fillable" or (
        perps.liquidation == "keeper_fee" and perps.keeper_fee_ratio == 0
        and perps.min_keeper_fee_usd == 0)
    return [*bots, PROTOCOL_KEEPER] if unpaid else list(bots)


def down_windows(cfg: Liquidator, horizon_us: int, rng: np.random.Generator) -> np.ndarray:
    """Alternating up and down spells over ``[0, horizon)``: exponential lengths with
    mean ``outage`` down and ``outage × uptime / (1 − uptime)`` up, so the bot is online
    ``uptime`` of the time on average. Returns the down windows as (start, end) rows."""
    if cfg.uptime >= 1.0:
        return np.empty((0, 2), dtype=np.int64)
    mean_down = float(cfg.outage)
    mean_up = mean_down * cfg.uptime / (1.0 - cfg.uptime)
    rows, t = [], 0.0
    up_first = rng.random() < cfg.uptime  # start in a spell drawn at the stationary odds
    while t < horizon_us:
        if up_first:
            t += rng.exponential(mean_up)
        start = t
        t += rng.exponential(mean_down)
        if start < horizon_us:
            rows.append((int(start), int(min(t, horizon_us))))
        up_first = True
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def is_down(windows: np.ndarray, t_us: int) -> bool:
    """Whether ``t_us`` falls in one of the (sorted, disjoint) down windows."""
    k = int(np.searchsorted(windows[:, 0], t_us, side="right")) - 1
    return k >= 0 and t_us < int(windows[k, 1])


class Liquidators:
    """Bots racing to liquidate, each with its own latencies, uptime, costs and strategy.

    ``on_block`` is the feed (streaming bots act on it); ``start`` schedules the pollers
    and the bots that watch for oracle updates. Attempts are LIQUIDATE transactions (or
    ``kind``) sent by bot ``j``; the protocol charges their gas and tips to the bot.
    """

    def __init__(self, cfgs: list[Liquidator], sim: Simulation, txs: TxStore,
                 network: Network, accounts: int, costs: Costs, horizon_us: int,
                 kind: Kind = Kind.LIQUIDATE, name: str = "liquidator") -> None:
        self.cfgs, self.txs, self.network, self.kind = cfgs, txs, network, int(kind)
        self.name = name
        self.sim, self.costs, self.horizon = sim, costs, horizon_us
        self.pending = np.zeros((len(cfgs), accounts), dtype=bool)
        self.in_flight = np.zeros(len(cfgs), dtype=np.int64)  # attempts not yet executed
        self.delays = [KeyedDelays(sim.seed, f"{name}.{c.name}", accounts) for c in cfgs]
        self.down = [down_windows(c, horizon_us, sim.rng(f"{name}.{c.name}.online"))
                     for c in cfgs]
        # the same windows as lists: ``active`` asks once per bot per block, and a bisect
        # on a list costs a fraction of an array search
        self._down_lists = [(w[:, 0].tolist(), w[:, 1].tolist()) for w in self.down]
        self.max_loss = [-int(round(c.max_loss_usd * PPM)) for c in cfgs]
        self.gas = np.array([int(round(c.gas_usd * PPM)) for c in cfgs], dtype=np.int64)
        self.min_profit = np.array([int(round(c.min_profit_usd * PPM)) for c in cfgs],
                                   dtype=np.int64)
        self.keepers = [j for j, c in enumerate(cfgs) if c.strategy == "protocol"]
        paid = [j for j in range(len(cfgs)) if j not in self.keepers]
        self.floor = int((self.gas + self.min_profit)[paid].min()) if paid else 0
        self.stopped = np.zeros(len(cfgs), dtype=bool)
        self.streaming = [j for j, c in enumerate(cfgs) if c.poll == 0]
        self.oracle_tip = 0

    # who acts -------------------------------------------------------------------------
    def active(self, j: int, t_us: int) -> bool:
        """Online, and not stopped by its loss limit (checked on the ledger now)."""
        starts, ends = self._down_lists[j]
        k = bisect.bisect_right(starts, t_us) - 1  # is_down, on the lists
        if self.stopped[j] or (k >= 0 and t_us < ends[k]):
            return False
        if self.costs.profit(j) < self.max_loss[j]:
            self.stopped[j] = True  # rational: a bot losing beyond its limit gives up
            return False
        return True

    def start(self, scan: Scan, forecast: Forecast | None, oracle_poll_us: int,
              oracle_tip: int) -> None:
        """Schedule each poller's first look (``scan(t, bots)`` runs the race for
        ``bots`` on the state at ``t``), and the oracle watch of speculative bots and
        bidders at each oracle poll (``forecast(t)`` says what an update now would do)."""
        self.oracle_tip = oracle_tip
        for j, cfg in enumerate(self.cfgs):
            if cfg.poll:
                phase = int(self.sim.rng(f"{self.name}.{cfg.name}.phase").integers(cfg.poll))
                self.sim.schedule(phase, self._poll, scan, j)
        watchers = [j for j, c in enumerate(self.cfgs)
                    if c.strategy in ("speculative", "bidder")]
        if watchers and forecast is not None and oracle_poll_us > 0:
            self.sim.schedule(0, self._watch, forecast, watchers, oracle_poll_us)

    def _poll(self, scan: Scan, j: int) -> None:
        now = self.sim.now
        if self.active(j, now):
            scan(now, (j,))
        nxt = now + self.cfgs[j].poll
        if nxt < self.horizon:
            self.sim.schedule(nxt, self._poll, scan, j)

    def _watch(self, forecast: Forecast, watchers: list[int], every: int) -> None:
        now = self.sim.now
        bots = [j for j in watchers if self.active(j, now)]
        if bots:
            coming = forecast(now)
            if coming is not None and len(coming.accounts):
                for j in bots:
                    self._speculate(j, now, coming)
        if now + every < self.horizon:
            self.sim.schedule(now + every, self._watch, forecast, watchers, every)

    # attempts -------------------------------------------------------------------------
    def on_block(self, t_us: int, candidates: np.ndarray, notional: np.ndarray,
                 bots: Sequence[int] | None = None) -> None:
        """Race to liquidate (or, under Dutch auctions, to kick) ``candidates``: each of
        ``bots`` (default: the streaming ones that are up) where it pays."""
        if not len(candidates):
            return
        reward = self.costs.reward(candidates, notional)
        for j in self.keepers:  # the protocol's own: every liquidatable account
            if (bots is None or j in bots) and self.active(j, t_us):
                none = np.zeros(len(candidates), np.int64)
                self._send(j, t_us, candidates, none, none)
        worth = reward > self.floor  # what no paid bot would touch is dropped at once
        if True not in worth.tolist():  # a handful: a list test, no reduction
            return
        candidates, reward = candidates[worth], reward[worth]
        for j in (self.streaming if bots is None else bots):
            if j not in self.keepers and (bots is not None or self.active(j, t_us)):
                self._react(j, t_us, candidates, reward)

    def on_auctions(self, t_us: int, accounts: np.ndarray, bids: np.ndarray,
                    delays: np.ndarray | None = None, bots: Sequence[int] | None = None
                    ) -> None:
        """Bid in running Dutch auctions: ``bids[j, k]`` is bot j's highest price for
        ``accounts[k]`` (0: it stays out; ``agents.keepers`` decides), sent ``delays[j, k]``
        µs after it sees the block (waiting for inclusion under congestion). Each of
        ``bots`` (default: the streaming ones that are up) bids."""
        if not len(accounts):
            return
        for j in (self.streaming if bots is None else bots):
            if bots is None and not self.active(j, t_us):
                continue
            ok = np.flatnonzero(bids[j] > 0)
            none = np.zeros(len(ok), np.int64)
            if delays is None or not delays[j, ok].any():
                self._send(j, t_us, accounts[ok], bids[j, ok], none)
                continue
            for k in ok.tolist():
                self._send(j, t_us + int(delays[j, k]), accounts[k:k + 1], bids[j, k:k + 1],
                           none[:1])

    def _terms(self, j: int, reward: np.ndarray, cap: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Which attempts pay (reward beats gas, tip and the bot's threshold) and their
        tips. A bidder bids its whole margin over costs (bidders outbid each other up to
        the reward), at most ``cap``; others offer ``tip_share`` of the reward."""
        cfg = self.cfgs[j]
        margin = reward - self.gas[j] - self.min_profit[j]
        if cfg.strategy == "bidder":
            return margin > 0, np.clip(margin, 0, cap)
        tip = np.rint(cfg.tip_share * reward).astype(np.int64)
        return margin - tip > 0, tip

    def _react(self, j: int, t_us: int, candidates: np.ndarray, reward: np.ndarray) -> None:
        # what ``_send`` would skip is left out first: a bot usually has every candidate
        # in flight already, and block after block that costs only this check (the
        # richest-first order of the rest is a stable sort, so it is unchanged)
        fresh = ~self.pending[j, candidates]
        if not fresh.any() or self.cfgs[j].max_pending <= self.in_flight[j]:
            return
        if not fresh.all():
            candidates, reward = candidates[fresh], reward[fresh]
        ok, tip = self._terms(j, reward)
        if ok.any():
            best = np.argsort(-reward[ok], kind="stable")  # the richest first
            self._send(j, t_us, candidates[ok][best], np.zeros(int(ok.sum()), np.int64),
                       tip[ok][best])

    def _speculate(self, j: int, t_us: int, coming: Expected) -> None:
        """Attempts sent a delay drawn from ``aim`` after the oracle's poll, meant to land
        just after the expected update (whose exact timing the bot does not know); a bidder tips just below the update's own tip so priority
        ordering puts it right behind it. Early or wrong attempts fail and cost gas."""
        reward = np.rint(self.costs.reward_rate * coming.notional).astype(np.int64)
        ok, tip = self._terms(j, reward, max(self.oracle_tip - 1, 0))
        if ok.any():
            best = np.argsort(-reward[ok], kind="stable")
            self._send(j, t_us, coming.accounts[ok][best], np.zeros(int(ok.sum()), np.int64),
                       tip[ok][best], speculative=True)

    def _send(self, j: int, t_us: int, accounts: np.ndarray, bid: np.ndarray,
              tip: np.ndarray, speculative: bool = False) -> None:
        """Send bot ``j``'s attempts on ``accounts`` not already pending, the first ones
        first while it has room in ``max_pending``, after the bot's feed delay (or,
        ``speculative``, its aim past the oracle's poll at ``t_us``)."""
        cfg = self.cfgs[j]
        room = cfg.max_pending - int(self.in_flight[j])
        fresh = np.flatnonzero(~self.pending[j, accounts])[: max(room, 0)]
        accounts, bid, tip = accounts[fresh], bid[fresh], tip[fresh]
        if not len(accounts):
            return
        wait, net = self.delays[j].draw(accounts, cfg.aim if speculative else cfg.feed_latency,
                                        cfg.latency)
        submit = t_us + wait
        arrival = submit + net
        ids = self.txs.add_many(self.kind, j, submit, arrival, bid, accounts, tip)
        self.network.send(ids, arrival)
        self.pending[j, accounts] = True
        self.in_flight[j] += len(accounts)

    def on_executed(self, liquidator: np.ndarray, account: np.ndarray) -> None:
        ours = liquidator < len(self.cfgs)  # the operator's liquidations are not ours
        bots, accounts = liquidator[ours], account[ours]
        done = self.pending[bots, accounts]
        np.subtract.at(self.in_flight, bots[done], 1)
        self.pending[bots, accounts] = False
