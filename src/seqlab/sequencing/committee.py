"""A BFT committee of sequencer nodes, with decentralized-Timeboost inclusion rules.

Consensus rounds come from ``seqlab.consensus.run_round`` (quorum times over arrays).
What goes into round r's block follows the decentralized Timeboost specification: every
node keeps a candidate list, renewed every ``list_interval`` (250 ms), of the
transactions it received at least ``list_age`` (250 ms) earlier; the leader collects the
lists of the live nodes; a transaction is included once it appears in at least f+1 of
them (so no f members can push or block one); the block's consensus timestamp is the
median of the lists' times. Inside a block the order is deterministic — a hash of the
run's seed, the block height and the sender — so no member chooses it. In
``ordering = "leader"`` mode the round's leader orders its own block instead, and a
byzantine leader runs the extractive operator's strategies on its slots.

Each node receives a transaction at the time it reached the network plus the latency
from the sender's region (senders are spread over the regions by account) to the node's
region, with the same lognormal jitter as consensus messages. Faults: ``crashed``
members (the last ones) stop at ``crash_at``; ``byzantine`` members (the first ones)
delay their votes, leave margin top-ups out of their candidate lists and, in leader
mode, extract on their slots; ``partitions`` drop
messages between groups for a while. A round without a quorum, or whose next leader is
down, costs ``timeout`` and a view change. Liveness (blocks per minute, longest gap)
and safety (no two different blocks at one height) are reported.

With ``equivocate``, a byzantine leader proposes two conflicting blocks at its height,
one to each half of the honest members, and byzantine members vote for both. Quorums of
ceil((n+f+1)/2) share f+1 members, so while at most f are byzantine at most one of the
two is certified (or neither, and the round ends in a view change); a second certified
block at a height is then a bug and raises ``SafetyViolation``. With more than f
byzantine members both can be certified: seqlab counts each fork in
``safety_violations`` (the run goes on along the first block) and flags the scenario
with ``byzantine_over_f``.

With ``encrypted`` (the specification's threshold encryption), users' transactions reach
the committee as ciphertexts, decrypted jointly once a block is committed: each member
multicasts its decryption share and decrypts on the f+1-th, so at least one honest
member took part. The block executes then (later rounds do not wait for it), and until
then nobody reads a transaction: byzantine members cannot tell a top-up to leave out,
and a byzantine leader in ``leader`` mode has nothing to extract on.

With ``express_lane``, the committee runs the specification's priority epochs: the
express lane of ``sequencing.express_lane`` — the same auction, searchers and
controller as Timeboost, with the rounds, reserve and gas of ``[sequencer.timeboost]`` —
whose controller sends priority bundles. A member lists a bundle as soon as it has it
(an ordinary transaction waits ``list_age``, the specification's 250 ms: that is the
lane's time advantage), one list carrying it is enough, bundles go in in the order the
controller sent them with no gap, and a block puts them ahead of every ordinary
transaction. So the controller cannot land a liquidation right behind an oracle update
in the update's own block (it would be ordered in front of it): it acts once the update
has executed, ahead of every keeper. A bundle carries the epoch it was sent in, and a
round whose lists are cut in a later epoch drops it (the specification includes priority
bundles of the current epoch only): a controller's right ends with its epoch. With ``encrypted`` the bundles' contents are sealed
until the block is decrypted like everyone else's.
"""
from __future__ import annotations

import hashlib

import numpy as np

from seqlab.arrays import member

from seqlab.consensus import (INF, REGION_LATENCY_MS, REGIONS, decryption_times, forks,
                               median_us, proposal_serialization_us, quorum_size, run_round)
from seqlab.kernel import keyed_normals
from seqlab.rollup.fees import Capabilities
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, Design
from seqlab.sequencing.candidate_lists import listed
from seqlab.sequencing.express_lane import ExpressLane
from seqlab.sequencing.strategies import HostsOperator
from seqlab.txs import Kind


