"""The perps product assembled on a world (``[protocol] kind = "perps"``).

The world makes what every run has (kernel, ledger, network, design); this module builds
everything that is the perp market's: who holds which account (users, the sequencing
side, the bots), their funds, the rollup's fee market on the sequencing side's accounts,
the operator's view of the market, the oracle feed's updates as transactions and the
rule for which price a trade may use, the users' order flow, the agents that react to
the block feed (``agents.perps_feed``), the protocols attached to the market (options,
a live spot venue), the recapture auction and the rollup's L1 side. The order of every
step is part of each pinned result: the ledger lists accounts, and the kernel breaks
ties between events, in the order they were made.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from seqlab.agents.hedgers import Hedgers
from seqlab.agents.keepers import Keepers
from seqlab.agents.liquidators import Costs, Liquidators, population
from seqlab.agents.perps_feed import PerpsAgents
from seqlab.agents.race import executed
from seqlab.agents.reactive import MarginManagers
from seqlab.agents.recourse import Channels, InboxFee, Recourse
from seqlab.agents.traders import Accounts, Flow, draw_accounts, perp_order_flow
from seqlab.accounts import OperatorAccounts
from seqlab.ledger import Ledger
from seqlab.metrics.perps import PerpsRun
from seqlab.network import sample_latency
from seqlab.oracle.fallback import Fallback
from seqlab.oracle.pull import carried
from seqlab.oracle.recapture import Bidder, RecaptureAuction
from seqlab.outages import uptime_feed
from seqlab.protocols import attached, make_protocol
from seqlab.protocols.keeper_venue import KeeperVenue
from seqlab.protocols.liquidation import reward_rate
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.protocols.perps_quiet import QuietBlocks
from seqlab.protocols.perps_stretch import PerpsStretch
from seqlab.protocols.port import ProtocolPort, RunEnd
from seqlab.protocols.price_rule import PriceRule
from seqlab.rollup.fees import FeeMarket, SequencerAccounts
from seqlab.rollup.gas import GasMarket, gas_price_gwei
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.txview import TxView
from seqlab.txs import Kind

if TYPE_CHECKING:  # the world being assembled (it imports the registry, not this)
    from seqlab.world import World


def assemble(world: World) -> PerpsProtocol:
    """The registry's factory: the perps market and everything around it, on ``world``."""
    return PerpsAssembly(world).protocol


