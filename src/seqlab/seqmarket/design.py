"""The rollup's sequencer when it buys sequencing: the service in use, switched on time.

``MarketDesign`` is a design like any other to the rollup. Behind it, each segment of
the schedule runs a fresh instance of its service's design (an old service's queue and
internal state do not follow the rollup). Transactions reach the service in use
``latency`` after they reach the rollup's gateway. At a switch, those the old service
had received but not sequenced are stranded: their senders re-send them to the new
service when it starts, or force them in through the L1 delayed inbox. What the rollup
pays each service (per block and per transaction) is settled from its fee income.

Rights sold ahead (the auction) change hands differently: the winner of a slot is known
before it starts and builds from the rollup's mempool, as the outgoing one did, so at the
slot boundary what the outgoing one had not sequenced is handed over with its arrival
times (counted ``handed_over``, not stranded). A based service's preconfirmations for
slots after the rollup leaves it are stranded: counted, not slashed (``preconf``).
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Callable

import numpy as np

from seqlab.errors import SeqlabError
from seqlab.ledger import Ledger
from seqlab.protocols.perps import PPM
from seqlab.rollup.fees import NO_CAPABILITIES, ROLLUP_INCOME, Capabilities, pay_topped_up
from seqlab.rollup.inbox import DelayedInbox
from seqlab.scenario.loader import LoadedScenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.auction import Valuation
from seqlab.seqmarket.builder_books import builder_figures
from seqlab.seqmarket.policies import POLICIES, Policy, make_policy, ranking
from seqlab.seqmarket.rights import RightsBook
from seqlab.seqmarket.schedule import Planner, Schedule, plan
from seqlab.seqmarket.stress import RETURN_STEP, realised_vol
from seqlab.seqmarket.services import (check_services, service_sequencer, service_windows,
                                       sold_sequencer)
from seqlab.sequencing import make_design
from seqlab.sequencing.base import Blocks, Design, PendingQueue
from seqlab.sequencing.builders import BuildersDesign
from seqlab.sequencing.preconf import PromiseBook
from seqlab.sequencing.txview import TxView
from seqlab.txs import Kind, TxStore


class MarketDesign(Design):
    """Delegates to the service the schedule puts in use at each tick."""

    name = "market"

    def __init__(self, loaded: LoadedScenario, services: list[Service], schedule: Schedule,
                 txs: TxStore, policy: str,
                 replan: Callable[[Callable], Planner] | None = None,
                 windows: dict[str, np.ndarray] | None = None,
                 handover_every: int = 0) -> None:
        """``replan(price_at)``: for a policy that watches the market, its planner once the
        reference price is known (when the design is attached to the run); one that
        learns from the run (``learns``) is asked as the run reaches each epoch.
        ``windows``: each service's down windows, as the schedule saw them.
        ``handover_every``: switches at multiples of it (rights sold ahead, epoch by
        epoch) hand the outgoing service's queue over instead of stranding it (0: none)."""
        super().__init__(loaded.scenario.sequencer)
        self.replan = replan
        self.cfg_market = loaded.scenario.sequencing_market
        self.services = {s.name: s for s in services}
        self.schedule = schedule
        self.txs = txs
        self.policy = policy
        self.inbound = PendingQueue()  # reached the gateway, not yet the service in use
        self.inbox: DelayedInbox | None = None  # the rollup's, for stranded txs sent via L1
        self.view = None
        self.segment = -1
        self.active: Design | None = None
        self.given: list[np.ndarray] = []  # what the service in use has received
        self.given_at: list[np.ndarray] = []  # ...and when each reached the gateway
        self.stranded = 0
        self.handover_every = handover_every
        self.handed_over = 0
        self.promises: PromiseBook | None = None  # one book for every based segment
        self.promisers: list[Design] = []  # the based segments' designs, for their figures
        self.builder_segments: list[BuildersDesign] = []  # a builders service's, likewise
        self.paid = 0  # micro-USD paid to the services (settled after the run)
        self.rights = RightsBook(list(schedule.sales))  # an auction policy's sales
        self.planner: Planner | None = None  # a learning policy's, planned as the run goes
        self.sim = None
        self.on_down: Callable[[np.ndarray], None] | None = None
        self.blocks_by: dict[str, int] = {}  # blocks each service produced (settled)
        self.windows = windows or {}
        # which services gossip pending transactions where bots watch (fair ordering's
        # nodes do): the bots are wired to watch if any does, and hear only while it is
        # in use
        made = {s.name: make_design(service_sequencer(self.cfg, s)) for s in services}
        self.gossip = {name: d.public_mempool for name, d in made.items()}
        self.public_mempool = any(self.gossip.values())
        # independent builders trade from accounts opened when the world is built: as
        # many as the service with the most builders needs, shared by every segment that
        # runs one (a switch closes what they hold, as it does the hosted operator's)
        self.builders = max(d.builders for d in made.values())

    # the service in use ---------------------------------------------------------------
    def attach(self, view: object) -> None:
        self.view = view
        reference = getattr(view, "reference", None)
        if self.replan is not None and reference is not None:
            planner = self.replan(reference.at)
            policy = planner.policy
            if getattr(policy, "learns", False):
                self.planner = planner
                planner.advance(policy.ask_every)
                self.rights = RightsBook(policy.sales, policy.book)
                self.rights.begin(view)
            else:
                planner.advance(planner.horizon)
            self.schedule = planner.schedule()
            if self.planner is None:
                self.rights = RightsBook(list(self.schedule.sales))
        self._activate(0)

    def sell_as_run_goes(self, sim, on_down: Callable[[np.ndarray], None]) -> None:
        """A learning policy is asked at each epoch's start, once the run has shown what
        the epoch before realised; ``on_down(windows)`` hears the rollup's down windows
        whenever a new choice changes them."""
        if self.planner is None:
            return
        self.sim, self.on_down = sim, on_down
        every = self.planner.policy.ask_every
        if every < self.planner.horizon:
            sim.schedule(every, self._next_epoch)

    def _next_epoch(self) -> None:
        now, planner = self.sim.now, self.planner
        self.rights.end_epoch(self.view)
        every = planner.policy.ask_every
        planner.advance(now + every)
        down = self.schedule.down
        self.schedule = planner.schedule()
        if not np.array_equal(down, self.schedule.down):
            self.on_down(self.schedule.down)
        if now + every < planner.horizon:
            self.sim.schedule(now + every, self._next_epoch)

    def _activate(self, segment: int) -> None:
        """Put the segment's service in use; strand what the previous one still holds."""
        if segment == self.segment:
            return
        start = int(self.schedule.starts[segment])
        if self.active is not None:
            strand_promises = getattr(self.active, "strand_promises", None)
            if strand_promises is not None:
                strand_promises(start)
            self._strand(start)
            self._close_orphans(start)
        self.segment = segment
        svc = self.services[self.schedule.services[segment]]
        cfg = service_sequencer(self.cfg, svc)
        if self.handover_every:
            cfg = sold_sequencer(cfg, self.handover_every)
        design = make_design(cfg)
        self._share_promises(design)
        if isinstance(design, BuildersDesign):
            self.builder_segments.append(design)
        if self.view is not None:
            design.attach(dataclasses.replace(
                self.view, txs=TxView(self.txs, design.contents_visible,
                                      design.senders_visible)))
        begin = getattr(design, "begin", None)
        if begin is not None:
            begin(start)
        self.active, self.given, self.given_at = design, [], []

    def _share_promises(self, design: Design) -> None:
        """Every based segment books its preconfirmations in one book, so the run's
        figures (and the collateral's account) are the market's, not one segment's."""
        book = getattr(design, "book", None)
        if not isinstance(book, PromiseBook):
            return
        if self.promises is None:
            self.promises = book
        design.book = self.promises
        self.promisers.append(design)

    def _strand(self, start: int) -> None:
        given = np.concatenate(self.given) if self.given else np.empty(0, np.int64)
        given_at = np.concatenate(self.given_at) if self.given else np.empty(0, np.int64)
        waiting = self.txs.included_us[given] < 0
        left, left_at = given[waiting], given_at[waiting]
        if self.handover_every and start % self.handover_every == 0:
            self.handed_over += len(left)  # in the mempool the next winner builds from
            self._enqueue(left, left_at)
            return
        left = np.sort(left)
        self.stranded += len(left)
        if not len(left):
            return
        at = np.full(len(left), start, dtype=np.int64)
        if self.cfg_market.stranded == "l1" and self.inbox is not None:
            self.inbox.post(left, at)
            return
        self._enqueue(left, at)

    def _close_orphans(self, start: int) -> None:
        """Close what the old service's hosted operator still holds: its strategy state
        (an open stale-price trade waiting for its update) does not follow the rollup,
        so the position would stay open, a naked bet, to the end of the run. The close
        goes to the new service like a re-sent transaction."""
        if self.view is None:
            return
        p = self.view.protocol
        accounts = [a for party in self.view.accounts.parties
                    for a in (party.stale, party.sandwich) if p.size[a] != 0]
        if accounts:
            ids = np.array([self.view.insert(Kind.CLOSE, a, start) for a in accounts],
                           dtype=np.int64)
            self._enqueue(ids, np.full(len(ids), start, dtype=np.int64))

    def _enqueue(self, ids: np.ndarray, arrival: np.ndarray) -> None:
        """Add transactions to those on their way to the service, keeping arrival order."""
        ids = np.r_[ids, self.inbound.ids]
        arrival = np.r_[arrival, self.inbound.arrival]
        order = np.lexsort((ids, arrival))
        self.inbound = PendingQueue()
        self.inbound.add(ids[order], arrival[order])

    def _feed(self, until: int) -> None:
        """Hand the service in use what has reached it by ``until``."""
        hop = self.services[self.schedule.services[self.segment]].latency
        n = self.inbound.arrived_by(until - hop)
        if n:
            ids, arrival = self.inbound.ids[:n], self.inbound.arrival[:n] + hop
            self.inbound.drop_head(n)
            self.active.receive(ids, arrival)
            self.given.append(ids)
            self.given_at.append(arrival - hop)

    # the design interface ---------------------------------------------------------------
    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        self.inbound.add(ids, arrival_us)

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        if self.rights.carried:
            self.rights.watch(self.view)
        seg = self.schedule.segment_at(ticks)
        cuts = np.flatnonzero(np.diff(seg)) + 1
        ids, index = [], []
        for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(ticks)]):
            self._activate(int(seg[lo]))
            self._feed(int(ticks[hi - 1]))
            part = self.active.build_blocks(ticks[lo:hi])
            ids.append(part.ids)
            index.append(part.tick_index + lo)
        return Blocks(np.concatenate(ids).astype(np.int64), np.concatenate(index)
                      .astype(np.int64))

    def pending(self) -> int:
        return len(self.inbound) + self.active.pending()

    def gossips(self, t_us: int) -> bool:
        seg = int(self.schedule.segment_at(np.array([t_us], dtype=np.int64))[0])
        return self.gossip[self.schedule.services[max(seg, 0)]]

    def commits_by(self, t_us: int) -> bool:
        return self.active.commits_by(t_us)

    def active_capabilities(self) -> Capabilities:
        """The service in use sells what its design declares (fees, auctions, batches)."""
        return NO_CAPABILITIES if self.active is None else self.active.capabilities

    def honours_bundles(self, t_us: int) -> bool:
        return self.active.honours_bundles(t_us)

    def admit_delayed(self, ids: np.ndarray, ready_us: np.ndarray, now: int) -> int:
        return self.active.admit_delayed(ids, ready_us, now)

    def take_overdue(self, deadline_us: int) -> np.ndarray:
        late = self.inbound.ids[self.inbound.arrival <= deadline_us]
        if len(late):
            self.inbound.remove(late)
        return np.r_[late, self.active.take_overdue(deadline_us)].astype(np.int64)

    # what it cost, what happened ------------------------------------------------------------
    def settle(self, ledger: Ledger, payer: int, blocks: dict[str, np.ndarray]) -> int:
        """Pay each service for the blocks it produced (per block and per transaction),
        out of ``payer`` (the protocol's fees), and what they lack out of the rollup's
        other income (``ROLLUP_INCOME``); returns micro-USD paid."""
        seg = self.schedule.segment_at(blocks["t_us"])
        names = self.schedule.services
        owed = 0
        for k, name in enumerate(names):
            mine = seg == k
            svc = self.services[name]
            self.blocks_by[name] = self.blocks_by.get(name, 0) + int(mine.sum())
            owed += int(round((mine.sum() * svc.price_per_block_usd
                               + blocks["n_txs"][mine].sum() * svc.price_per_tx_usd) * PPM))
        if owed:
            pay_topped_up(ledger, payer, ledger.open("sequencing services"), owed,
                          "sequencing", ROLLUP_INCOME)
        self.paid = owed
        if self.rights.sales and self.view is not None:
            self.rights.settle(ledger, self.view)
        return owed

    def metrics(self, horizon: int) -> dict:
        s = self.schedule
        ends = np.r_[s.starts[1:], horizon].clip(0, horizon)
        time_by: dict[str, float] = {}
        for name, lo, hi in zip(s.services, s.starts.clip(0, horizon), ends):
            time_by[name] = round(time_by.get(name, 0.0) + float(hi - lo) / 1e6, 3)
        market = {"policy": self.policy, "switches": len(s.services) - 1,
                  "first_service": s.services[0], "service_time_s": time_by,
                  "service_blocks": dict(self.blocks_by),
                  "stranded": self.stranded, "handed_over": self.handed_over,
                  "sequencing_cost_usd": round(self.paid / PPM, 2)}
        if self.rights.sales:
            market["auction"] = self.rights.metrics()
        if self.promisers:
            market["preconf"] = self._preconf_figures()
        builders = builder_figures(self.builder_segments, horizon)
        if builders:
            market["builders"] = builders
        return {"market": market}

    def _preconf_figures(self) -> dict:
        """The based segments' block counts, summed, and their preconfirmations: how
        many, how fast, and how each ended (kept, broken and slashed, stranded by a
        switch, or open at the end)."""
        figures: dict = {}
        for design in self.promisers:
            for key, n in design.counts.items():
                figures[key] = figures.get(key, 0) + n
        received = sum(d.received for d in self.promisers)
        figures.update(self.promises.metrics(self.txs, received, self.promisers[0].slot_us))
        return figures


