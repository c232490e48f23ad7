"""Stretches of quiet blocks and quiet polls played in one compiled call
(``protocols.perps_stretch``) leave the world exactly as the tick loop and the event
heap do, at every moment the heap is looked at: the same blocks, ledger rows, margin
bits, managers' flags, bots stopped by their loss limit, and the same heap entries
with the same sequence numbers."""
from __future__ import annotations

import collections
from unittest import mock

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqlab.protocols import perps_stretch, stretch_kernel as sk
from tests.worlds import OPERATOR_VARIANTS, VARIANTS, snapshot, tiny_world

OUTCOMES = ("before", "loud", "partial", "pending", "end")


def _stepped(world, stops: list[int]) -> list[dict]:
    """Snapshots of ``world`` run to each of ``stops`` in turn, then to its end."""
    world.rollup.start()
    snaps = []
    for t in stops:
        world.sim.run(t)
        snaps.append(snapshot(world))
    world.sim.run(world.horizon)
    snaps.append(snapshot(world, world.finish().summary))
    return snaps


def _counting(seen: collections.Counter):
    """The runner, counting how its stretches ended and the blocks they ran."""
    run = perps_stretch.PerpsStretch.run

    def counted(self, now):
        step = run(self, now)
        seen[OUTCOMES[self.sc[sk.OUTCOME]]] += 1
        seen["blocks"] += int(self.sc[sk.NBLOCKS])
        return step

    return mock.patch.object(perps_stretch.PerpsStretch, "run", counted)


# moments to stop the heap at: whole seconds (a tick, an oracle watch) or between them
STOPS = st.lists(st.tuples(st.integers(1, 599), st.sampled_from([0, 123_457]))
                 .map(lambda s: s[0] * 1_000_000 + s[1]), max_size=3).map(sorted)


def _same_either_way(design: str, variant: str, seed: int, stops: list[int]) -> None:
    """The world with the runner against the general path with neither the runner nor
    the shortcut, stopping the heap at ``stops`` on the way."""
    seen: collections.Counter = collections.Counter()
    with _counting(seen):
        fast = _stepped(tiny_world(design, seed, variant), stops)
    slow = _stepped(tiny_world(design, seed, variant, shortcut=False, runner=False), stops)
    assert seen["blocks"] > 0  # it ran
    for mine, theirs in zip(fast, slow):
        for key in theirs:
            assert mine[key] == theirs[key], key


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(sorted(VARIANTS)), st.integers(1, 10_000), STOPS)
@example("plain", 1, [100_000_123, 300_000_000, 450_500_000])
@example("losing", 2, [200_000_000])
@example("inbox", 1, [300_000_000])  # a message waits in the delayed inbox
def test_the_runner_changes_nothing(variant, seed, stops):
    """Under FCFS, stopping the heap at arbitrary moments on the way."""
    _same_either_way("honest", variant, seed, stops)


@settings(max_examples=4, deadline=None)
@given(st.sampled_from(sorted(VARIANTS) + sorted(OPERATOR_VARIANTS)),
       st.integers(1, 10_000), STOPS)
@example("stress", 2, [150_000_000, 400_000_123])  # top-ups censored, one in the inbox
@example("inbox", 1, [300_000_000])  # top-ups sent through the inbox and held there
@example("wrap", 1, [200_000_123])  # trades wrapped
@example("censor", 2, [])  # censoring alone: updates keep their place
@example("delay", 1, [100_000_000])  # updates held: blocks holding one are the operator's
def test_the_runner_changes_nothing_an_operator_does(variant, seed, stops):
    """Under an extractive operator: the blocks it leaves as they arrived are the
    runner's, the rest (and every block while it holds what the runner cannot judge)
    its own, as the general path has them."""
    _same_either_way("extractive", variant, seed, stops)


def test_an_operator_meets_the_runner_every_way():
    """The operator worlds above play blocks while top-ups are censored, while a held
    top-up waits in the delayed inbox, and with oracle updates put first; and the
    operator still wraps trades, censors and holds updates in them (so the blocks the
    runner declines are met too)."""
    seen: collections.Counter = collections.Counter()
    run = perps_stretch.PerpsStretch.run

    def counted(self, now):
        held, inbox = len(self._held[0]), self.rollup.inbox
        step = run(self, now)
        blocks = int(self.sc[sk.NBLOCKS])
        seen["while censoring"] += blocks if held else 0
        seen["while the inbox waits"] += blocks if inbox is not None and len(inbox) else 0
        seen["updates first"] += int(self.sc[sk.NUPDATES])
        return step

    worlds = {}
    with mock.patch.object(perps_stretch.PerpsStretch, "run", counted):
        for variant, seed in (("stress", 2), ("inbox", 1), ("wrap", 1), ("delay", 1)):
            worlds[variant] = world = tiny_world("extractive", seed, variant)
            world.run()
    assert min(seen.values()) > 0, seen
    held = {v: int(w.txs.held[:w.txs.n].sum()) for v, w in worlds.items()}
    assert held["stress"] > 0 and held["delay"] > held["stress"]  # the updates too
    assert worlds["inbox"].rollup.inbox.posted_count > 0
    wrap = worlds["wrap"]
    assert (wrap.txs.sender[:wrap.txs.n] == wrap.assembly.design_view.accounts.sandwich).any()


