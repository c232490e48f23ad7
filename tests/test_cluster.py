"""Several rollups in one world: shared vs isolated sequencing, bundles, contagion."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import Cluster, make_world
from seqlab.errors import SeqlabError
from seqlab.experiments.compare import compare
from seqlab.outages import uptime_feed
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.txs import Kind, Status
from seqlab.world import World

MIN = 60_000_000


def world(mode="shared", arbs=4, count=2, outage="5min", fee_bps=5.0, **extra):
    """A small two-rollup world: 30 min, an outage (5 minutes) at minute 10."""
    data = load_scenario("shared-outage").scenario.model_dump(mode="python")
    data["duration"] = "30min"
    data["sequencer"]["outages"] = [{"start": "10min", "duration": outage}]
    data["agents"]["traders"].update(accounts=300, rate_per_s=4.0)
    data["agents"]["arbitrageurs"]["count"] = arbs
    data["rollups"].update(sequencing=mode, count=count)
    data["protocol"]["perps"]["taker_fee_bps"] = fee_bps
    if fee_bps < 5:  # busy arbitrage: any gap past the fees
        data["agents"]["arbitrageurs"]["min_gap_bps"] = 0.0
    for key, value in extra.items():
        section, field = key.split("__")
        data[section][field] = value
    return parse_scenario(data)


def run(mode="shared", arbs=4, seed=1, **extra):
    cluster = Cluster(world(mode, arbs, **extra), seed)
    result = cluster.run()
    return cluster, result


def blocks_in(result, rollup, start, end):
    b = result.tables["blocks"]
    mine = b["rollup"] == rollup
    return int(((b["t_us"] >= start) & (b["t_us"] < end) & mine).sum())


def test_a_shared_outage_halts_every_rollup_an_isolated_one_only_its_own():
    _, shared = run("shared")
    _, isolated = run("isolated")
    window = (10 * MIN, 15 * MIN)
    assert [blocks_in(shared, k, *window) for k in (0, 1)] == [0, 0]
    assert blocks_in(isolated, 0, *window) == 0
    assert blocks_in(isolated, 1, *window) > 300  # rollup b kept producing blocks
    assert shared.summary["contagion"]["rollups_halted"] == 2
    assert isolated.summary["contagion"]["rollups_halted"] == 1
    for r in (shared, isolated):  # every rollup's ledger balanced exactly
        assert r.summary["ledger_residual"] == 0
        assert all(row["blocks"] > 0 for row in r.summary["rollups"])


def test_the_halted_rollup_drifts_from_the_live_one_until_restart():
    _, shared = run("shared", outage="15min")
    _, isolated = run("isolated", outage="15min")
    g_iso = isolated.summary["contagion"]["price_gap"]
    g_sh = shared.summary["contagion"]["price_gap"]
    assert g_iso["max_during_outage_bps"] > g_sh["max_during_outage_bps"]
    assert g_iso["at_restart_bps"] > g_sh["at_restart_bps"]


def test_rollup_a_sees_exactly_what_a_one_rollup_run_sees():
    """Without arbitrageurs, isolated rollup a is the plain one-rollup world."""
    _, isolated = run("isolated", arbs=0)
    single = World(world("isolated", arbs=0, count=1)).run()
    assert isolated.summary["rollups"][0]["digest"] == single.summary["digest"]
    assert isolated.summary["rollups"][1]["digest"] != single.summary["digest"]


def test_the_run_report_has_the_rollups_sections():
    from seqlab.report.html import render_html

    _, result = run("isolated")
    page = render_html(result)
    for heading in ("Rollups (isolated sequencing)", "Price gap between rollups",
                    "Cross-rollup arbitrage outcomes", "The figures below show rollup a"):
        assert heading in page


def test_same_seed_same_digest_other_seed_other_digest():
    a = run("shared")[1].summary["digest"]
    assert run("shared")[1].summary["digest"] == a
    assert Cluster(world("shared"), 2).run().summary["digest"] != a


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(1, 10_000))
def test_atomic_bundles_never_leave_one_leg_filled(seed):
    cluster, result = run("shared", arbs=8, seed=seed, fee_bps=1.0,
                          rollups__bundle_execution="atomic")
    arb = result.summary["arbitrage"]
    assert arb["failed_leg"] == 0 and arb["both_failed"] == 0
    assert arb["filled"] + arb["reverted"] == arb["attempts"] > 0
    # every bundle's two legs share one fate, read from the rollups' own tx stores
    a, b = (c.txs for c in cluster.chains)
    arb0 = cluster.arbs.account0
    legs_a = np.flatnonzero((a.column("kind") == Kind.TRADE) & (a.column("sender") >= arb0))
    legs_b = np.flatnonzero((b.column("kind") == Kind.TRADE) & (b.column("sender") >= arb0))
    assert len(legs_a) == len(legs_b)  # no unwinds: nothing was ever half-filled
    ok_a = a.status[legs_a] == Status.OK
    ok_b = b.status[legs_b] == Status.OK
    assert ok_a.sum() == ok_b.sum() == arb["filled"]
    assert (a.included_us[legs_a][ok_a] == b.included_us[legs_b][ok_b]).all()


def test_isolated_sequencers_leave_failed_legs_under_load():
    cluster, result = run("isolated", arbs=8)
    arb = result.summary["arbitrage"]
    assert arb["failed_leg"] > 0 and arb["bundles"] == 0
    table = result.tables["arbitrage"]
    assert (table["outcome"] == "failed_leg").sum() == arb["failed_leg"]
    risk = result.summary["leg_risk"]
    assert risk["execution"] == "per-rollup" and risk["one_leg_reverted"] == arb["failed_leg"]
    assert risk["unwind_cost_usd"] != 0 and risk["unhedged_usd"] > 0


def test_bundle_check_matches_execution():
    """A shared sequencer's whole-bundle check is the protocol's own trade rule."""
    cluster, _ = run("shared", arbs=2)
    p = cluster.chains[0].protocol
    acct = cluster.arbs.account0
    for usd in (10_000, -10_000):
        px = p.quote(usd * 1_000_000)
        tight = px - 1 if usd > 0 else px + 1
        assert p.can_trade(acct, usd * 1_000_000, px)
        assert not p.can_trade(acct, usd * 1_000_000, tight)


def test_compare_rows_for_shared_and_isolated():
    res = compare(world("isolated"), ["fcfs@isolated", "fcfs@shared"], seeds=1)
    d = res.summary["designs"]
    assert d["fcfs@isolated"]["rollups_halted"] == 1
    assert d["fcfs@shared"]["rollups_halted"] == 2
    assert "unwind_cost_usd" in res.tables["runs"]
    assert "gap_at_restart_bps" in res.tables["runs"]
    from seqlab.report.compare_html import render_compare_html

    page = render_compare_html(res)
    assert "Contagion across rollups" in page and "failed arbitrage legs" in page


def test_bad_mode_and_misplaced_arbitrageurs_are_clear_errors():
    with pytest.raises(SeqlabError, match="sequencing mode"):
        compare(world("isolated"), ["fcfs@both"], seeds=1)
    data = load_scenario("default").scenario.model_dump(mode="python")
    data["agents"]["arbitrageurs"] = {"count": 2}
    with pytest.raises(SeqlabError, match="rollups.count"):
        parse_scenario(data)


def test_one_rollup_scenarios_stay_plain_worlds():
    assert isinstance(make_world(load_scenario("tiny")), World)
    assert isinstance(make_world(world()), Cluster)


def test_uptime_feed_reports_up_at_the_next_l1_block():
    windows = np.array([[10, 25_000_001], [40_000_000, 48_000_000]], dtype=np.int64)
    feed = uptime_feed(windows, 12_000_000)
    assert feed.tolist() == [[10, 36_000_000], [40_000_000, 48_000_000]]


def test_isolated_rollups_can_each_run_their_own_design():
    # Ethereum's feed (0.5 %, 1 h): on Arbitrum's 0.05 % feed half an hour seldom leaves
    # an update pending past stale_min_move, so the operator would have nothing to take
    _, result = run("isolated", arbs=0, rollups__designs=["fcfs", "extractive"],
                    oracle__deviation=0.005, oracle__heartbeat="1h")
    rows = result.summary["rollups"]
    assert [r["design"] for r in rows] == ["fcfs", "extractive"]
    assert result.summary["operator_profit_usd"] > 0  # rollup b's operator extracts
    with pytest.raises(SeqlabError, match="rollups.designs"):
        Cluster(world("isolated", rollups__designs=["fcfs", "nope"]))
    with pytest.raises(SeqlabError, match="isolated"):
        world("shared", rollups__designs=["fcfs", "fcfs"])


def test_a_shared_committee_is_one_consensus_for_every_rollup():
    """Shared: every rollup's blocks commit at the same times, in rounds whose size is all
    rollups' transactions; isolated committees run their own rounds."""
    def commit_times(mode):
        cluster = Cluster(world(mode, arbs=0, sequencer__design="committee"))
        result = cluster.run()
        assert result.summary["ledger_residual"] == 0
        return [c.design.block_times for c in cluster.chains], cluster

    shared, cluster = commit_times("shared")
    assert shared[0] == shared[1] and len(shared[0]) > 100
    assert cluster.chains[1].design.view_changes == cluster.chains[0].design.view_changes
    isolated, _ = commit_times("isolated")
    assert isolated[0] != isolated[1]


def test_bundles_under_a_shared_committee_ride_committed_blocks():
    cluster = Cluster(world("shared", arbs=4, fee_bps=1.0, sequencer__design="committee",
                            rollups__bundle_execution="atomic"))
    result = cluster.run()
    commits = set(cluster.chains[0].design.block_times)
    a = cluster.chains[0].txs
    legs = np.flatnonzero((a.column("kind") == Kind.TRADE)
                          & (a.column("sender") >= cluster.arbs.account0)
                          & (a.column("status") == Status.OK))
    assert len(legs) > 0 and result.summary["arbitrage"]["failed_leg"] == 0
    # every filled leg sits in a block produced at a tick where a round had committed
    ticks = a.included_us[legs]
    assert all(any(c <= t < c + 250_000 for c in commits) for t in ticks.tolist())