class SafetyViolation(AssertionError):
    """Two different blocks committed at one height with at most f byzantine members: a
    bug, never a user error (beyond f it is the expected fork, counted instead)."""


class SharedRounds:
    """One consensus for several rollups (a shared sequencer): the first rollup's
    committee runs each round — its block carries every member rollup's transactions, so
    their size counts in the round's serialisation time — and the others replay the
    round (start, leader, commit time, view changes), each putting its own transactions
    in it. Every rollup's blocks then commit together."""

    def __init__(self) -> None:
        self.members: list["CommitteeDesign"] = []
        # (start, committed_at or -1 for a view change, next start, next leader)
        self.rounds: list[tuple[int, int, int, int]] = []


class CommitteeDesign(HostsOperator, Design):
    """Consensus rounds, candidate lists, f+1 inclusion, deterministic in-block order."""

    name = "committee"

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        c = self.c = cfg.committee
        n = c.nodes
        self.f = (n - 1) // 3
        self.quorum = quorum_size(n)
        idx = [REGIONS.index(r) for r in c.regions]
        self.region = np.array([idx[i % len(idx)] for i in range(n)])
        base = REGION_LATENCY_MS[np.ix_(self.region, self.region)] * 1000.0
        np.fill_diagonal(base, 0.0)
        self.base_us = base
        self.byzantine = np.zeros(n, dtype=bool)
        self.byzantine[: c.byzantine] = True
        # per-round constants, built once (callers only read them)
        self._alive_all = np.ones(n, dtype=bool)
        self._alive_crashed = self._alive_all.copy()
        self._alive_crashed[n - c.crashed:] = False
        self._vote_delay = np.where(self.byzantine, c.byzantine_vote_delay, 0.0)
        self._serialize: dict[int, np.ndarray] = {}
        self._node_cycle = np.empty(0, dtype=np.int64)
        # a sender's latency to each member (µs), by the member its account maps to
        self._from_sender_us = REGION_LATENCY_MS[self.region[:, None], self.region[None, :]] \
            * 1000.0
        self.host(cfg.strategy, strategies)
        self.seed = 0
        self.rng: np.random.Generator | None = None
        # pending txs, their senders and their per-node receive times
        self._ids = np.empty(0, dtype=np.int64)
        self._recv = np.empty((0, n), dtype=np.int64)
        self._origin = np.empty(0, dtype=np.int64)
        # ordinary txs received but not yet spread to the members (``_spread``)
        self._unspread: list[tuple[np.ndarray, np.ndarray]] = []
        self._unspread_from = INF  # the earliest arrival among them
        self._taken: tuple[np.ndarray, np.ndarray] | None = None  # what _collect returned
        # consensus state
        self.next_start = 0
        self.leader = 0
        self.height = 0
        self._ready: list[tuple[int, np.ndarray]] = []  # (commit time, ordered ids)
        self.block_times: list[int] = []
        self.view_changes = 0
        self._committed: dict[int, str] = {}
        self.safety_violations = 0
        self.shared: SharedRounds | None = None
        self._replayed = 0  # rounds of the shared schedule this member has replayed
        self.lane = ExpressLane(cfg.timeboost, cfg.strategy, strategies, delay=c.list_age,
                                behind_updates=False, keep_waiting=True) \
            if c.express_lane else None
        self.capabilities = Capabilities(express_lane=c.express_lane)
        self._priority = np.empty(0, dtype=bool)  # pending txs that are priority bundles
        self._epoch = np.empty(0, dtype=np.int64)  # a bundle's epoch (-1: ordinary tx)
        self.expired_bundles = 0  # bundles dropped because their epoch had ended
        self._prev_tick: int | None = None

    def join(self, shared: SharedRounds) -> None:
        """Run this committee's rounds as part of one shared consensus."""
        self.shared = shared
        shared.members.append(self)

    # plumbing -------------------------------------------------------------------------
    def attach(self, view) -> None:
        super().attach(view)
        self.seed = view.seed
        self.rng = np.random.Generator(np.random.PCG64(
            np.random.SeedSequence(view.seed, spawn_key=(0xC0, 0x77))))
        self._factor_batch = np.empty((0, 3, self.c.nodes, self.c.nodes))
        self._next_factor = 0
        if self.lane is not None:
            self.lane.attach(view)

    def pending(self) -> int:
        return len(self._ids) + sum(len(ids) for ids, _ in self._unspread) \
            + sum(len(b) for _, b in self._ready)

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        """Queue ordinary txs; their members' receive times are drawn once a round's
        lists could hold one (``_spread``)."""
        if len(ids):
            self._unspread.append((ids, arrival_us))
            # a few ints: a Python min costs a fraction of the array reduction
            self._unspread_from = min(self._unspread_from, *arrival_us.tolist())

    def _spread(self, until: int | None = None) -> None:
        """Draw the members' receive times of the queued txs (all of them, in the order
        they came) if any arrived by ``until`` (None: in any case). A member receives a
        tx after it arrived, so one that arrived later is in no list cut by ``until``.
        The draws are keyed by tx and member, so when they are drawn changes nothing;
        drawing a few ticks' txs at once saves the per-call cost of most draws."""
        if not self._unspread or (until is not None and self._unspread_from > until):
            return
        chunks, self._unspread, self._unspread_from = self._unspread, [], INF
        if len(chunks) == 1:
            self._receive(*chunks[0], priority=False)
        else:
            self._receive(np.concatenate([ids for ids, _ in chunks]),
                          np.concatenate([at for _, at in chunks]), priority=False)

    def _receive(self, ids: np.ndarray, arrival_us: np.ndarray, priority: bool) -> None:
        """Every member's receive time of each tx; ``priority``: the lane's bundles."""
        if not len(ids):
            return
        if priority:
            self._spread()  # the ordinary txs received before the bundles stay ahead
        n = self.c.nodes
        origin = self.view.origin(ids) if self.view is not None else ids
        z = keyed_normals(self.seed, "committee.recv", np.repeat(ids, n), self._nodes(len(ids)))
        jitter = np.exp(self.c.jitter_sigma * z).reshape(len(ids), n)
        base = self._from_sender_us[np.abs(origin) % n]
        recv = arrival_us[:, None] + np.rint(base * jitter).astype(np.int64)
        self._taken = None
        self._ids = np.concatenate((self._ids, ids))
        self._origin = np.concatenate((self._origin, origin))
        self._recv = np.concatenate((self._recv, recv))
        self._priority = np.concatenate((self._priority, np.full(len(ids), priority)))
        epoch = self.lane.round if priority else -1
        self._epoch = np.concatenate((self._epoch, np.full(len(ids), epoch, dtype=np.int64)))

    def _nodes(self, m: int) -> np.ndarray:
        """0, 1, ..., n-1 repeated ``m`` times: the member of each receive-time draw."""
        if len(self._node_cycle) < m * self.c.nodes:
            self._node_cycle = np.tile(np.arange(self.c.nodes), 2 * m)
        return self._node_cycle[: m * self.c.nodes]

    # faults ---------------------------------------------------------------------------
    def _alive(self, t: int) -> np.ndarray:
        """Which members are up at ``t`` (a shared array: read it, never write it)."""
        return self._alive_crashed if self.c.crashed and t >= self.c.crash_at \
            else self._alive_all

    def _lost(self, t: int, shape: tuple[int, ...]) -> np.ndarray | None:
        lost = None
        if self.c.loss:
            lost = self.rng.random(shape) < self.c.loss
        for part in self.c.partitions:
            if part.start <= t < part.end:
                group = np.full(self.c.nodes, -1)
                for g, members in enumerate(part.groups):
                    group[members] = g
                cut = group[:, None] != group[None, :]
                lost = cut[None] if lost is None else (lost | cut[None])
        return None if lost is None else np.broadcast_to(lost, shape)

    # rounds ---------------------------------------------------------------------------
    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        out = []
        for k, tick in enumerate(ticks.tolist()):
            if self.lane is not None:
                self._express(tick)
            while self.next_start <= tick:
                self._round()
            block = []
            while self._ready and self._ready[0][0] <= tick:
                block.append(self._ready.pop(0)[1])
            if block:
                out.append((k, np.concatenate(block)))
        return Blocks.collect(out)

    def _express(self, now: int) -> None:
        """The express lane at this tick: the auction's settlement and the controller's
        bundles, sent from what it saw of the blocks executed so far, reach the members
        like any transaction (from the controller's region) and are marked priority."""
        prev = now - self.block_time if self._prev_tick is None else self._prev_tick
        self._prev_tick = now
        head, ids, times = self.lane.step(now, prev)
        order = np.argsort(np.asarray(times, dtype=np.int64), kind="stable")
        sent = np.r_[np.asarray(head, dtype=np.int64), np.asarray(ids, dtype=np.int64)[order]]
        at = np.r_[np.full(len(head), now, dtype=np.int64),
                   np.asarray(times, dtype=np.int64)[order]]
        self._receive(sent, at, priority=True)  # the settlement first, then by send time

    def commits_by(self, t_us: int) -> bool:
        """Whether a round has committed a block by ``t_us``: a bundle waits for one (it
        goes through consensus too). Running the rounds due by then early changes
        nothing: a transaction delivered at this tick cannot be in any list yet."""
        while self.next_start <= t_us:
            self._round()
        return bool(self._ready) and self._ready[0][0] <= t_us

    def _round(self) -> None:
        """One consensus round at ``next_start`` led by ``leader``."""
        if self.shared is not None and self.shared.members[0] is not self:
            self._replay()
            return
        n, t0, leader = self.c.nodes, self.next_start, self.leader
        alive = self._alive(t0)
        factors = self._factors()
        if not alive[leader]:
            self._view_change(t0)
            return
        included = self._collect(t0, alive)
        carried = len(included) + (sum(len(m._collect(t0, alive))
                                       for m in self.shared.members[1:])
                                   if self.shared is not None else 0)
        serialize = self._serialize.get(carried)
        if serialize is None:
            serialize = self._serialize[carried] = proposal_serialization_us(
                n, carried * self.c.tx_bytes, self.c.bandwidth_mbps)
        voters, forked = self._equivocation(leader, alive)
        outcome = run_round(t0, leader, self.base_us, factors, alive, self.quorum,
                            self._lost(t0, factors.shape), serialize, self._vote_delay,
                            voters)
        nxt = (leader + 1) % n
        commit = int(outcome.commit_us[nxt]) if alive[nxt] else INF
        if not outcome.committed or commit >= INF:
            self._view_change(t0)
            return
        committed_at = self._executed_at(outcome.commit_us, alive)
        self._commit(included, leader, t0, committed_at, forked)
        self.next_start, self.leader = max(commit, t0 + 1), nxt
        self._publish(t0, committed_at)

    def _factors(self) -> np.ndarray:
        """The round's message jitter factors, (3, n, n). Without ``loss`` nothing else
        draws from ``rng`` between rounds, so they are drawn for many rounds at once: a
        generator fills a batch with the values the same draws one round at a time give."""
        n, sigma = self.c.nodes, self.c.jitter_sigma
        if self.c.loss:
            return self.rng.lognormal(0.0, sigma, size=(3, n, n))
        if self._next_factor == len(self._factor_batch):
            rounds = max(1, 8192 // (3 * n * n))
            self._factor_batch = self.rng.lognormal(0.0, sigma, size=(rounds, 3, n, n))
            self._next_factor = 0
        self._next_factor += 1
        return self._factor_batch[self._next_factor - 1]

    def _executed_at(self, commit_us: np.ndarray, alive: np.ndarray) -> int:
        """When the round's block executes: the median member's commit, or with
        ``encrypted`` its decryption (shares jittered on their own keyed stream)."""
        if self.c.encrypted:
            n = self.c.nodes
            z = keyed_normals(self.seed, "committee.decrypt",
                              np.repeat(np.arange(n) + self.height * n, n), np.tile(np.arange(n), n))
            delay = self.base_us * np.exp(self.c.jitter_sigma * z).reshape(n, n)
            delay[~alive, :] = np.inf
            decrypted = decryption_times(commit_us, delay, self.f + 1)
            at = median_us(decrypted)
            # blocks still execute in round order, whichever decrypts first
            return max(at, self.block_times[-1]) if self.block_times else at
        return median_us(commit_us)

    def _equivocation(self, leader: int, alive: np.ndarray) -> tuple[np.ndarray | None, bool]:
        """Who votes for the block the run follows, and whether its conflicting twin is
        certified too, when an equivocating byzantine leader splits the honest members
        (``seqlab.consensus.equivocation_votes``); (None, False) for an honest round."""
        if not (self.c.equivocate and self.byzantine[leader]):
            return None, False
        honest = np.flatnonzero(alive & ~self.byzantine)
        first_half = honest[: (len(honest) + 1) // 2]
        voters = alive & self.byzantine
        voters[first_half] = True
        byzantine = int((alive & self.byzantine).sum())
        return voters, forks(self.c.nodes, len(honest), byzantine)

    def _commit(self, included: np.ndarray, leader: int, t0: int, committed_at: int,
                forked: bool = False) -> None:
        rows = self._rows(included)
        ids = self._order(included, leader, t0)
        self._check_safety(ids)
        if forked:  # the twin differs from ``ids`` by the leader's mark on it
            self._check_safety(ids, b"equivocation")
        if len(included):
            self._drop(~rows)
        self._ready.append((committed_at, ids))
        self.block_times.append(committed_at)
        self.height += 1

    def _view_change(self, t0: int) -> None:
        self.view_changes += 1
        self.next_start = t0 + self.c.timeout
        self.leader = (self.leader + 1) % self.c.nodes
        self._publish(t0, -1)

    def _publish(self, t0: int, committed_at: int) -> None:
        if self.shared is not None:
            self.shared.rounds.append((t0, committed_at, self.next_start, self.leader))

    def _replay(self) -> None:
        """A member of a shared consensus: the next round as the first member ran it."""
        t0, committed_at, nxt, nxt_leader = self.shared.rounds[self._replayed]
        self._replayed += 1
        if committed_at < 0:
            self.view_changes += 1
        else:
            self._commit(self._collect(t0, self._alive(t0)), self.leader, t0, committed_at)
        self.next_start, self.leader = nxt, nxt_leader

    def _collect(self, t0: int, alive: np.ndarray) -> np.ndarray:
        """Pending txs that appear in at least f+1 of the live nodes' candidate lists."""
        if not len(self._ids) and not self._unspread:
            return np.empty(0, dtype=np.int64)
        list_time = t0 - t0 % self.c.list_interval
        self._spread(list_time - self.c.list_age)  # only ordinary txs wait unspread
        self._expire(list_time)
        if self.c.byzantine and self.view is not None and not self.c.encrypted:
            # byzantine members leave margin top-ups out of their lists: they censor what
            # they can, but an honest f+1 still carries a transaction in
            censored = member(self.view.txs.known_kind(self._ids),
                              np.array((Kind.TOPUP, Kind.OPT_TOPUP)))
        else:
            censored = np.zeros(len(self._ids), dtype=bool)
        # one list carries a priority bundle (listed at once), f+1 an ordinary transaction;
        # bundles are pending in the order the controller sent them
        ok = listed(self._recv, self._priority, alive, list_time, self.c.list_age,
                    self.f + 1, censored, self.byzantine)
        included = self._ids[ok]
        self._taken = (included, ok)
        return included

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        """Which pending rows hold ``ids``: known without a search when ``ids`` is what
        ``_collect`` just returned (a round commits exactly that)."""
        if self._taken is not None and self._taken[0] is ids:
            return self._taken[1]
        return member(self._ids, ids)

    def _expire(self, list_time: int) -> None:
        """Drop the priority bundles of an epoch that ended before these lists were cut:
        the specification includes the current epoch's bundles only. They never execute
        (they stay pending) and the lane stops waiting for them."""
        if self.lane is None:
            return
        old = self._priority & (self._epoch >= 0) & \
            (self._epoch < list_time // self.lane.tb.round)
        if old.any():
            dropped = self._ids[old]
            self.expired_bundles += len(dropped)
            self.lane.forget(dropped)
            self._remove(dropped)

    def _remove(self, ids: np.ndarray) -> None:
        self._drop(~member(self._ids, ids))

    def _drop(self, keep: np.ndarray) -> None:
        """Keep only the pending rows marked in ``keep``."""
        self._taken = None
        # the receive times' rows by compress: half a 2-D boolean index's cost
        self._ids, self._recv, self._origin = self._ids[keep], \
            self._recv.compress(keep, axis=0), self._origin[keep]
        self._priority, self._epoch = self._priority[keep], self._epoch[keep]

    def _order(self, ids: np.ndarray, leader: int, t0: int) -> np.ndarray:
        """Deterministic order, or the leader's (an extractive operator if byzantine);
        ``ids`` are pending txs in their pending order."""
        if not len(ids):
            return ids
        rows = self._rows(ids)
        if self.c.ordering == "leader":
            arrival = self._recv[rows][:, leader]
            ids = ids[np.argsort(arrival, kind="stable")]
            if self.byzantine[leader] and self.operator is not None and not self.c.encrypted:
                return self.operator.plan(ids, np.sort(arrival), t0, can_hold=False)
            return ids
        origin = self._origin[rows]
        key = keyed_normals(self.seed, f"committee.order/{self.height}", origin, 0)
        ordered = ids[np.lexsort((ids, key))]
        if self.lane is None:
            return ordered
        # the express lane's bundles first, in the order the controller sent them
        bundles = member(ordered, self._ids[self._priority])
        sent = self._sent_order(ordered[bundles])
        return np.concatenate((sent, ordered[~bundles]))

    def _sent_order(self, bundles: np.ndarray) -> np.ndarray:
        """Priority bundles in the order the controller sent them (their sequence
        numbers): the order they were handed to the members."""
        pos = np.flatnonzero(member(self._ids, bundles))
        return self._ids[pos]

    def _check_safety(self, ids: np.ndarray, mark: bytes = b"") -> None:
        """Record the block certified at this height; a second, different one is a fork:
        counted beyond f byzantine members, a bug (raised) within the bound."""
        digest = hashlib.sha256(np.asarray(ids, "<i8").tobytes() + mark).hexdigest()
        if self._committed.setdefault(self.height, digest) == digest:
            return
        if self.c.byzantine <= self.f:
            raise SafetyViolation(f"two different blocks at height {self.height} with "
                                  f"{self.c.byzantine} byzantine of {self.c.nodes} "
                                  f"(f = {self.f})")
        self.safety_violations += 1

    # reporting ------------------------------------------------------------------------
    def metrics(self, horizon_us: int) -> dict:
        times = np.asarray(self.block_times, dtype=np.int64)
        edges = np.r_[0, times[times <= horizon_us], horizon_us]
        return {"committee_nodes": self.c.nodes, "committee_blocks": int(len(times)),
                "blocks_per_min": round(len(times) / (horizon_us / 60e6), 3),
                "max_block_gap_ms": round(float(np.diff(edges).max()) / 1000.0, 3),
                "view_changes": self.view_changes,
                "safety_ok": self.safety_violations == 0,
                "safety_violations": self.safety_violations,
                "byzantine_over_f": self.c.byzantine > self.f,
                **(self._lane_metrics(horizon_us) if self.lane is not None else {})}

    def _lane_metrics(self, horizon_us: int) -> dict:
        out = self.lane.metrics(horizon_us)
        out.setdefault("design_metrics", {})["expired_bundles"] = self.expired_bundles
        return out