@pytest.mark.parametrize("design, changes, runs", [
    ("honest", {}, True), ("extractive", {}, True),
    ("extractive", {"sequencer.max_txs_per_block": 5}, False),
    ("extractive", {"sequencer.strategy.hold_takes": True}, False),
    ("priority", {}, False), ("fair-ordering", {}, False)])
def test_the_runner_plays_only_designs_that_build_as_fcfs(design, changes, runs):
    """FCFS, and an operator who leaves blocks as they arrived when it has nothing to
    act on, have a rule (``Design.fcfs_rule``); designs that order every block in Python
    (or take fees), and a block limit, have none."""
    assert tiny_world(design, 1, changes).rollup._running == runs


def test_every_way_a_stretch_ends_is_met():
    """The worlds it is tested on end stretches in every way: before a block Python
    runs, after a loud one, inside one the kernel stopped in, behind an event, at the
    horizon (so the equality above is not vacuous)."""
    seen: collections.Counter = collections.Counter()
    with _counting(seen):
        for seed in (1, 2):
            for variant in VARIANTS:
                tiny_world("honest", seed, variant).run()
    assert min(seen[o] for o in OUTCOMES) > 0, seen


def test_reference_price_matches_the_python_reading():
    """``at_one`` compiled reads the reference path bit for bit as ``ReferencePrice``."""
    world = tiny_world("honest", 1)
    ref = world.reference
    t = np.asarray(ref._t_list, np.float64)
    p = np.asarray(ref._p_list, np.float64)
    rng = np.random.default_rng(5)
    times = np.concatenate((rng.integers(-10, 700_000_000, 2_000), t[:50].astype(np.int64)))
    for x in times.tolist():
        assert sk.at_one(t, p, float(x)) == ref.at_one(x)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 600_000_000)), max_size=40),
       st.lists(st.booleans(), min_size=9, max_size=9))
def test_a_bots_look_is_the_liquidators_own(calls, losing):
    """The kernel's check of a bot (down, or past its loss limit: then it stops) gives
    ``Liquidators.active``'s answers and stops the same bots, call after call."""
    world = tiny_world("honest", 1, "losing")
    runner, liq = world.rollup.runner, world.assembly.liquidators
    stopped, _, start, end, at, *_ = runner._bot_arrays()
    mine = stopped.copy()
    would_stop = np.array(losing)
    liq.costs = liq.costs.__class__(liq.costs.reward, liq.costs.reward_rate,
                                    lambda j: liq.max_loss[j] - 1 if losing[j] else 0)
    for j, t in calls:
        assert sk._looks(j, t, mine, would_stop, start, end, at, True) == liq.active(j, t)
        assert mine.tolist() == liq.stopped.tolist()


BIG = st.one_of(st.integers(-10 ** 12, 10 ** 12), st.integers(-2 ** 63 + 1, 2 ** 63 - 1))


@settings(max_examples=200, deadline=None)
@given(BIG, BIG, BIG, st.integers(1, 10 ** 12))
def test_under_water_is_the_protocols_own(size, basis, margin, price):
    """The kernel's exact equity test gives ``PerpsProtocol.underwater``'s answer, or
    leaves to Python (-1) just the accounts whose terms that method sums in Python."""
    world = tiny_world("honest", 1)
    p = world.protocol
    p.size[0], p.basis[0], p.price = size, basis, price
    p.ledger.balances[p.margin[0]] = margin
    mine = sk.under_water(0, price, p.size, p.basis, p.ledger.balances, p.margin)
    fits = abs(size) <= (1 << 61) // price and abs(margin) < 1 << 61 \
        and abs(basis) < 1 << 61
    assert mine == (int(p.underwater(np.array([0]))[0]) if fits else -1)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.5, 1.5))
def test_an_expected_update_flags_someone_new_as_the_forecast_says(move):
    """The kernel's test of an oracle watch (would an update at this price flag anyone
    not flagged now) agrees with the accounts ``PerpsAgents.forecast`` computes."""
    world = tiny_world("honest", 3, "stress")
    world.rollup.start()
    world.sim.run(300_000_000)
    p = world.protocol
    view = p.margin_view.refresh()
    price = int(p.price * move)
    coming = np.setdiff1d(p.liquidatable(price), p.liquidatable())
    assert sk._newly_below(price, p.mm_ppm, p.size, p.basis, p.ledger.balances, p.margin,
                           view.below) == (len(coming) > 0)