class PerpsAssembly(PerpsAgents):
    """The perps market with its traders, bots, keepers and margin managers, and the
    protocols attached to it, built on ``world`` (a ``seqlab.world.World``), which reads
    what is built here as its own attributes (``world.operator_accounts``)."""

    def __init__(self, world: World) -> None:
        self.world = world
        sc = self.sc = world.sc
        tr = sc.agents.traders
        reference = world.reference_price()
        accounts = draw_accounts(tr, world.sim.rng("accounts"))
        self.leverage = accounts.leverage
        self.users = tr.accounts
        bots = population(sc.agents.liquidators, sc.protocol.perps)
        self.operator_accounts = OperatorAccounts.after(self.users, len(bots),
                                                        world.design.builders)
        names = [liq.name for liq in bots] + self.operator_accounts.liquidator_names
        total = self.total = self.operator_accounts.next_free + world.extra_accounts
        protocol = PerpsProtocol(sc.protocol.perps, world.ledger, world.txs, total, names,
                                 rollup_accounts=self._open_rollup_accounts)
        super().__init__(protocol, world.ledger, world.txs, reference, bots)
        world.assembly, world.protocol = self, protocol  # the host its attached protocols find
        self.options: ProtocolPort | None = None  # the options market beside it, once attached
        self.recourses: list[Recourse | None] = []
        self.inbox_fee: InboxFee | None = None
        self.oracle_submit_us = np.empty(0, dtype=np.int64)
        capital = sc.sequencer.strategy.capital_usd
        arb = np.full(world.extra_accounts, sc.agents.arbitrageurs.capital_usd)
        own = self.operator_accounts.trading_accounts
        protocol.fund_accounts(np.r_[accounts.collateral_usd, np.full(own, capital), arb],
                               np.r_[accounts.wallet_usd, np.zeros(own), np.zeros_like(arb)])
        # the rollup's fee market: its tips and auction payments, on the sequencer side's
        # accounts; auction payments run as transactions at their place in the block
        self.fees = FeeMarket(self.ledger, self.txs, self.sequencer_side, protocol.payer,
                              protocol.payers)
        protocol.attach(self.fees)
        self.ledger.transfer(0, self.fees.accounts.searchers, int(round(capital * PPM)),
                             "deposit")
        design = world.design
        self.design_view = OperatorView(protocol,
                                        TxView(self.txs, design.contents_visible,
                                               design.senders_visible),
                                        self.operator_accounts, world.sim.seed, reference,
                                        sealed_updates=sc.oracle.firewalled,
                                        oracle=sc.oracle if sc.oracle.enabled else None,
                                        sequencer_side=self.fees.accounts)
        design.attach(self.design_view)
        self._fund_liquidators()
        self.feed = world.feed
        self.deviation = self.feed.deviation
        self._start(accounts)

    def _open_rollup_accounts(self, ledger: Ledger) -> None:
        """The rollup's fee market accounts, opened where the market's constructor asks:
        right after its own, before the chain's gas and the oracle's accounts (the ledger
        lists balances in opening order, and the run's digest reads them so)."""
        self.sequencer_side = SequencerAccounts.open(ledger)

    def _start(self, accounts: Accounts) -> None:
        """The order flow and the oracle's updates, the rollup, and the agents on its
        block feed; then the attached protocols and the rollup's L1 side."""
        world, sc, p = self.world, self.sc, self.protocol
        tr = sc.agents.traders
        flow = perp_order_flow(tr, accounts, world.horizon, world.sim.rng("traders"))
        self.hedgers = Hedgers(sc.agents.hedgers, sc.agents.margin_managers, sc.sequencer,
                               world.sim, self.txs, world.network, self.ledger, tr.accounts,
                               accounts.collateral_usd) if sc.agents.hedgers.share > 0 else None
        if self.hedgers is not None:
            flow = self.hedgers.without_hedgers(flow, tr.accounts)
            p.outside = (self.hedgers.who, self.hedgers.outside, self.hedgers.deposit)
        flow_arrival = self._preload_oracle(flow) if sc.oracle.enabled else None
        world.preload(flow.kind, flow.account, flow.submit_us, tr.latency, "traders.latency",
                      flow.a, tip=flow.tip, arrival=flow_arrival)
        rollup = world.start_rollup(p, fees=self.fees)
        world.open_inbox()
        total = self.total
        self.managers = MarginManagers(sc.agents.margin_managers, sc.sequencer, world.sim,
                                       self.txs, world.network, total, self.users,
                                       recourse=self.recourse("margin", total, Kind.TOPUP,
                                                              Kind.CLOSE, p.wallet))
        if self.hedgers is not None:  # a hedger keeps its margin up
            self.managers.managed[self.hedgers.who] = True
        self.liquidators = Liquidators(
            self.bots, world.sim, self.txs, world.network, total,
            Costs(self.reward, reward_rate(sc.protocol.perps), self.bot_profit),
            world.horizon)
        self.liquidators.start(self.scan, self.forecast if sc.oracle.enabled else None,
                               self.feed.interval, int(round(sc.oracle.tip_usd * PPM)))
        self.keepers = self._build_keepers() if sc.protocol.perps.liquidation == "dutch" \
            else None
        rollup.subscribe(self.on_block)
        rollup.on_refused(self.on_refused)
        world.attached = {name: make_protocol(name, world) for name in attached("perps", sc)}
        if sc.oracle.enabled and sc.oracle.recapture.enabled:
            self._build_recapture()
        seq = sc.sequencer
        world.outage_listeners.append(lambda windows: p.set_sentinel(
            uptime_feed(windows, seq.l1_block_time, seq.inbox_delay),
            sc.protocol.perps.grace_period))
        world.schedule_downtime()
        if world.design.public_mempool and not sc.oracle.firewalled:
            self._watch_public_updates()
        if self.hedgers is not None:  # agents with a leg off the chain: the run's own
            world.at_end(self._settle_hedgers, self._report_hedgers)
        p.run_record = self._perps_run()
        rollup.use_shortcut(QuietBlocks(self))  # last: they ask what is attached
        rollup.use_runner(PerpsStretch(self, rollup))

    def on_refused(self, restart_us: int, ids: np.ndarray) -> None:
        """At the restart, senders learn that the down sequencer refused ``ids``: margin
        managers and bots stop waiting for them and act again on the next block as they
        would on any (after their own feed and reaction delays); the oracle's
        transmitter sends its newest refused report again, reaching the sequencer as it
        restarts, since the on-chain price it watches is as old as the outage (a push
        feed updates when the off-chain price deviates from the one on chain). Noise
        traders' refused orders lapse."""
        txs = self.txs
        kind = txs.kind[ids]
        executed(txs, ids, kind, self.managers, self.liquidators)
        updates = ids[kind == Kind.ORACLE]
        if len(updates) and not self.feed.attached:
            last = updates[np.argmax(txs.b[updates])]
            at = np.array([restart_us], dtype=np.int64)
            again = txs.add_many(Kind.ORACLE, txs.sender[last], at, at, txs.a[last],
                                 txs.b[last], txs.tip[last])
            self.world.network.send(again, at)

    def _preload_oracle(self, flow: Flow) -> np.ndarray | None:
        """The feed's updates as transactions; returns the order flow's arrival times when
        updates ride in the orders (pull), None when the flow draws its own later.

        Push: each posting is the transmitter's own transaction. Pull: the first order
        after each publication carries it, arriving with it and placed just ahead of it
        (preloaded first, so ties by arrival go the update's way)."""
        world, sc = self.world, self.sc
        pubs = self.feed.publications(self.reference.at, world.horizon, world.sim.rng("oracle"))
        arrival = None
        if self.feed.attached:
            arrival = flow.submit_us + sample_latency(world.sim.rng("traders.latency"),
                                                      sc.agents.traders.latency,
                                                      len(flow.submit_us))
            orders, seqs = carried(pubs.submit_us, flow.submit_us)
            submit, upd_arrival = flow.submit_us[orders], arrival[orders]
        else:
            seqs = np.arange(len(pubs.submit_us))
            submit, upd_arrival = pubs.submit_us, None
        self.oracle_submit_us = submit
        tip = int(round(sc.oracle.tip_usd * PPM))
        # the transmitter's (or the carrying users') gas budget for the run: a tip an update
        self.ledger.transfer(0, self.protocol.oracle_payer, tip * len(submit), "deposit")
        world.preload(Kind.ORACLE, 0, submit, sc.oracle.latency, "oracle.latency",
                      pubs.price_micro[seqs], np.arange(len(seqs)), tip, upd_arrival)
        perps = sc.protocol.perps
        if self.feed.attached or perps.order_execution == "delayed":
            self.protocol.set_price_rule(PriceRule(
                pubs.submit_us[seqs], max_age=sc.oracle.max_age if self.feed.attached else 0,
                keep_newest=self.feed.attached, delayed=perps.order_execution == "delayed",
                min_delay=perps.min_delay, max_delay=perps.max_delay),
                int(round(perps.settlement_keeper_fee_usd * PPM)))
            self.protocol.refuse_stale_liquidations = sc.oracle.max_age_liquidations
        return arrival

    def _build_recapture(self) -> None:
        """The auction for each update's backrun: the outside bots paid per liquidation
        bid (the protocol's own keeper does not), each while up and within its loss
        limit; the design says whether a block keeps a separate bundle together."""
        p = self.protocol
        bidders = [Bidder(j, int(p.attempt_gas[j]), int(round(bot.min_profit_usd * PPM)))
                   for j, bot in enumerate(self.bots) if bot.strategy != "protocol"]
        self.recapture = RecaptureAuction(self.sc.oracle.recapture, p, bidders,
                                          self.liquidators.active, len(self.bots),
                                          self.world.design.honours_bundles, self.options)
        p.bundle = self.recapture
        delay = self.sc.oracle.recapture.fallback_delay
        if delay and not self.feed.attached:  # SVR and Oval wrap a push feed
            txs = self.txs
            ids = np.flatnonzero(txs.column("kind") == Kind.ORACLE)
            ids = ids[np.argsort(txs.b[ids], kind="stable")]  # by round
            p.fallback = Fallback(txs.arrival_us[ids], txs.a[ids], delay)

    def recourse(self, name: str, accounts: int, kind: Kind, close_kind: Kind | None,
                 wallets: np.ndarray) -> Recourse | None:
        """Recourse for one group of margin managers (None when switched off); users pay
        a delayed-inbox message's L1 gas at the batch poster's gas price."""
        world = self.world
        cfg = self.sc.agents.margin_managers
        if not cfg.recourse.enabled:
            self.recourses.append(None)
            return None
        seq, base, start = self.sc.sequencer, world.loaded.base_dir, self.sc.market.start
        if self.inbox_fee is None:
            self.inbox_fee = InboxFee(self.ledger, cfg.recourse.inbox_gas,
                                      lambda t: gas_price_gwei(seq.batch_poster, t, base, start),
                                      self.reference.at)
        channels = Channels(world.network, world.rollup.inbox, world.rollup.nonces,
                            self.inbox_fee, wallets)
        recourse = Recourse(cfg.recourse, cfg.latency, world.sim.seed, name, accounts, self.txs,
                            channels, kind, close_kind, world.design.capabilities.tips)
        self.recourses.append(recourse)
        return recourse

    def _fund_liquidators(self) -> None:
        """Each outside bot starts with its capital (for gas, tips and, under Dutch
        auctions, the lots it buys) and pays gas per attempt; the operator's liquidator
        identities pay none."""
        bots, p = self.bots, self.protocol
        p.fund_liquidators(0, [b.capital_usd for b in bots])
        for j, bot in enumerate(bots):
            p.attempt_gas[j] = int(round(bot.gas_usd * PPM))

    def _build_keepers(self) -> Keepers:
        """Dutch auctions: keepers bring capital (the operator's identities its strategy
        capital), sell on the L2 venue and, with congestion, pay the day's gas."""
        world, sc, p = self.world, self.sc, self.protocol
        bots, d = self.bots, sc.protocol.perps.dutch
        own = self.operator_accounts.identities  # the operator's and builders' identities
        p.fund_liquidators(own[0], [sc.sequencer.strategy.capital_usd] * len(own))
        p.liquidation.venue = KeeperVenue(sc.market.venue_depth_usd, sc.market.arb_half_life)
        gas = GasMarket(sc.sequencer.batch_poster, world.loaded.base_dir, sc.market.start) \
            if d.congestion else None
        keepers = Keepers(bots, d, gas, world.sim.rng("keepers.inclusion") if gas else None,
                          sc.sequencer.l1_block_time, world.horizon)
        if gas is not None:
            p.liquidation.gas = lambda j, t: keepers.gas_cost(j, t, p.price)
        return keepers

    def _watch_public_updates(self) -> None:
        """Where the design gossips pending txs, bots see an oracle update when it reaches
        the nodes, not only once it is executed: backrunning becomes a public race (not
        on a firewalled oracle network, whose updates travel on their own path)."""
        txs, sim = self.txs, self.world.sim
        oracle = np.flatnonzero(txs.column("kind") == Kind.ORACLE)
        for tx in oracle.tolist():
            sim.schedule(int(txs.arrival_us[tx]), self._on_pending_update, int(txs.a[tx]))

    def _on_pending_update(self, price: int) -> None:
        now = self.world.sim.now
        if not self.world.design.gossips(now):
            return
        _, notional = self.protocol.margin_state(price)
        self.liquidators.on_block(now, self.protocol.liquidatable(price), notional)

    def _settle_hedgers(self, end: RunEnd) -> None:
        """The hedgers close their off-chain legs at the reference when the run ends."""
        self.hedgers.settle(end.mark_micro(), end.t_us)

    def _report_hedgers(self, end: RunEnd, summary: dict, tables: dict) -> None:
        """The hedgers' figures, and which user accounts are theirs."""
        summary["hedgers"] = self.hedgers.summary(
            self.protocol, tables["liquidations"]["account"], end.mark_micro(), self.users)
        tables["accounts"]["hedger"] = self.hedgers.is_hedger(self.users)

    def _perps_run(self) -> PerpsRun:
        """Who is who in this perps run, as its metrics read it: named once the world
        around the protocol is assembled (every account and bot funded), read by the
        protocol's report at the end."""
        sc = self.sc
        names = [c.name for c in self.bots] + self.operator_accounts.liquidator_names
        return PerpsRun(self.protocol, self.ledger, self.txs, self.reference, names,
                        self.operator_accounts, self.users,
                        int(round(sc.sequencer.strategy.capital_usd * PPM)),
                        self.oracle_submit_us, self.world.horizon, sc.market.step,
                        self.managers.managed, self.leverage, self.fees.accounts,
                        sc.market.venue_depth_usd,
                        sc.market.arb_half_life,
                        tuple(c.strategy for c in self.bots),
                        tuple(int(c) for c in self.protocol.keeper_capital[: len(self.bots)]),
                        self.recourses, self.inbox_fee)
