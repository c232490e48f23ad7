"""The committee's express lane (decentralized Timeboost's priority epochs): the same
auction and controller as Timeboost, its bundles first in every committed block."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.committee import CommitteeDesign
from seqlab.sequencing.committee_config import Committee
from seqlab.txs import Kind, Status
from tests.test_committee import run

BUSY = {"market": {"volatility": 3.0}}  # oracle updates and liquidations for the lane


def lane_run(seed=1, **committee):
    """A run that records every committed block's order."""
    import seqlab.sequencing.committee as committee_module

    blocks = []
    original = committee_module.CommitteeDesign._order

    def recording(self, ids, leader, t0):
        out = original(self, ids, leader, t0)
        blocks.append(out)
        return out

    committee_module.CommitteeDesign._order = recording
    try:
        w, s = run({"nodes": 4, "express_lane": True, **committee}, seed=seed, **BUSY)
    finally:
        committee_module.CommitteeDesign._order = original
    return w, s, blocks


@pytest.fixture(scope="module", params=[False, True], ids=["clear", "encrypted"])
def lane(request):
    return lane_run(encrypted=request.param)


def test_the_controllers_bundles_go_first_in_each_block(lane):
    w, _, blocks = lane
    own = set(w.design.view.txs.inserted_since(0).tolist())
    mixed = 0
    for block in blocks:
        is_own = np.array([tx in own for tx in block.tolist()], dtype=bool)
        if is_own.any() and not is_own.all():
            mixed += 1
        # every bundle before every ordinary transaction, and in the order sent
        assert not (np.diff(is_own.astype(int)) > 0).any()
        assert (np.diff(block[is_own]) > 0).all()
    assert mixed > 0  # blocks where the lane's bundles went ahead of others


def test_the_lane_is_auctioned_used_and_paid_for(lane):
    w, s, _ = lane
    assert s["ledger_residual"] == 0
    m = s["design_metrics"]
    assert m["rounds_won"] > 0 and m["auction_paid_usd"] > 0
    assert m["express_txs"] > 0
    gas = w.ledger.totals_by_reason().get("express_gas", 0) / 1e6
    assert gas == pytest.approx(m["express_gas_usd"], abs=0.01)
    # every settlement but one still in consensus at the end has reached the treasury
    settled = w.txs.kind[: w.txs.n] == Kind.AUCTION
    late = settled & (w.txs.status[: w.txs.n] == Status.PENDING)
    assert late.sum() <= 1
    assert s["auction_revenue_usd"] <= m["auction_paid_usd"] + 0.01
    assert s["auction_revenue_usd"] >= m["auction_paid_usd"] - max(
        p for _, _, p in w.design.lane.rounds) - 0.01


def test_the_controller_liquidates_after_the_update_not_in_front_of_it(lane):
    """Its bundles go ahead of everything in a block, an oracle update included, so it
    tries no liquidation ahead of an update: the ones it sends are of accounts the
    executed state shows liquidatable, and they revert only when a round in between
    changed that (a keeper or a top-up first) — seldom."""
    w, s, _ = lane
    own = w.design.view.txs.inserted_since(0)
    liq = own[w.txs.kind[own] == Kind.LIQUIDATE]
    done = liq[w.txs.status[liq] != Status.PENDING]
    assert len(done) > 0
    failed = (w.txs.status[done] == Status.FAILED).mean()
    assert failed < 0.1
    assert s["design_metrics"]["express_revert_share_by_kind"]["liquidate"] == \
        pytest.approx(failed, abs=1e-4)


def test_off_by_default_and_then_no_auction():
    _, s = run({"nodes": 4})
    assert "design_metrics" not in s and s["auction_revenue_usd"] == 0


def test_express_lane_needs_the_deterministic_order():
    with pytest.raises(ValidationError, match='express_lane = true needs ordering'):
        Committee(express_lane=True, ordering="leader")
    assert Committee(express_lane=True).express_lane


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=4, max_value=10), st.data())
def test_inclusion_and_order_of_bundles_and_ordinary_transactions(n, data):
    """Whatever the members' receive times: an ordinary transaction goes in only once
    f+1 members have held it for list_age, a bundle once one member has it, never past
    a bundle sent before it that is still out; and the block puts the bundles first, in
    the order sent."""
    m = data.draw(st.integers(min_value=1, max_value=30))
    design = CommitteeDesign(Sequencer(design="committee",
                                       committee={"nodes": n, "express_lane": True}),
                             ("backrun",))
    recv = np.array(data.draw(st.lists(st.lists(st.integers(0, 2_000_000), min_size=n,
                                                max_size=n), min_size=m, max_size=m)))
    priority = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)))
    # ids in the order the members were handed them, which is the bundles' send order
    design._ids, design._recv, design._origin = np.arange(m), recv, np.arange(m)
    design._priority = priority
    t0 = data.draw(st.integers(0, 2_500_000))
    list_time = t0 - t0 % design.c.list_interval
    epoch = list_time // design.lane.tb.round
    late = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m))) & priority
    late &= epoch > 0  # a bundle from an epoch before this one
    design._epoch = np.where(priority, epoch - late, -1)
    alive = np.ones(n, dtype=bool)
    included = design._collect(t0, alive)
    assert design.expired_bundles == late.sum()
    assert not np.isin(np.flatnonzero(late), included).any()
    assert not np.isin(np.flatnonzero(late), design._ids).any()  # dropped from the queue
    keep = ~late
    recv, priority = recv[keep], priority[keep]
    ids = np.flatnonzero(keep)
    lists = np.where(priority[:, None], recv <= list_time, recv <= list_time - design.c.list_age)
    held = lists.sum(axis=1)
    inc = np.isin(ids, included)
    assert (held[inc & ~priority] >= design.f + 1).all()
    assert (inc[~priority] == (held[~priority] >= design.f + 1)).all()
    bundles = np.flatnonzero(priority)
    ready = held[bundles] >= 1
    prefix = len(ready) if ready.all() else int(np.argmin(ready))
    assert inc[bundles].tolist() == [k < prefix for k in range(len(bundles))]
    block = design._order(included, 0, t0)
    assert sorted(block.tolist()) == sorted(included.tolist())
    first = design._priority[np.searchsorted(design._ids, block)]
    assert not (np.diff(first.astype(int)) > 0).any()
    assert (np.diff(block[first]) > 0).all()

def test_a_bundle_is_committed_only_in_its_own_epoch():
    """The specification includes priority bundles of the current epoch only: every
    bundle a round collects was sent in the epoch its lists were cut in, and bundles left
    over from an ended epoch are dropped, counted and never executed."""
    seen = []
    original = CommitteeDesign._collect

    def checking(self, t0, alive):
        out = original(self, t0, alive)
        if self.lane is not None and len(out):
            pos = np.flatnonzero(np.isin(self._ids, out) & self._priority)
            epoch = (t0 - t0 % self.c.list_interval) // self.lane.tb.round
            seen.append((self._epoch[pos], epoch))
        return out

    CommitteeDesign._collect = checking
    try:
        w, s = run({"nodes": 4, "express_lane": True}, seed=2, **BUSY)
    finally:
        CommitteeDesign._collect = original
    assert seen and all((epochs == epoch).all() for epochs, epoch in seen)
    expired = s["design_metrics"]["expired_bundles"]  # rare: bundles reach members fast
    own = w.design.view.txs.inserted_since(0)
    pending = w.txs.status[own] == Status.PENDING
    assert pending.sum() >= expired
    assert s["ledger_residual"] == 0
