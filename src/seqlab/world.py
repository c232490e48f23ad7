"""Build a world from a scenario and run it: the one place one rollup is put together.

``World`` makes what every run has — the kernel, the ledger, the transaction store, the
network, the sequencer design and the oracle feed (each from its registry) — and asks
the protocol registry (``seqlab.protocols``) to assemble the product named by
``[protocol] kind`` on it: the product's plugin builds its accounts, its order flow, the
feed's updates as transactions and its agents, and starts the rollup through the few
services below (``preload``, ``start_rollup``, ``reference_price``, ``open_inbox``,
``schedule_downtime``, ``at_end``). The world then runs the kernel to the scenario's
horizon, posts the blocks to L1, checks the ledger and merges what each protocol reports
with the run-wide figures (latency, stages, the digest) into a ``Result``. Each component
draws from its own named random stream, so two designs run on the same scenario and seed
see the same prices, the same order flow and the same oracle decisions.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from seqlab.kernel import Scope, Simulation
from seqlab.ledger import EXTERNAL, Ledger
from seqlab.market import ReferencePrice, build_reference
from seqlab.metrics.core import digest, latency_stats_ms
from seqlab.network import Network, sample_latency
from seqlab.oracle import OracleKind, make_feed
from seqlab.outages import outage_windows
from seqlab.protocols import make_protocol
from seqlab.protocols.port import ProtocolPort, RunEnd
from seqlab.result import Result
from seqlab.rollup.chain import Rollup
from seqlab.rollup.fees import ROLLUP_INCOME, FeeMarket, pay_topped_up
from seqlab.rollup.gas import gas_price_gwei
from seqlab.rollup.inbox import DelayedInbox
from seqlab.rollup.poster import Batches, post_batches, posting_cost_micro
from seqlab.rollup.prover import Proofs, optimistic_withdrawals, proof_summary, prove
from seqlab.scenario.loader import LoadedScenario
from seqlab.seqmarket import MarketDesign, market_design
from seqlab.sequencing import make_design
from seqlab.sequencing.rollups_design import RollupsDesign
from seqlab.txs import Status, TxStore
from seqlab.units import MICRO_USD

Progress = Callable[[int, int], None]
#: ``report(end, summary, tables)``: figures of agents that belong to no protocol, added
#: once every protocol has reported (the summary and tables are the run's, in progress).
Reporter = Callable[[RunEnd, dict, dict], None]


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
                 shared: RollupsDesign | None = None) -> None:
        """``sim``, ``reference``, ``extra_accounts``, ``scheduled_outages``, ``rollup``
        and ``shared`` are for a rollup inside a several-rollup world: the shared kernel
        (with this rollup's own streams), the shared market, accounts for the cross-rollup
        arbitrageurs, whether the scenario's scheduled outages hit this rollup's
        sequencer, which rollup it is (its sequencing-market policy) and how its
        sequencer relates to the others' (it takes its seat there once assembled).
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
        self.feed: OracleKind = make_feed(self.sc.oracle)  # the kind ``[oracle]`` names
        self.horizon = self.sc.duration
        self.outages = np.empty((0, 2), dtype=np.int64)
        self.batches: Batches | None = None
        self.proofs: Proofs | None = None
        self.l1_cost = 0
        self.reference: ReferencePrice | None = None  # built when a product asks for it
        self.attached: dict[str, ProtocolPort] = {}  # protocols run inside its blocks
        # what the product's plugin assembled beyond its port (its agents, the layout of
        # its accounts), read as the world's own attributes; None: the plugin keeps none
        self.assembly: Any = None
        self.outage_listeners: list[Callable[[np.ndarray], None]] = []
        self.closers: list[Callable[[RunEnd], None]] = []
        self.reporters: list[Reporter] = []
        self.protocol = make_protocol(self.sc.protocol.kind, self)

    def __getattr__(self, name: str) -> Any:
        """What the product assembled reads as the world's (``world.operator_accounts``,
        ``world.liquidators``): the cluster, the metrics and the tests name a rollup's
        parts on its world, and the world names no product's parts itself."""
        assembly = self.__dict__.get("assembly")
        if assembly is None or name.startswith("__"):
            raise AttributeError(f"'World' object has no attribute '{name}'")
        return getattr(assembly, name)

    # services a product's assembly uses ------------------------------------------------
    def preload(self, kind, sender, submit: np.ndarray, latency_cfg, stream: str,
                a=0, b=0, tip=0, arrival: np.ndarray | None = None) -> None:
        """Add a protocol's order flow to the transaction store and hand it to the
        network; arrival times are drawn from the named ``stream`` unless given."""
        if arrival is None:
            arrival = submit + sample_latency(self.sim.rng(stream), latency_cfg, len(submit))
        ids = self.txs.add_many(kind, sender, submit, arrival, a, b, tip)
        self.network.preload(ids, arrival)

    def start_rollup(self, protocol: ProtocolPort, drain: bool = False,
                     fees: FeeMarket | None = None) -> Rollup:
        """The rollup that runs ``protocol`` under the scenario's design (``drain``: run
        until every transaction is in, not to the horizon; ``fees``: its fee market)."""
        self.rollup = Rollup(self.sim, self.design, self.network, self.txs, protocol,
                             self.horizon, drain=drain, fees=fees)
        self.rollup.while_down = self.sc.sequencer.while_down
        return self.rollup

    def reference_price(self) -> ReferencePrice:
        """The off-chain reference price: the cluster's shared market, or this world's
        own drawn from the scenario's ``[market]`` (a world without one, as the
        benchmark's, never asks and posts nothing to L1)."""
        if self.reference is None:
            self.reference = self.given_reference or build_reference(
                self.sc.market, self.horizon, self.sim, self.loaded.base_dir)
        return self.reference

    def open_inbox(self) -> DelayedInbox:
        """The rollup's delayed inbox on L1 (messages forced in after ``inbox_delay``)."""
        seq = self.sc.sequencer
        self.rollup.inbox = DelayedInbox(seq.l1_block_time, seq.inbox_delay)
        return self.rollup.inbox

    def schedule_downtime(self) -> None:
        """The rollup's L1 side and its sequencer's down windows: the force-inclusion
        window; the windows in which no service of a sequencing market produces, sold as
        the run goes, or those drawn from the scenario's outages; under a shared
        sequencer, the first rollup's windows for all."""
        sc = self.sc
        self.rollup.force_window = sc.sequencer.force_inclusion_window
        self.rollup.l1_block_time = sc.sequencer.l1_block_time
        if isinstance(self.design, MarketDesign):  # down when no service in use produces
            self.design.inbox = self.rollup.inbox
            self.set_outages(self.design.schedule.down)
            self.design.sell_as_run_goes(self.sim, self.set_outages)
        else:
            self.set_outages(outage_windows(sc.sequencer, self.horizon,
                                            self.sim.rng("outages"), self.scheduled_outages))
        if self.shared is not None:  # a shared sequencer: the first rollup's outages halt all
            windows = self.shared.seat(self.design, self.outages)
            if windows is not self.outages:
                self.set_outages(windows)

    def set_outages(self, windows: np.ndarray) -> None:
        """The sequencer's down windows, to the rollup and to whoever in the product
        watches them (``outage_listeners``: a market's uptime sentinel)."""
        self.outages = windows
        self.rollup.outages = windows
        for listener in self.outage_listeners:
            listener(windows)

    def at_end(self, close: Callable[[RunEnd], None] | None = None,
               report: Reporter | None = None) -> None:
        """What the product's agents do once the run is over: ``close`` before the ledger
        is checked (a leg held off the chain is closed), ``report`` after every protocol
        has reported (figures that belong to no protocol)."""
        if close is not None:
            self.closers.append(close)
        if report is not None:
            self.reporters.append(report)

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
        end = RunEnd(self.horizon, self.reference)
        for close in self.closers:
            close(end)
        return self._result(self.ledger.check(), end)

    # results --------------------------------------------------------------------------
    def _result(self, residual: int, end: RunEnd) -> Result:
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
        for port in (self.protocol, *self.attached.values()):
            figures, own = port.report(end)
            summary.update(figures)
            tables.update(own)
        for report in self.reporters:
            report(end, summary, tables)
        return Result(summary, tables)

    def _post_to_l1(self) -> Batches:
        """Batch the blocks to L1; the rollup pays the data cost out of its fees, and what
        they lack out of its other income (``ROLLUP_INCOME``)."""
        blocks = self.rollup.blocks_table()
        cfg = self.sc.sequencer.batch_poster
        batches = post_batches(blocks["t_us"], blocks["n_txs"], cfg, self.sc.sequencer.l1_block_time)
        gas = gas_price_gwei(cfg, batches.posted_us, self.loaded.base_dir,
                             self.sc.market.start)
        cost = posting_cost_micro(batches, cfg, self.reference.at(batches.posted_us), gas)
        self.l1_cost = int(cost.sum())
        pay_topped_up(self.ledger, self.protocol.fees, EXTERNAL, self.l1_cost,
                      "l1_data_posting", ROLLUP_INCOME)
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
               "l1_cost_usd": round(self.l1_cost / MICRO_USD, 2)}
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
