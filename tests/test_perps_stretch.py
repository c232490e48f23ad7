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
from tests.worlds import VARIANTS, snapshot, tiny_world

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


@settings(max_examples=10, deadline=None)
@given(st.sampled_from(sorted(VARIANTS)), st.integers(1, 10_000), STOPS)
@example("plain", 1, [100_000_123, 300_000_000, 450_500_000])
@example("losing", 2, [200_000_000])
def test_the_runner_changes_nothing(variant, seed, stops):
    """Against the general path with neither the runner nor the shortcut, stopping
    the heap at arbitrary moments on the way."""
    seen: collections.Counter = collections.Counter()
    with _counting(seen):
        fast = _stepped(tiny_world("honest", seed, variant), stops)
    slow = _stepped(tiny_world("honest", seed, variant, shortcut=False, runner=False),
                    stops)
    assert seen["blocks"] > 0  # it ran
    for mine, theirs in zip(fast, slow):
        for key in theirs:
            assert mine[key] == theirs[key], key


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


@pytest.mark.parametrize("design", ["extractive", "priority", "fair-ordering"])
def test_only_first_come_first_served_is_run(design):
    """Other designs order blocks in Python (or take fees): no runner."""
    assert not tiny_world(design, 1).rollup._running
    assert tiny_world("honest", 1).rollup._running


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
