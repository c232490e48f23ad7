"""Several rollups in one world: one market, one kernel, isolated or shared sequencing.

Each rollup is a full ``World`` (its own perps market, users, oracle nodes, network,
sequencer design and ledger) built on the shared kernel with its own random streams
(rollup ``a`` keeps the scenario's own, so it sees exactly what a one-rollup run sees)
and on the one reference market. The ``Cluster`` drives the rounds; how the rollups'
sequencers relate is a registered design for several rollups (``[rollups] sequencing``,
``sequencing.rollups_design``), which it meets through that interface only:

- **isolated** (``sequencing.isolated``): each rollup has its own sequencer. Scheduled
  outages belong to rollup ``a``'s sequencer; random outages are drawn per sequencer
  from its own stream. An outage halts its rollup only. Under a sequencing market each
  rollup buys from a service instead, and a service's outages halt every rollup on it at
  once; the run then measures the market against the same world with no service
  failing (``seqlab.seqmarket.concentration``).
- **shared** (``sequencing.shared``): one sequencer orders every rollup's blocks in one
  round. Its outages are rollup ``a``'s draw and halt every rollup at once; a committee
  runs one consensus whose rounds carry every rollup's transactions. Cross-rollup
  bundles travel to it as one message and are placed at the top of each leg's rollup
  block (under a committee, the next committed one), all legs or none
  (``seqlab.bundles``: each leg then executes on its own rollup, or, with
  ``bundle_execution = "atomic"``, the bundle is included only if every leg would
  succeed).

After each round the arbitrageurs look at every rollup's feed and the price gap between
the rollups is recorded.
"""
from __future__ import annotations

import time
import numpy as np

from seqlab.agents.arbitrage import Arbitrageurs
from seqlab.bundles import SharedBundles
from seqlab.kernel import Scope, Simulation, derived_seed
from seqlab.market import build_reference
from seqlab.metrics.contagion import cluster_result
from seqlab.result import Result
from seqlab.scenario.loader import LoadedScenario
from seqlab.seqmarket.concentration import market_summary
from seqlab.sequencing import check_design, make_rollups_design
from seqlab.world import Progress, World, throttled

ROLLUP_NAMES = "abcdefgh"
STALE_BLOCKS = 8  # an arbitrageur leaves a rollup alone after this many silent block times


class Cluster:
    """Several rollups on one market and kernel; ``run`` returns one combined Result."""

    def __init__(self, loaded: LoadedScenario, seed: int | None = None,
                 service_outages: bool = True) -> None:
        """``service_outages=False``: no sequencing service fails (a market's baseline)."""
        self.loaded = loaded
        self.service_outages = service_outages
        sc = self.sc = loaded.scenario
        self.seed = sc.seed if seed is None else int(seed)
        self.horizon = sc.duration
        self.sim = Simulation(self.seed)
        self.reference = build_reference(sc.market, self.horizon, self.sim, loaded.base_dir)
        arb = sc.agents.arbitrageurs
        # how the rollups' sequencers relate: each rollup takes its seat as it is assembled
        self.sequencing = make_rollups_design(sc.rollups, loaded.source)
        own = self.sequencing.accounts  # its own, after the arbitrageurs' on every rollup
        self.chains = [World(self._rollup_scenario(k), self.seed,
                             sim=Scope(self.sim, self._seed(k)),
                             reference=self.reference, extra_accounts=arb.count + own,
                             scheduled_outages=k == 0, rollup=k,
                             service_outages=service_outages, shared=self.sequencing)
                       for k in range(sc.rollups.count)]
        self.block_time = self.chains[0].rollup.block_time
        first = self.chains[0].operator_accounts.next_free  # after the operator's
        self.sequencing.connect(self.chains, first + arb.count)
        self.arbs = None
        if arb.count:
            bundles = self.sequencing.bundles
            self.arbs = Arbitrageurs(arb, self.seed, self.chains, first,
                                     bundles.submit if bundles is not None else None,
                                     STALE_BLOCKS * self.block_time)
        self._gap_t: list[int] = []
        self._mids: list[list[float]] = []

    @property
    def bundles(self) -> SharedBundles | None:
        """The cross-rollup bundles waiting at a shared sequencer (None: no such place)."""
        return self.sequencing.bundles

    def _rollup_scenario(self, k: int) -> LoadedScenario:
        """Rollup ``k``'s scenario: its own design where ``rollups.designs`` names one."""
        designs = self.sc.rollups.designs
        if not designs:
            return self.loaded
        check_design(designs[k], "rollups.designs", self.loaded.source)
        seq = self.sc.sequencer.model_copy(update={"design": designs[k]})
        return LoadedScenario(self.sc.model_copy(update={"sequencer": seq}),
                              self.loaded.source, self.loaded.base_dir)

    def _seed(self, k: int) -> int:
        return self.seed if k == 0 else derived_seed(self.seed, f"rollup/{ROLLUP_NAMES[k]}")

    # the round -----------------------------------------------------------------------
    def _tick(self) -> None:
        now = self.sim.now
        up = [chain.rollup.down_until(now) is None for chain in self.chains]
        lead = self.sequencing.lead(now, up)
        for chain, live, first in zip(self.chains, up, lead):
            if live:
                chain.rollup.produce(now, first)
        self._record_gap(now)
        if self.arbs is not None:
            self.arbs.observe(now)
        if self.progress is not None:
            self.progress(now)
        if now + self.block_time <= self.horizon:
            self.sim.schedule(now + self.block_time, self._tick)

    def _record_gap(self, now: int) -> None:
        self._gap_t.append(now)
        self._mids.append([chain.protocol.mid() for chain in self.chains])

    def run(self, progress: Progress | None = None) -> Result:
        """Run every rollup to the horizon; check each ledger; one combined Result."""
        start = time.perf_counter()
        self.progress = throttled(progress, self.horizon)
        self.sim.schedule(self.block_time, self._tick)
        self.sim.run(until=self.horizon)
        if progress is not None:
            progress(self.horizon, self.horizon)
        results = [chain.finish() for chain in self.chains]
        mids = np.array(self._mids, dtype=np.float64).reshape(-1, len(self.chains))
        result = cluster_result(self, results, np.array(self._gap_t, dtype=np.int64), mids,
                                ROLLUP_NAMES)
        if self.sc.sequencing_market.enabled:
            result.summary["seqmarket"] = market_summary(self, result, self._quiet_run,
                                                         ROLLUP_NAMES)
        result.summary["wall_s"] = round(time.perf_counter() - start, 4)
        return result

    def _quiet_run(self) -> tuple["Cluster", Result]:
        """The same world (same seed) in which no sequencing service fails."""
        quiet = Cluster(self.loaded, self.seed, service_outages=False)
        return quiet, quiet.run()


def make_world(loaded: LoadedScenario, seed: int | None = None) -> World | Cluster:
    """A one-rollup World, or a Cluster where the scenario has several rollups."""
    if loaded.scenario.rollups.count > 1:
        return Cluster(loaded, seed)
    return World(loaded, seed)
