"""A shared sequencer's bundles: atomic inclusion vs atomic execution, leg risk, and an
extractive shared operator trading ahead of the bundles it sees."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.agents.leg_risk import LegRisk, round_trip_cost_usd
from seqlab.cluster import Cluster
from seqlab.errors import SeqlabError
from seqlab.scenario.loader import LoadedScenario
from seqlab.txs import Kind, Status, TxStore
from tests.test_cluster import world


def spied(execution: str, seed: int, **extra):
    """A busy two-rollup shared world whose bundle placement is watched: every bundle sent,
    and for every tx placed at the top of a block whether that rollup alone would execute
    it there (the protocol's own trade rule, asked on the block's starting state)."""
    cluster = Cluster(world("shared", arbs=8, fee_bps=1.0, rollups__bundle_execution=execution,
                            **extra), seed)
    bundles, alone = [], {}
    submit, place = cluster.bundles.submit, cluster.bundles.top_of_blocks

    def on_submit(arrival, legs):
        bundles.append(legs)
        submit(arrival, legs)

    def on_place(now):
        lead = place(now)
        for k, ids in enumerate(lead):
            if ids is not None:
                p, txs = cluster.chains[k].protocol, cluster.chains[k].txs
                p.begin_block(now)
                tx = int(ids[0])
                alone[(k, tx)] = p.can_trade(int(txs.sender[tx]), int(txs.a[tx]),
                                             int(txs.b[tx]))
        return lead

    cluster.bundles.submit, cluster.bundles.top_of_blocks = on_submit, on_place
    if cluster.arbs is not None:
        cluster.arbs.bundle = on_submit
    result = cluster.run()
    return cluster, result, bundles, alone


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(1, 10_000), execution=st.sampled_from(["inclusion", "atomic"]))
def test_each_leg_does_what_its_rollup_alone_would(seed, execution):
    """Inclusion only: every leg of a placed bundle is included, and it executes exactly
    when its rollup alone would execute it at the top of that block. Atomic: both legs
    or neither. The ledgers balance exactly either way."""
    cluster, result, bundles, alone = spied(execution, seed)
    assert result.summary["ledger_residual"] == 0
    assert all(c.ledger.check() == 0 for c in cluster.chains)
    placed = 0
    for legs in bundles:
        status = [int(cluster.chains[k].txs.status[tx]) for k, tx in legs]
        included = [int(cluster.chains[k].txs.included_us[tx]) for k, tx in legs]
        if Status.PENDING in status:
            continue  # still queued at the horizon
        if execution == "atomic":
            assert len(set(status)) == 1
            assert (status[0] == Status.OK) == all(t >= 0 for t in included)
        if all(t >= 0 for t in included):
            placed += 1
            assert len(set(included)) == 1  # same round, top of each rollup's block
            for (k, tx), s in zip(legs, status):
                assert (s == Status.OK) == alone[(k, tx)]
        else:
            assert execution == "atomic" and not any(t >= 0 for t in included)
    assert placed > 0


def test_leg_failures_occur_and_are_unwound():
    """A busy world (1 bps fees, eight arbitrageurs racing one gap) leaves legs filled
    alone under inclusion only; each is unwound and its cost booked. Atomic execution on
    the same world leaves none."""
    cluster, result, _, _ = spied("inclusion", 1)
    risk = result.summary["leg_risk"]
    assert risk["execution"] == "inclusion"
    assert risk["one_leg_reverted"] > 0
    assert risk["reverted_on_a"] + risk["reverted_on_b"] == risk["one_leg_reverted"]
    assert risk["sent"] == risk["both_executed"] + risk["one_leg_reverted"] \
        + risk["both_reverted"] + risk["dropped"]
    table = result.tables["arbitrage"]
    one = table["outcome"] == "failed_leg"
    assert (table["reverted_rollup"][one] >= 0).all() and (table["reverted_rollup"][~one] == -1).all()
    assert (table["unhedged_usd"][one] > 0).all()
    assert risk["unhedged_usd"] == pytest.approx(table["unhedged_usd"].sum(), abs=0.01)
    assert risk["unwind_cost_usd"] == pytest.approx(table["unwind_cost_usd"].sum(), abs=0.01)
    # each naked leg was unwound on its own rollup, through that rollup's sequencer: an
    # unwind is an arbitrageur's trade without a limit (at most one per arbitrageur is
    # still in flight at the horizon)
    arb0 = cluster.arbs.account0
    for k, chain in enumerate(cluster.chains):
        txs = chain.txs
        unwinds = ((txs.column("kind") == Kind.TRADE) & (txs.column("sender") >= arb0)
                   & (txs.column("sender") < arb0 + 8) & (txs.column("b") == 0)
                   & (txs.column("status") == Status.OK))
        naked = (one & (table["reverted_rollup"] != k)).sum()
        assert naked - 8 <= unwinds.sum() <= naked
    _, atomic, _, _ = spied("atomic", 1)
    assert atomic.summary["leg_risk"]["one_leg_reverted"] == 0
    assert atomic.summary["leg_risk"]["unwind_cost_usd"] == 0


def test_round_trip_cost_by_hand():
    txs = TxStore()
    at = np.array([0])
    leg, unwind = txs.add_many(Kind.TRADE, 0, np.r_[at, at], np.r_[at, at],
                               np.array([2_000_000_000, -2_000_000_000]), 0)
    txs.fill[leg], txs.fill[unwind] = 2_000_000_000, 1_990_000_000  # bought at 2000, sold at 1990
    # one unit lost 10 USD; fees 5 bps on 2 × 2000 USD = 2 USD
    assert round_trip_cost_usd(txs, leg, unwind, 500) == pytest.approx(12.0)
    txs.a[leg], txs.a[unwind] = -2_000_000_000, 2_000_000_000  # short: the fall was a gain
    assert round_trip_cost_usd(txs, leg, unwind, 500) == pytest.approx(-8.0)


def test_expected_leg_loss_is_the_failure_share_times_the_unwind_cost():
    risk = LegRisk(2)
    assert risk.expected_loss_bps(0) == 0.0  # nothing assumed before a failure
    for one_leg in (True, False, False, False):
        risk.attempt(0, one_leg)
    risk.unwound(0, 100_000.0, 50.0)  # 5 bps of the naked leg
    assert risk.expected_loss_bps(0) == pytest.approx(0.25 * 5.0)
    risk.attempt(1, True)
    risk.unwound(1, 100_000.0, -50.0)  # a lucky unwind lowers nothing
    assert risk.expected_loss_bps(1) == 0.0


def test_a_kill_switch_stops_losing_arbitrageurs():
    """With a loss limit of almost nothing, an arbitrageur stops at its first loss."""
    loaded = world("shared", arbs=8, fee_bps=1.0)
    sc = loaded.scenario
    arb = sc.agents.arbitrageurs.model_copy(update={"max_loss_share": 1e-6})
    tight = LoadedScenario(sc.model_copy(update={"agents": sc.agents.model_copy(
        update={"arbitrageurs": arb})}), loaded.source, loaded.base_dir)
    loose = Cluster(loaded, 1).run().summary["leg_risk"]
    stopped = Cluster(tight, 1).run().summary["leg_risk"]
    assert stopped["stopped_arbitrageurs"] > loose["stopped_arbitrageurs"]
    assert stopped["sent"] < loose["sent"]


def test_an_extractive_shared_operator_copies_bundles_ahead_of_their_legs():
    cluster, result, bundles, _ = spied("inclusion", 1, rollups__operator="extractive")
    op = result.summary["cross_operator"]
    assert op["copies"] > 0 and op["expected_gain_usd"] > 0
    assert result.summary["ledger_residual"] == 0
    acct = cluster.bundles.operator.account
    for k, chain in enumerate(cluster.chains):
        txs = chain.txs
        copies = np.flatnonzero((txs.column("sender") == acct)
                                & (txs.column("kind") == Kind.TRADE))
        assert len(copies) == op["copies"]
        # a copy went first, at the quote it was given: it always executes
        assert (txs.status[copies] == Status.OK).all()
        assert (txs.fill[copies] == txs.b[copies]).all()
    from seqlab.report.html import render_html

    page = render_html(result)
    assert "left one leg filled alone" in page and "The shared operator copied" in page
    with pytest.raises(SeqlabError, match="rollups.operator"):
        world("isolated", rollups__operator="extractive")


def test_an_arbitrageur_sends_only_when_the_gap_pays_its_expected_leg_loss():
    """One arbitrageur has learnt that leg failures cost more than any gap pays: it never
    sends, while the others (who have seen nothing yet) do."""
    cluster = Cluster(world("shared", arbs=4, fee_bps=1.0), 1)
    cluster.arbs.risk.attempt(0, True)
    cluster.arbs.risk.unwound(0, 1.0, 1.0)  # its one naked leg lost all it was worth
    table = cluster.run().tables["arbitrage"]
    sent = np.bincount(table["arbitrageur"], minlength=4)
    assert sent[0] == 0 and (sent[1:] > 0).all()
