"""The incremental margin view and lazy exposure agree with recomputing everything.

The perps protocol keeps equity, notional and the liquidatable flag current by
recomputing only the accounts a block touched, and accrues exposure from a price-time
integral instead of every block. Both are speed work: here every block of real runs is
checked against the full computation the protocol used to do.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from seqlab.cluster import make_world
from seqlab.protocols.perps import PPM, all_margins, below_maintenance, margin_arrays
from seqlab.scenario.loader import load_scenario
from tests.pinned import shrunk


def watch(world):
    """Subscribe a checker after the world's own feed; returns the eager exposure."""
    p = world.protocol
    eager = {"exposure": np.zeros_like(p.exposure), "t": 0, "blocks": 0, "flagged": 0}

    def check(block, t_us, ids, status):
        view = p.margin_view.refresh()
        equity, notional = margin_arrays(p, np.arange(len(p.size)), p.price)
        assert np.array_equal(view.equity, equity)
        assert np.array_equal(view.notional, notional)
        assert np.array_equal(view.below, below_maintenance(p, p.size, equity, notional))
        assert view.count == np.count_nonzero(view.below)  # kept, not counted
        assert np.array_equal(p.liquidatable(), np.flatnonzero(view.below))
        eager["blocks"] += 1
        eager["flagged"] += view.count > 0

    def accrue(t_us):  # the old per-block accrual, at the start of each block
        dt = (t_us - eager["t"]) / 31_536e9
        eager["t"] = t_us
        if dt > 0 and p.price:
            usd = p.size * (p.price / PPM / PPM)
            eager["exposure"][0] += np.clip(usd, 0, None) * dt
            eager["exposure"][1] += np.clip(-usd, 0, None) * dt

    begin = p.begin_block

    def begin_block(t_us):
        if t_us != p._begun:
            accrue(t_us)
        begin(t_us)

    p.begin_block = begin_block
    world.rollup.subscribe(check)
    return eager


@pytest.mark.parametrize("scenario,design", [("default", "extractive"),
                                             ("default+crash", "honest"),
                                             ("black-thursday", "honest"),
                                             ("outage", "priority"),
                                             ("options", "extractive-censor")])
def test_margin_view_and_exposure_match_full_recomputation(scenario, design):
    world = make_world(shrunk(scenario, design), 1)
    eager = watch(world)
    world.run()
    assert eager["blocks"] > 100
    if "crash" in scenario:  # the calm shrunk runs flag nobody; this one liquidates
        assert eager["flagged"] > 0
    accrue_end = world.protocol.exposure  # run() booked exposure to the horizon
    p = world.protocol
    dt = (world.horizon - eager["t"]) / 31_536e9
    usd = p.size * (p.price / PPM / PPM)
    eager["exposure"][0] += np.clip(usd, 0, None) * dt
    eager["exposure"][1] += np.clip(-usd, 0, None) * dt
    assert eager["exposure"].sum() > 0
    np.testing.assert_allclose(accrue_end, eager["exposure"], rtol=1e-9, atol=1e-12)


def test_a_watcher_behind_other_refreshes_still_sees_every_change():
    """Refreshes by others (an operator strategy) between a watcher's looks must not
    hide the accounts they recomputed."""
    world = make_world(shrunk("tiny", "honest"), 1)
    p = world.protocol
    view = p.margin_view
    view.refresh()
    seen = view.generation
    for account in (3, 7, 11):
        view.touched.append(account)
        view.refresh()  # someone else looks in between
    assert sorted(view.since(seen).tolist()) == [3, 7, 11]
    assert view.since(seen - 1) is None  # from before the last full recompute: reread all
    view.stale()
    view.refresh()
    assert view.since(seen) is None  # a full recompute: the watcher rereads all


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.lists(st.integers(1, 4), min_size=1, max_size=700),
       st.booleans())
@example(250, [1] * 20, False)  # across the first trim
def test_many_refreshes_logged_at_once_answer_since_safely(before, sizes, full_last):
    """``logged_many`` (a stretch of quiet blocks' refreshes, the last a partial one or,
    after an oracle update, a full one) reaches the generation the refreshes one at a
    time reach, answers ``since`` as they do from the last refresh on, and for a
    watcher further behind says all may have changed (never a partial answer missing
    an account)."""
    views = [make_world(load_scenario("tiny"), 1).protocol.margin_view for _ in range(2)]
    for view in views:
        for k in range(before):
            view.logged(np.array([k]))
    idx = np.arange(sum(sizes), dtype=np.int64)
    bounds = np.concatenate(([0], np.cumsum(sizes))).astype(int).tolist()
    one, many = views
    for k in range(len(sizes) - 1):
        one.logged(idx[bounds[k]:bounds[k + 1]])
    if full_last:  # what ``refresh`` does at a new price
        one.generation += 1
        one._full, one._log = one.generation, []
    else:
        one.logged(idx[bounds[-2]:])
    many.logged_many(len(sizes), None if full_last else idx[bounds[-2]:], 7)
    assert one.generation == many.generation and many.price == 7
    for g in range(one.generation + 1):
        mine = many.since(g)
        if g >= one.generation - 1:
            theirs = one.since(g)
            assert (mine is None and theirs is None) or mine.tolist() == theirs.tolist()
        else:
            assert mine is None


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 10 ** 10), st.data())
def test_every_accounts_margins_in_one_pass_are_the_array_forms_bits(price, data):
    """``all_margins`` (an oracle update's full refresh, compiled) equals
    ``margin_arrays`` and ``below_maintenance`` bit for bit, and counts the flags."""
    p = make_world(load_scenario("tiny"), 1).protocol
    n = len(p.size)
    ints = st.integers(-10 ** 15, 10 ** 15)
    p.size[:] = data.draw(st.lists(st.integers(-10 ** 12, 10 ** 12), min_size=n, max_size=n))
    p.basis[:] = data.draw(st.lists(ints, min_size=n, max_size=n))
    p.ledger.balances[p.margin] = data.draw(st.lists(ints, min_size=n, max_size=n))
    equity, notional, below, count = all_margins(p, price)
    ref_equity, ref_notional = margin_arrays(p, None, price)
    assert equity.view(np.int64).tolist() == ref_equity.view(np.int64).tolist()
    assert notional.view(np.int64).tolist() == ref_notional.view(np.int64).tolist()
    assert below.tolist() == below_maintenance(p, p.size, ref_equity, ref_notional).tolist()
    assert count == np.count_nonzero(below)