def market_design(loaded: LoadedScenario, seed: int, txs: TxStore, rollup: int = 0,
                  outages: bool = True) -> MarketDesign:
    """The rollup's sequencer under ``[sequencing_market]``: its services, its policy's
    schedule over their outages (``outages=False``: none, the offers unchanged, so the
    policies choose as they would but no service fails)."""
    sc, file = loaded.scenario, loaded.source
    cfg = sc.sequencing_market
    if sc.protocol.kind != "perps":
        raise SeqlabError("a sequencing market needs protocol.kind = 'perps'", file=file,
                          field="sequencing_market.enabled", allowed="false")
    if sc.rollups.count > 1 and sc.rollups.sequencing != "isolated":
        raise SeqlabError("a sequencing market is bought per rollup", file=file,
                          field="rollups.sequencing", allowed="isolated")
    if sc.sequencer.outages or sc.sequencer.outage_rate_per_day:
        raise SeqlabError("under a sequencing market outages belong to services", file=file,
                          field="sequencer.outages", allowed="none (set them per service)")
    if len(cfg.policies) > sc.rollups.count:
        raise SeqlabError(f"{len(cfg.policies)} policies for {sc.rollups.count} rollup(s)",
                          file=file, field="sequencing_market.policies",
                          allowed=f"at most one policy per rollup ({sc.rollups.count})")
    name = cfg.policies[rollup] if rollup < len(cfg.policies) else cfg.policy
    if name not in POLICIES:
        raise SeqlabError(f"unknown policy '{name}'", file=file,
                          field="sequencing_market.policy", allowed=", ".join(POLICIES))
    services = check_services(cfg, file)
    windows = {s.name: service_windows(s, sc.sequencer, sc.duration, seed) if outages
               else np.empty((0, 2), dtype=np.int64) for s in services}
    home = rollup_home(services, cfg, rollup)
    tr = sc.agents.traders
    make = partial(_policy, name, cfg, Valuation(
        tr.rate_per_s * tr.tip_usd * float(np.exp(tr.tip_sigma ** 2 / 2))), seed)
    policy = make()
    check = getattr(policy, "check", None)
    if check is not None:
        check(services, file)
    schedule = plan(services, windows, policy, cfg.timeout, _switch_delay(policy, cfg),
                    sc.duration, home=home)
    watch = getattr(policy, "watch_window", None)
    replan = None if watch is None else partial(_watching_plan, services, windows, make, cfg,
                                                sc.duration, watch, home)
    handover = cfg.auction_epoch if getattr(policy, "sold_ahead", False) else 0
    return MarketDesign(loaded, services, schedule, txs, name, replan, windows, handover)


