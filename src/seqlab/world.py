"""Build a world from a scenario and run it: the one place components are wired together.

``World`` creates the kernel, the reference price, the oracle feed, the order flow, the
network, the sequencer design, the rollup and the protocol, runs the kernel to the
scenario's horizon, checks the ledger and returns a ``Result``. Each component draws
from its own named random stream, so two designs run on the same scenario and seed see
the same prices, the same order flow and the same oracle decisions.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from seqlab.agents.hedgers import Hedgers
from seqlab.agents.keepers import Keepers, discount_bids
from seqlab.agents.liquidators import Costs, Expected, Liquidators, population
from seqlab.agents.reactive import MarginManagers
from seqlab.agents.recourse import Channels, InboxFee, Recourse
from seqlab.agents.traders import draw_accounts, option_flow, perp_order_flow, position_flow
from seqlab.kernel import Scope, Simulation
from seqlab.ledger import Ledger
from seqlab.market import ReferencePrice, build_reference
from seqlab.market.reserves import venue_depth_usd
from seqlab.metrics.core import digest, latency_stats_ms
from seqlab.metrics.perps import PerpsRun
from seqlab.network import Network, sample_latency
from seqlab.oracle import make_feed
from seqlab.oracle.pull import carried
from seqlab.oracle.fallback import Fallback
from seqlab.oracle.recapture import Bidder, RecaptureAuction
from seqlab.protocols import attached, make_protocol
from seqlab.protocols.keeper_venue import KeeperVenue
from seqlab.protocols.spot_venue import SpotVenue
from seqlab.protocols.options import OptionsProtocol
from seqlab.protocols.liquidation import reward_rate
from seqlab.protocols.perps import PPM, PerpsProtocol
from seqlab.protocols.price_rule import PriceRule
from seqlab.protocols.port import ProtocolPort, RunEnd
from seqlab.protocols.positions import PositionsProtocol
from seqlab.result import Result
from seqlab.rollup.chain import Rollup
from seqlab.rollup.fees import FeeMarket
from seqlab.rollup.gas import GasMarket, gas_price_gwei
from seqlab.rollup.inbox import DelayedInbox
from seqlab.rollup.poster import Batches, post_batches, posting_cost_micro
from seqlab.rollup.prover import Proofs, optimistic_withdrawals, proof_summary, prove
from seqlab.outages import outage_windows, uptime_feed
from seqlab.scenario.loader import LoadedScenario
from seqlab.seqmarket import MarketDesign, market_design
from seqlab.sequencing import make_design
from seqlab.accounts import OperatorAccounts
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.shared import SharedSequencer
from seqlab.sequencing.txview import TxView
from seqlab.txs import Kind, Status, TxStore

Progress = Callable[[int, int], None]


def throttled(progress: Progress | None, horizon: int) -> Callable[[int], None] | None:
    """A per-tick callback that reports ``progress(t, horizon)`` about 200 times a run:
    ticks are far too many to redraw a bar for each."""
    if progress is None:
        return None
    step = max(horizon // 200, 1)
    marks = {"next": 0}

    def report(t_us: int) -> None:
        if t_us >= marks["next"]:
            marks["next"] = t_us + step
            progress(min(t_us, horizon), horizon)

    return report


class World:
    """One scenario, one seed, one design: build, run, measure."""

    def __init__(self, loaded: LoadedScenario, seed: int | None = None, *,
                 sim: Simulation | Scope | None = None, reference: ReferencePrice | None = None,
                 extra_accounts: int = 0, scheduled_outages: bool = True,
                 rollup: int = 0, service_outages: bool = True,
                 shared: SharedSequencer | None = None) -> None:
        """``sim``, ``reference``, ``extra_accounts``, ``scheduled_outages``, ``rollup``
        and ``shared`` are for a rollup inside a several-rollup world: the shared kernel
        (with this rollup's own streams), the shared market, accounts for the cross-rollup
        arbitrageurs, whether the scenario's scheduled outages hit this rollup's
        sequencer, which rollup it is (its sequencing-market policy) and the sequencer
        it shares with the others, if it does (it takes its seat there once assembled).
        ``service_outages=False``: no sequencing service fails (a market's baseline)."""
        self.loaded = loaded
        self.sc = loaded.scenario
        self.seed = self.sc.seed if seed is None else int(seed)
        self.sim = Simulation(self.seed) if sim is None else sim
        self.given_reference = reference
        self.extra_accounts = extra_accounts
        self.scheduled_outages = scheduled_outages
        self.shared = shared
        self.ledger = Ledger()
        self.txs = TxStore()
        self.network = Network()
        self.design = market_design(loaded, self.seed, self.txs, rollup, service_outages) \
            if self.sc.sequencing_market.enabled else make_design(self.sc.sequencer)
        self.horizon = self.sc.duration
        self.oracle_submit_us = np.empty(0, dtype=np.int64)
        self.outages = np.empty((0, 2), dtype=np.int64)
        self.batches: Batches | None = None
        self.proofs: Proofs | None = None
        self.recapture: RecaptureAuction | None = None
        self.l1_cost = 0
        self.inbox_fee: InboxFee | None = None
        self.recourses: list[Recourse | None] = []
        self.reference: ReferencePrice | None = None
        self.attached: dict[str, ProtocolPort] = {}  # protocols run inside its blocks
        self.fees: FeeMarket | None = None  # the rollup's fee market (perps worlds)
        self.hedgers: Hedgers | None = None  # users hedging an off-chain leg (perps worlds)
        self.protocol = make_protocol(self.sc.protocol.kind, self)

    # building -------------------------------------------------------------------------
    def preload(self, kind, sender, submit: np.ndarray, latency_cfg, stream: str,
                a=0, b=0, tip=0, arrival: np.ndarray | None = None) -> None:
        """Add a protocol's order flow to the transaction store and hand it to the
        network; arrival times are drawn from the named ``stream`` unless given."""
        if arrival is None:
            arrival = submit + sample_latency(self.sim.rng(stream), latency_cfg, len(submit))
        ids = self.txs.add_many(kind, sender, submit, arrival, a, b, tip)
        self.network.preload(ids, arrival)

    def start_rollup(self, protocol: ProtocolPort, drain: bool = False) -> Rollup:
        """The rollup that runs ``protocol`` under the scenario's design (``drain``: run
        until every transaction is in, not to the horizon)."""
        self.rollup = Rollup(self.sim, self.design, self.network, self.txs, protocol,
                             self.horizon, drain=drain, fees=self.fees)
        self.rollup.while_down = self.sc.sequencer.while_down
        return self.rollup

    def build_positions(self) -> PositionsProtocol:
        """The benchmark protocol and its order flow (``[protocol] kind = "positions"``)."""
        tr, pos = self.sc.agents.traders, self.sc.protocol.positions
        flow = position_flow(tr, self.horizon, pos.max_qty, self.sim.rng("traders"))
        self.txs = TxStore(len(flow.submit_us))
        protocol = PositionsProtocol(self.ledger, self.txs, tr.accounts,
                                     int(round(pos.fee_usd * PPM)), 1_000 * PPM)
        self.preload(flow.kind, flow.account, flow.submit_us, tr.latency, "traders.latency",
                      flow.a)
        self.start_rollup(protocol, drain=tr.max_txs is not None)
        return protocol

    def build_perps(self) -> PerpsProtocol:
        """The perps market with its traders, bots, keepers and margin managers, and the
        protocols attached to it (``[protocol] kind = "perps"``)."""
        sc = self.sc
        tr = sc.agents.traders
        self.reference = self.given_reference or build_reference(
            sc.market, self.horizon, self.sim, self.loaded.base_dir)
        accounts = draw_accounts(tr, self.sim.rng("accounts"))
        self.leverage = accounts.leverage
        self.users = tr.accounts
        self.bots = population(sc.agents.liquidators, sc.protocol.perps)
        self.operator_accounts = OperatorAccounts.after(self.users, len(self.bots),
                                                        self.design.builders)
        names = [liq.name for liq in self.bots] + self.operator_accounts.liquidator_names
        total = self.operator_accounts.next_free + self.extra_accounts
        self.protocol = PerpsProtocol(sc.protocol.perps, self.ledger, self.txs, total, names)
        capital = sc.sequencer.strategy.capital_usd
        arb = np.full(self.extra_accounts, sc.agents.arbitrageurs.capital_usd)
        own = self.operator_accounts.trading_accounts
        self.protocol.fund_accounts(np.r_[accounts.collateral_usd, np.full(own, capital), arb],
                                    np.r_[accounts.wallet_usd, np.zeros(own), np.zeros_like(arb)])
        # the rollup's fee market: its tips and auction payments, on the sequencer side's
        # accounts; auction payments run as transactions at their place in the block
        self.fees = FeeMarket(self.ledger, self.txs, self.protocol.sequencer_side,
                              self.protocol.payer)
        self.protocol.attach(self.fees)
        self.ledger.transfer(0, self.fees.accounts.searchers, int(round(capital * PPM)),
                             "deposit")
        self.design_view = OperatorView(self.protocol,
                                        TxView(self.txs, self.design.contents_visible,
                                               self.design.senders_visible),
                                        self.operator_accounts, self.sim.seed, self.reference,
                                        sealed_updates=sc.oracle.firewalled,
                                        oracle=sc.oracle if sc.oracle.enabled else None,
                                        sequencer_side=self.fees.accounts)
        self.design.attach(self.design_view)
        self._fund_liquidators()
        self.feed = make_feed(sc.oracle)
        flow = perp_order_flow(tr, accounts, self.horizon, self.sim.rng("traders"))
        self.hedgers = Hedgers(sc.agents.hedgers, sc.agents.margin_managers, sc.sequencer,
                               self.sim, self.txs, self.network, self.ledger, tr.accounts,
                               accounts.collateral_usd) if sc.agents.hedgers.share > 0 else None
        if self.hedgers is not None:
            flow = self.hedgers.without_hedgers(flow, tr.accounts)
            self.protocol.outside = (self.hedgers.who, self.hedgers.outside,
                                     self.hedgers.deposit)
        flow_arrival = self._preload_oracle(flow) if sc.oracle.enabled else None
        self.preload(flow.kind, flow.account, flow.submit_us, tr.latency, "traders.latency",
                      flow.a, tip=flow.tip, arrival=flow_arrival)
        self.start_rollup(self.protocol)
        self.rollup.inbox = DelayedInbox(sc.sequencer.l1_block_time, sc.sequencer.inbox_delay)
        self.managers = MarginManagers(sc.agents.margin_managers, sc.sequencer, self.sim,
                                       self.txs, self.network, total, self.users,
                                       recourse=self._recourse("margin", total, Kind.TOPUP,
                                                               Kind.CLOSE, self.protocol.wallet))
        if self.hedgers is not None:  # a hedger keeps its margin up
            self.managers.managed[self.hedgers.who] = True
        p = self.protocol
        self.liquidators = Liquidators(
            self.bots, self.sim, self.txs, self.network, total,
            Costs(self._perps_reward, reward_rate(sc.protocol.perps), self._bot_profit),
            self.horizon)
        self.liquidators.start(self._perps_scan, self._forecast if sc.oracle.enabled else None,
                               self.feed.interval, int(round(sc.oracle.tip_usd * PPM)))
        self.keepers = self._build_keepers() if sc.protocol.perps.liquidation == "dutch" \
            else None
        self._margin_seen = -1  # the margin view's generation the managers last saw
        self.rollup.subscribe(self._on_perps_block)
        self.rollup.on_refused(self._on_refused)
        self.options = None
        self.attached = {name: make_protocol(name, self) for name in attached("perps", sc)}
        if sc.oracle.enabled and sc.oracle.recapture.enabled:
            self._build_recapture()
        self.rollup.force_window = sc.sequencer.force_inclusion_window
        self.rollup.l1_block_time = sc.sequencer.l1_block_time
        if isinstance(self.design, MarketDesign):  # down when no service in use produces
            self.design.inbox = self.rollup.inbox
            self.set_outages(self.design.schedule.down)
            self.design.sell_as_run_goes(self.sim, self.set_outages)
        else:
            self.set_outages(outage_windows(sc.sequencer, self.horizon,
                                            self.sim.rng("outages"), self.scheduled_outages))
        if self.shared is not None:  # one sequencer: the first rollup's outages halt all
            windows = self.shared.seat(self.design, self.outages)
            if windows is not self.outages:
                self.set_outages(windows)
        if self.design.public_mempool and not sc.oracle.firewalled:
            self._watch_public_updates()
        self.protocol.run_record = self._perps_run()
        return self.protocol

    def _preload_oracle(self, flow) -> np.ndarray | None:
        """The feed's updates as transactions; returns the order flow's arrival times when
        updates ride in the orders (pull), None when the flow draws its own later.

        Push: each posting is the transmitter's own transaction. Pull: the first order
        after each publication carries it, arriving with it and placed just ahead of it
        (preloaded first, so ties by arrival go the update's way)."""
        sc = self.sc
        pubs = self.feed.publications(self.reference.at, self.horizon, self.sim.rng("oracle"))
        arrival = None
        if self.feed.attached:
            arrival = flow.submit_us + sample_latency(self.sim.rng("traders.latency"),
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
        self.preload(Kind.ORACLE, 0, submit, sc.oracle.latency, "oracle.latency",
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
                                          self.design.honours_bundles, self.options)
        p.bundle = self.recapture
        delay = self.sc.oracle.recapture.fallback_delay
        if delay and not self.feed.attached:  # SVR and Oval wrap a push feed
            ids = np.flatnonzero(self.txs.column("kind") == Kind.ORACLE)
            ids = ids[np.argsort(self.txs.b[ids], kind="stable")]  # by round
            p.fallback = Fallback(self.txs.arrival_us[ids], self.txs.a[ids], delay)

    def _recourse(self, name: str, accounts: int, kind: Kind, close_kind: Kind | None,
                  wallets: np.ndarray) -> Recourse | None:
        """Recourse for one group of margin managers (None when switched off); users pay
        a delayed-inbox message's L1 gas at the batch poster's gas price."""
        cfg = self.sc.agents.margin_managers
        if not cfg.recourse.enabled:
            self.recourses.append(None)
            return None
        seq, base, start = self.sc.sequencer, self.loaded.base_dir, self.sc.market.start
        if self.inbox_fee is None:
            self.inbox_fee = InboxFee(self.ledger, cfg.recourse.inbox_gas,
                                      lambda t: gas_price_gwei(seq.batch_poster, t, base, start),
                                      self.reference.at)
        channels = Channels(self.network, self.rollup.inbox, self.rollup.nonces,
                            self.inbox_fee, wallets)
        recourse = Recourse(cfg.recourse, cfg.latency, self.sim.seed, name, accounts, self.txs,
                            channels, kind, close_kind, self.design.capabilities.tips)
        self.recourses.append(recourse)
        return recourse

    def _build_keepers(self) -> Keepers:
        """Dutch auctions: keepers bring capital (the operator's identities its strategy
        capital), sell on the L2 venue and, with congestion, pay the day's gas."""
        sc, p = self.sc, self.protocol
        bots, d = self.bots, sc.protocol.perps.dutch
        own = self.operator_accounts.identities  # the operator's and builders' identities
        p.fund_liquidators(own[0], [sc.sequencer.strategy.capital_usd] * len(own))
        p.liquidation.venue = KeeperVenue(sc.market.venue_depth_usd, sc.market.arb_half_life)
        gas = GasMarket(sc.sequencer.batch_poster, self.loaded.base_dir, sc.market.start) \
            if d.congestion else None
        keepers = Keepers(bots, d, gas, self.sim.rng("keepers.inclusion") if gas else None,
                          sc.sequencer.l1_block_time, self.horizon)
        if gas is not None:
            p.liquidation.gas = lambda j, t: keepers.gas_cost(j, t, p.price)
        return keepers

    def set_outages(self, windows: np.ndarray) -> None:
        """The sequencer's down windows; the protocol's sentinel reads them through the
        uptime feed, whose "up" report reaches L2 through the delayed inbox: the next L1
        block after restart, then the inbox delay."""
        self.outages = windows
        self.rollup.outages = windows
        seq = self.sc.sequencer
        self.protocol.set_sentinel(uptime_feed(windows, seq.l1_block_time, seq.inbox_delay),
                                   self.sc.protocol.perps.grace_period)

    def _watch_public_updates(self) -> None:
        """Where the design gossips pending txs, bots see an oracle update when it reaches
        the nodes, not only once it is executed: backrunning becomes a public race (not
        on a firewalled oracle network, whose updates travel on their own path)."""
        oracle = np.flatnonzero(self.txs.column("kind") == Kind.ORACLE)
        for tx in oracle.tolist():
            self.sim.schedule(int(self.txs.arrival_us[tx]), self._on_pending_update,
                              int(self.txs.a[tx]))

    def _on_pending_update(self, price: int) -> None:
        if not self.design.gossips(self.sim.now):
            return
        _, notional = self.protocol.margin_state(price)
        self.liquidators.on_block(self.sim.now, self.protocol.liquidatable(price), notional)

    def build_spot_venue(self) -> SpotVenue:
        """The live spot venue beside perps (``[protocol.venue] live``): keepers sell
        their Dutch-auction lots on it inside their takes; under the other mechanisms
        the pool unwinds each liquidated position on it right after the block."""
        p = self.protocol
        market = self.sc.market
        venue = SpotVenue(self.sc.protocol.venue, venue_depth_usd(market), market.arb_half_life,
                          self.ledger, self.txs, p, self.reference.at)
        p.attach(venue)
        p.mark = venue.mark
        p.venue_price_at = venue.price_at  # the live pool's path, not the replay
        if self.keepers is not None:
            p.liquidation.venue = venue
        else:
            self.rollup.subscribe(venue.on_block)
        return venue

    def build_options(self) -> OptionsProtocol:
        """The options market beside perps, with its buyers, writers' managers and
        liquidators (``[protocol.options] enabled``)."""
        sc, cfg = self.sc, self.sc.protocol.options
        self.options = opt = OptionsProtocol(cfg, self.ledger, self.txs, self.protocol,
                                             float(self.reference.price[0]))
        reserve = cfg.writer_collateral_usd if cfg.writer_wallet_usd is None \
            else cfg.writer_wallet_usd
        opt.fund(np.full(cfg.writers, cfg.writer_collateral_usd), np.full(cfg.writers, reserve),
                 np.full(cfg.buyers, cfg.buyer_wallet_usd), sc.sequencer.strategy.capital_usd)
        self.protocol.attach(opt)
        self.design_view.options = opt
        flow = option_flow(cfg.buy_rate_per_s, cfg.buyers, cfg.qty_median, opt.expiry,
                           self.horizon, self.sim.rng("options.flow"))
        self.preload(flow.kind, flow.account, flow.submit_us, sc.agents.traders.latency,
                      "options.latency", flow.a, flow.b)
        self.opt_managers = MarginManagers(sc.agents.margin_managers, sc.sequencer, self.sim,
                                           self.txs, self.network, cfg.writers, cfg.writers,
                                           Kind.OPT_TOPUP, "options.margin",
                                           self._recourse("options.margin", cfg.writers,
                                                          Kind.OPT_TOPUP, None,
                                                          opt.writer_wallet))
        self.opt_liquidators = Liquidators(
            self.bots, self.sim, self.txs, self.network, cfg.writers,
            Costs(lambda who, need: np.rint(cfg.liquidation_bonus * need[who]).astype(np.int64),
                  cfg.liquidation_bonus, self._bot_profit),
            self.horizon, Kind.OPT_LIQUIDATE, "options.liquidator")
        self.opt_liquidators.start(self._options_scan, None, 0, 0)
        return opt

    # liquidators ------------------------------------------------------------------------
    def _fund_liquidators(self) -> None:
        """Each outside bot starts with its capital (for gas, tips and, under Dutch
        auctions, the lots it buys) and pays gas per attempt; the operator's liquidator
        identities pay none."""
        bots, p = self.bots, self.protocol
        p.fund_liquidators(0, [b.capital_usd for b in bots])
        for j, bot in enumerate(bots):
            p.attempt_gas[j] = int(round(bot.gas_usd * PPM))

    def _bot_profit(self, j: int) -> int:
        """Bot ``j``'s realised profit so far (micro-USD): its balance less its capital."""
        return int(self.ledger.balances[self.protocol.liquidator_account[j]]) \
            - int(self.protocol.keeper_capital[j])

    def _perps_reward(self, who: np.ndarray, notional: np.ndarray) -> np.ndarray:
        """What liquidating each of ``who`` in the coming block would pay (the
        mechanism's own estimate; -1 is a block not yet built, so per-block budgets are
        whole)."""
        reward = self.protocol.liquidation.reward
        return np.fromiter((reward(i, -1) for i in who.tolist()), np.int64, len(who))

    def _perps_scan(self, t_us: int, bots: Sequence[int]) -> None:
        """A polling bot looks at the chain now: the state the last block left."""
        p = self.protocol
        self._race(self.liquidators, t_us, p.liquidatable(), p.quotes(t_us),
                   p.margin_view.refresh().notional, bots)

    def _options_scan(self, t_us: int, bots: Sequence[int]) -> None:
        equity, need = self.options.margin_state(t_us)
        self._race(self.opt_liquidators, t_us, self.options.liquidatable(t_us),
                   self.options.quotes(t_us), need, bots)

    def _forecast(self, t_us: int) -> Expected | None:
        """What a bot watching the reference price expects of the oracle's poll now: if
        the price has moved past the feed's deviation threshold, an update at that price,
        making liquidatable the accounts it lists (not those liquidatable already)."""
        p = self.protocol
        if not p.price:
            return None
        ref = float(self.reference.at(np.array([t_us]))[0])
        if abs(ref * PPM - p.price) <= self.feed.deviation * p.price:
            return None
        price = int(round(ref * PPM))
        # both sorted and unique already: skip setdiff1d's sort, on every pull publication
        coming = np.setdiff1d(p.liquidatable(price), p.liquidatable(), assume_unique=True)
        if not len(coming):
            return None
        return Expected(coming, p.margin_state(price)[1][coming])

    def _balances_of(self, accounts: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """The ledger balances of ``accounts[who]``, looked up only for ``who``."""
        balances = self.ledger.balances
        return lambda who: balances[accounts[who]]

    def _executed(self, ids: np.ndarray, kind: np.ndarray, managers: MarginManagers,
                  liquidators: Liquidators) -> None:
        """Clear the pending flags of the top-ups and liquidations this block executed."""
        managers.on_executed(ids, kind)
        if liquidators.kind not in kind.tolist():  # most blocks: no array work
            return
        done = ids[kind == liquidators.kind]
        if len(done):
            liquidators.on_executed(self.txs.sender[done], self.txs.b[done])

    def _on_refused(self, restart_us: int, ids: np.ndarray) -> None:
        """At the restart, senders learn that the down sequencer refused ``ids``: margin
        managers and bots stop waiting for them and act again on the next block as they
        would on any (after their own feed and reaction delays); the oracle's
        transmitter sends its newest refused report again, reaching the sequencer as it
        restarts, since the on-chain price it watches is as old as the outage (a push
        feed updates when the off-chain price deviates from the one on chain). Noise
        traders' refused orders lapse."""
        kind = self.txs.kind[ids]
        self._executed(ids, kind, self.managers, self.liquidators)
        if self.options is not None:
            self._executed(ids, kind, self.opt_managers, self.opt_liquidators)
        updates = ids[kind == Kind.ORACLE]
        if len(updates) and not self.feed.attached:
            last = updates[np.argmax(self.txs.b[updates])]
            at = np.array([restart_us], dtype=np.int64)
            txs = self.txs
            again = txs.add_many(Kind.ORACLE, txs.sender[last], at, at, txs.a[last],
                                 txs.b[last], txs.tip[last])
            self.network.send(again, at)

    def _on_options_block(self, t_us: int, ids: np.ndarray, kind: np.ndarray) -> None:
        self._executed(ids, kind, self.opt_managers, self.opt_liquidators)
        equity, need = self.options.margin_state(t_us)
        self.opt_managers.on_block(t_us, equity, need,
                                   wallet=self._balances_of(self.options.writer_wallet))
        self._race(self.opt_liquidators, t_us, self.options.liquidatable(t_us),
                   self.options.quotes(t_us), need)

    def _race(self, bots: Liquidators, t_us: int, candidates: np.ndarray,
              quotes: tuple[np.ndarray, np.ndarray] | None, notional: np.ndarray,
              only: Sequence[int] | None = None) -> None:
        """Bots race to liquidate ``candidates``; under Dutch auctions (``quotes``: who is
        under auction at what price) they kick new auctions and bid in running ones.
        ``only``: the bots that look now (a poller); None: those streaming the feed."""
        if quotes is not None:
            accounts, prices = quotes
            candidates = np.setdiff1d(candidates, accounts)
            if len(accounts):
                self._bid(bots, t_us, accounts, prices, notional, only)
        bots.on_block(t_us, candidates, notional, only)

    def _bid(self, bots: Liquidators, t_us: int, accounts: np.ndarray, prices: np.ndarray,
             notional: np.ndarray, only: Sequence[int] | None = None) -> None:
        """Keepers with capital, venue and gas bid in perp auctions; option writers'
        auctions are bid by discount alone."""
        p = self.protocol
        if bots is self.liquidators and self.keepers is not None:
            capital = self.ledger.balances[np.asarray(p.liquidator_account[: len(bots.cfgs)])]
            bids, delays = self.keepers.plan(t_us, prices, p.size[accounts], p.price,
                                             capital, p.liquidation.venue)
            bots.on_auctions(t_us, accounts, bids, delays, only)
        else:
            bots.on_auctions(t_us, accounts, discount_bids(bots.cfgs, prices, p.price),
                             None, only)

    def _on_perps_block(self, block: int, t_us: int, ids: np.ndarray,
                        status: np.ndarray) -> None:
        """The feed: agents learn what the block did and see the state it left."""
        kind = self.txs.kind[ids]
        self._executed(ids, kind, self.managers, self.liquidators)
        if self.recapture is not None:
            self.recapture.on_block()
        p = self.protocol
        view = p.margin_view.refresh()
        changed, self._margin_seen = view.since(self._margin_seen), view.generation
        self.managers.on_block(t_us, view.equity, view.notional, p.mm_ppm / PPM,
                               self._balances_of(p.wallet), changed)
        self._race(self.liquidators, t_us, p.liquidatable(), p.quotes(t_us), view.notional)
        if self.hedgers is not None:
            self.hedgers.on_block(t_us, p, int(round(float(self.reference.at(t_us)) * PPM)))
        if self.options is not None:
            self._on_options_block(t_us, ids, kind)

    # running --------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> Result:
        """Run to the horizon (or until drained), check the ledger, return the Result."""
        start = time.perf_counter()
        self.rollup.progress = throttled(progress, self.horizon)
        self.rollup.start()
        self.sim.run(until=2**62 if self.rollup.drain else self.horizon)
        if progress is not None:
            progress(self.horizon, self.horizon)
        result = self.finish()
        result.summary["wall_s"] = round(time.perf_counter() - start, 4)
        return result

    def finish(self) -> Result:
        """After the kernel has run: post to L1, check the ledger, measure."""
        if isinstance(self.design, MarketDesign):
            self.design.settle(self.ledger, self.protocol.fees, self.rollup.blocks_table())
        self.batches = self._post_to_l1() if self.reference is not None else None
        if self.hedgers is not None:
            self.hedgers.settle(self._final_price(), self.horizon)
        return self._result(self.ledger.check())

    def _final_price(self) -> int:
        """The reference at the horizon (micro-USD): where every value is marked."""
        return int(round(float(self.reference.at(self.horizon)) * PPM))

    # results --------------------------------------------------------------------------
    def _result(self, residual: int) -> Result:
        txs = self.txs
        n = txs.n
        order = self.rollup.executed_order()
        blocks = self.rollup.blocks_table()
        status = txs.column("status")
        state = self.protocol.state_arrays()
        summary = {
            "scenario": self.sc.name,
            "design": self.design.name,
            "seed": self.seed,
            "sim_duration_s": round(self.sim.now / 1e6 if self.rollup.drain
                                    else self.horizon / 1e6, 3),
            "txs": int(n),
            "included": int((txs.column("included_us") >= 0).sum()),
            "failed": int((status == Status.FAILED).sum()),
            "blocks": int(len(blocks["block"])),
            "max_block_gap_ms": round(float(np.diff(np.r_[0, blocks["t_us"], self.sim.now]).max())
                                      / 1000.0, 3),
            "outages": int(len(self.outages)),
            "forced_inclusions": int(self.rollup.forced),
            "refused_while_down": int(self.rollup.refused),
            "downtime_s": round(float(np.diff(np.clip(self.outages, 0, self.horizon)).sum())
                                / 1e6, 3),
            "latency_ms": latency_stats_ms(txs.column("submit_us"), txs.column("included_us")),
            "ledger_residual": residual,
            "digest": digest([order, txs.block[order], txs.status[order], *state,
                              self.ledger.balances[: len(self.ledger.names)]]),
        }
        if hasattr(self.design, "metrics"):
            summary.update(self.design.metrics(self.horizon))
        tables = {"txs": self._txs_table(), "blocks": blocks}
        if self.batches is not None:
            summary.update(self._stage_summary(tables["txs"]))
        end = RunEnd(self.horizon, self.reference)
        for port in (self.protocol, *self.attached.values()):
            figures, own = port.report(end)
            summary.update(figures)
            tables.update(own)
        if self.hedgers is not None:  # agents with a leg off the chain: the world's own
            summary["hedgers"] = self.hedgers.summary(
                self.protocol, tables["liquidations"]["account"], self._final_price(),
                self.users)
            tables["accounts"]["hedger"] = self.hedgers.is_hedger(self.users)
        return Result(summary, tables)

    def _post_to_l1(self) -> Batches:
        """Batch the blocks to L1; the rollup pays the data cost out of its fees."""
        blocks = self.rollup.blocks_table()
        cfg = self.sc.sequencer.batch_poster
        batches = post_batches(blocks["t_us"], blocks["n_txs"], cfg, self.sc.sequencer.l1_block_time)
        gas = gas_price_gwei(cfg, batches.posted_us, self.loaded.base_dir,
                             self.sc.market.start)
        cost = posting_cost_micro(batches, cfg, self.reference.at(batches.posted_us), gas)
        fees = self.protocol.fees
        self.l1_cost = min(int(cost.sum()), int(self.ledger.balances[fees]))
        self.ledger.transfer(fees, 0, self.l1_cost, "l1_data_posting")
        if self.sc.rollup.proof == "zk":
            self.proofs = prove(batches, self.sc.rollup, self.sc.sequencer.l1_block_time,
                                cfg.finality, self.sim.rng("prover"))
        return batches

    def _stage_summary(self, txs: dict[str, np.ndarray]) -> dict:
        """Latency to each settlement stage: soft (in a block), posted to L1, final on
        L1 (on a ZK rollup: its proof verified and that L1 block final), and a
        withdrawal's completion (optimistic: posted plus the challenge period)."""
        done = txs["included_us"] >= 0
        block = txs["block"][done]
        posted = self.batches.block_posted_us[block]
        if self.proofs is None:
            final = self.batches.block_final_us[block]
            withdraw = optimistic_withdrawals(self.batches, self.sc.rollup.challenge_period)[block]
        else:
            final = self.proofs.block_final_us[block]
            withdraw = self.proofs.block_withdraw_us[block]
        txs["posted_us"] = np.full(len(txs["id"]), -1, dtype=np.int64)
        txs["final_us"] = np.full(len(txs["id"]), -1, dtype=np.int64)
        txs["posted_us"][done], txs["final_us"][done] = posted, final
        submit = txs["submit_us"][done]
        stages = {}
        for name, t in (("soft", txs["included_us"][done]), ("posted", posted), ("final", final),
                        ("withdraw", withdraw)):
            if len(t):
                p50, p99 = np.percentile((t - submit) / 1000.0, [50, 99])
                stages[f"{name}_p50"] = round(float(p50), 3)
                stages[f"{name}_p99"] = round(float(p99), 3)
        out = {"stage_latency_ms": stages, "l1_batches": int(len(self.batches.posted_us)),
               "l1_cost_usd": round(self.l1_cost / PPM, 2)}
        if self.proofs is not None:
            out.update(proof_summary(self.proofs, self.batches))
        return out

    def _txs_table(self) -> dict[str, np.ndarray]:
        """Views of the store's columns; ``kind``/``status`` stay codes (see result.ENUMS)."""
        t = self.txs
        return {"id": np.arange(t.n, dtype=np.int64),
                **{c: t.column(c) for c in ("kind", "sender", "a", "submit_us", "arrival_us",
                                            "block", "included_us", "status", "tip",
                                            "held", "fill")}}

    def _perps_run(self) -> PerpsRun:
        """Who is who in this perps run, as its metrics read it: named once the world
        around the protocol is assembled (every account and bot funded), read by the
        protocol's report at the end."""
        sc = self.sc
        names = [c.name for c in self.bots] + self.operator_accounts.liquidator_names
        return PerpsRun(self.protocol, self.ledger, self.txs, self.reference, names,
                        self.operator_accounts, self.users,
                        int(round(sc.sequencer.strategy.capital_usd * PPM)),
                        self.oracle_submit_us, self.horizon, sc.market.step,
                        self.managers.managed, self.leverage, self.fees.accounts,
                        sc.market.venue_depth_usd,
                        sc.market.arb_half_life,
                        tuple(c.strategy for c in self.bots),
                        tuple(int(c) for c in self.protocol.keeper_capital[: len(self.bots)]),
                        self.recourses, self.inbox_fee)
