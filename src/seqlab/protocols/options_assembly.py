"""The options market assembled beside perps (``[protocol.options] enabled``).

The options protocol runs inside the perps market's blocks on its oracle; this module
funds its writers and buyers, preloads the buyers' order flow, and puts the writers'
margin managers and the option liquidators on the rollup's block feed, right after the
perps market's own agents (the same bots race for both, with the perps bots' capital).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

from seqlab.agents.keepers import discount_bids
from seqlab.agents.liquidators import Costs, Liquidators
from seqlab.agents.race import balances_of, executed, race
from seqlab.agents.reactive import MarginManagers
from seqlab.agents.traders import option_flow
from seqlab.protocols.options import OptionsProtocol
from seqlab.protocols.perps_assembly import PerpsAssembly
from seqlab.txs import Kind

if TYPE_CHECKING:  # the world being assembled (it imports the registry, not this)
    from seqlab.world import World


def assemble(world: World) -> OptionsProtocol:
    """The registry's factory: the options market on the perps world being assembled
    (its host, ``world.assembly``), with its buyers, writers' managers and liquidators."""
    return OptionsAgents(world, world.assembly).options


class OptionsAgents:
    """The option writers' managers and liquidators, and the feed that drives them."""

    def __init__(self, world: World, host: PerpsAssembly) -> None:
        sc, cfg = world.sc, world.sc.protocol.options
        self.host, self.txs, self.ledger = host, world.txs, world.ledger
        perps = host.protocol
        host.options = self.options = opt = OptionsProtocol(
            cfg, world.ledger, world.txs, perps, float(host.reference.price[0]))
        reserve = cfg.writer_collateral_usd if cfg.writer_wallet_usd is None \
            else cfg.writer_wallet_usd
        opt.fund(np.full(cfg.writers, cfg.writer_collateral_usd), np.full(cfg.writers, reserve),
                 np.full(cfg.buyers, cfg.buyer_wallet_usd), sc.sequencer.strategy.capital_usd)
        perps.attach(opt)
        host.design_view.options = opt
        flow = option_flow(cfg.buy_rate_per_s, cfg.buyers, cfg.qty_median, opt.expiry,
                           world.horizon, world.sim.rng("options.flow"))
        world.preload(flow.kind, flow.account, flow.submit_us, sc.agents.traders.latency,
                      "options.latency", flow.a, flow.b)
        self.managers = MarginManagers(sc.agents.margin_managers, sc.sequencer, world.sim,
                                       world.txs, world.network, cfg.writers, cfg.writers,
                                       Kind.OPT_TOPUP, "options.margin",
                                       host.recourse("options.margin", cfg.writers,
                                                     Kind.OPT_TOPUP, None, opt.writer_wallet))
        self.liquidators = Liquidators(
            host.bots, world.sim, world.txs, world.network, cfg.writers,
            Costs(lambda who, need: np.rint(cfg.liquidation_bonus * need[who]).astype(np.int64),
                  cfg.liquidation_bonus, host.bot_profit),
            world.horizon, Kind.OPT_LIQUIDATE, "options.liquidator")
        self.liquidators.start(self.scan, None, 0, 0)
        world.rollup.subscribe(self.on_block)
        world.rollup.on_refused(self.on_refused)

    def on_refused(self, restart_us: int, ids: np.ndarray) -> None:
        """At the restart, writers' managers and bots stop waiting on what the down
        sequencer refused (after the perps agents, as on the block feed)."""
        executed(self.txs, ids, self.txs.kind[ids], self.managers, self.liquidators)

    def scan(self, t_us: int, bots: Sequence[int]) -> None:
        """A polling bot looks at the writers now."""
        opt = self.options
        equity, need = opt.margin_state(t_us)
        race(self.liquidators, t_us, opt.liquidatable(t_us), opt.quotes(t_us), need,
             self.bid, bots)

    def bid(self, bots: Liquidators, t_us: int, accounts: np.ndarray, prices: np.ndarray,
            only: Sequence[int] | None = None) -> None:
        """Option writers' auctions are bid by discount alone, against the perps price."""
        bots.on_auctions(t_us, accounts,
                         discount_bids(bots.cfgs, prices, self.host.protocol.price), None, only)

    def on_block(self, block: int, t_us: int, ids: np.ndarray, status: np.ndarray) -> None:
        """The feed, after the perps agents': writers top up, bots race for writers."""
        opt = self.options
        executed(self.txs, ids, self.txs.kind[ids], self.managers, self.liquidators)
        equity, need = opt.margin_state(t_us)
        self.managers.on_block(t_us, equity, need,
                               wallet=balances_of(self.ledger, opt.writer_wallet))
        race(self.liquidators, t_us, opt.liquidatable(t_us), opt.quotes(t_us), need,
             self.bid)