def rollup_home(services: list[Service], cfg: SequencingMarket, rollup: int) -> str | None:
    """The service rollup ``rollup`` ranks first when the market spreads its customers
    (``spread`` > 1): the ``rollup mod spread``-th best-scoring one. Unspread (None),
    every rollup ranks the offers alike and, with one set of weights, all buy from the
    same service: the concentration a market of identical needs drifts to."""
    if cfg.spread <= 1:
        return None
    return ranking(services, cfg)[rollup % cfg.spread]


def _policy(name: str, cfg: SequencingMarket, valuation: Valuation, seed: int) -> Policy:
    """A fresh policy; one that prices the rollup's sequencing (``bind``) learns the
    market's public order flow and the run's seed."""
    policy = make_policy(name, cfg)
    bind = getattr(policy, "bind", None)
    if bind is not None:
        bind(valuation, seed)
    return policy


def _switch_delay(policy: Policy, cfg: SequencingMarket) -> int:
    """Rights sold ahead of time (``sold_ahead``) start on time; other switches wait."""
    return 0 if getattr(policy, "sold_ahead", False) else cfg.switch_delay


def _watching_plan(services: list[Service], windows: dict[str, np.ndarray],
                   make: Callable[[], Policy], cfg: SequencingMarket, horizon: int,
                   window: int, home: str | None, price_at: Callable) -> Planner:
    """The planner of a policy that watches realised volatility over ``window``: asked
    every return step (or its own ``ask_every``), with a fresh policy (a policy may keep
    state across asks)."""
    policy = make()
    return Planner(services, windows, policy, cfg.timeout, _switch_delay(policy, cfg),
                   horizon, lambda t: realised_vol(price_at, t, window),
                   getattr(policy, "ask_every", RETURN_STEP), home)
