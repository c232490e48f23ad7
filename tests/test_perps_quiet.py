"""A quiet perps block run in one compiled call (``protocols.perps_quiet``) leaves the
world exactly as the block's general path does: every ledger row, every transaction's
outcome, the margin view's bits and the managers' flags, in worlds whose blocks are
quiet, loud (an account liquidatable, a manager due) or stopped by the kernel (a loss
beyond margin), and under designs the shortcut must decline (tips, batch clearing)."""
from __future__ import annotations

import collections
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.cluster import make_world
from seqlab.protocols import perps_quiet
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario.loader import load_scenario
from seqlab.txs import Kind
from tests.worlds import VARIANTS, snapshot, tiny_world


def _run(design: str, seed: int, shortcut: bool, outcomes: collections.Counter,
         variant: str = "plain"):
    """A world without the runner (whose stretches would take the quiet blocks)."""
    world = tiny_world(design, seed, variant, shortcut=shortcut, runner=False)
    summary = world.run().summary
    outcomes["applies"] += world.rollup._short
    return world, summary


def _watching(seen: collections.Counter):
    """The shortcut, counting what it did with each block it was offered (declined,
    quiet, loud) and how often its kernel stopped inside a block, and checking after
    each block it took the counts it keeps against their recomputation."""
    run, resume = perps_quiet.QuietBlocks.run, PerpsProtocol._execute_compiled

    def counted_run(self, ids, block, t_us):
        taken = run(self, ids, block, t_us)
        seen["declined" if taken is None else "quiet" if taken[1] else "loud"] += 1
        if taken is not None:
            view, managers = self.p.margin_view, self.agents.managers
            assert view.count == np.count_nonzero(view.below)
            assert managers.n_due == np.count_nonzero(managers.due)
            assert not taken[1] or self.agents._margin_seen == view.generation
        return taken

    def counted_resume(self, ids, kinds, block, t_us, batch, pos=0, status=None):
        seen["resumed"] += pos > 0 and status is not None
        return resume(self, ids, kinds, block, t_us, batch, pos, status)

    return (mock.patch.object(perps_quiet.QuietBlocks, "run", counted_run),
            mock.patch.object(PerpsProtocol, "_execute_compiled", counted_resume))


@pytest.fixture
def outcomes() -> collections.Counter:
    seen: collections.Counter = collections.Counter()
    first, second = _watching(seen)
    with first, second:
        yield seen


@settings(max_examples=6, deadline=None)
@given(st.sampled_from(["honest", "extractive"]), st.sampled_from(sorted(VARIANTS)),
       st.integers(1, 10_000))
def test_the_shortcut_changes_nothing(design, variant, seed):
    seen: collections.Counter = collections.Counter()
    first, second = _watching(seen)
    with first, second:
        fast = snapshot(*_run(design, seed, True, seen, variant))
        slow = snapshot(*_run(design, seed, False, seen, variant))
    assert seen["applies"] == 1  # the first world used it, the second did not
    for key in fast:
        assert fast[key] == slow[key], key


def test_quiet_loud_and_stopped_blocks_are_each_met(outcomes):
    """The worlds of the differential test meet every way through the shortcut (so its
    equality is not vacuous): quiet blocks, loud ones the feed then handles, blocks its
    kernel stopped in, and blocks it declined."""
    for seed in (1, 2, 3):
        fast = snapshot(*_run("honest", seed, True, outcomes, "stress"))
        slow = snapshot(*_run("honest", seed, False, outcomes, "stress"))
        assert fast == slow
    assert min(outcomes["quiet"], outcomes["loud"], outcomes["declined"],
               outcomes["resumed"]) > 0, outcomes


@pytest.mark.parametrize("design", ["priority", "batch-auction"])
def test_designs_that_charge_tips_or_clear_in_batches_are_declined(design, outcomes):
    """The rollup keeps its own path for blocks it asks something of (priority tips,
    batch clearing): a design whose every block does so is never offered the
    shortcut, and the rollup does not ask block by block."""
    _run(design, 1, True, outcomes)
    assert outcomes["applies"] == 0
    assert outcomes["quiet"] + outcomes["loud"] + outcomes["declined"] == 0


def test_a_block_with_a_top_up_is_declined_untouched():
    """A block holding any transaction the kernel does not run is declined before
    anything happens to it (the protocol's general path runs it whole)."""
    world = make_world(load_scenario("tiny"), 1)
    world.sim.run(60_000_000)
    cut, p = world.rollup.shortcut, world.protocol
    ids = world.txs.add_many(Kind.TOPUP, np.array([0]), np.array([0]), np.array([0]),
                             np.array([1_000_000]))
    trade = world.txs.add_many(Kind.TRADE, np.array([1]), np.array([0]), np.array([0]),
                               np.array([1_000_000]))
    balances, begun = world.ledger.balances.copy(), p._begun
    assert cut.run(np.concatenate((trade, ids)), 999, 61_000_000) is None
    assert p._begun == begun and np.array_equal(world.ledger.balances, balances)
