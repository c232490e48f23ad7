"""Oracle risks: colluding nodes, a firewalled network, oracle-value recapture and the
proof delay of a ZK rollup."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.experiments.sweep import set_dotted
from seqlab.metrics.oracle_error import oracle_error_metrics
from seqlab.oracle.collusion import attack_window, collude
from seqlab.oracle.push import node_observations
from seqlab.rollup.poster import post_batches
from seqlab.rollup.prover import optimistic_withdrawals, prove
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import BatchPoster, Collusion, Rollup
from seqlab.sequencing.operator import OperatorView
from seqlab.sequencing.txview import UNKNOWN_KIND, TxView
from seqlab.txs import Kind, TxStore
from tests.pinned import shrunk

S = 1_000_000
REF = 2_000.0


def flat(t):
    return np.full(len(t), REF)


# collusion: the median's resistance -----------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 31), k_frac=st.floats(0, 1), offset=st.floats(500, 5_000),
       sign=st.sampled_from([-1, 1]), noise=st.floats(0, 20), seed=st.integers(0, 2**32 - 1))
def test_median_resists_a_minority_and_follows_a_majority(n, k_frac, offset, sign, noise,
                                                           seed):
    """A minority (k < n/2) moves the median no further than the honest nodes' own
    spread — far less than the colluders' offset; a majority sets it exactly."""
    k = int(round(k_frac * n))
    polls = np.arange(0, 20 * S, S, dtype=np.int64)
    honest = node_observations(flat, polls, n, noise, np.random.default_rng(seed))
    cfg = Collusion(nodes=k, offset_bps=sign * offset)
    median = np.median(collude(honest, cfg, flat, polls), axis=0)
    lie = REF * (1 + sign * offset / 1e4)
    if 2 * k > n:
        assert np.allclose(median, lie, rtol=0, atol=1e-9)
    elif 2 * k < n:
        rest = honest[k:]
        assert (median >= rest.min(axis=0) - 1e-9).all()
        assert (median <= rest.max(axis=0) + 1e-9).all()
        shift_bps = np.abs(median / REF - 1) * 1e4
        assert (shift_bps <= np.abs(rest / REF - 1).max(axis=0) * 1e4 + 1e-6).all()
        if 3 * k < n:  # a third or less: within the honest noise, never near the lie
            assert (shift_bps < offset / 5).all()


def test_collusion_is_confined_to_its_window_and_rows():
    polls = np.arange(0, 10 * S, S, dtype=np.int64)
    honest = node_observations(flat, polls, 7, 2.0, np.random.default_rng(1))
    cfg = Collusion(nodes=3, offset_bps=-300, start="4s", duration="3s")
    reports = collude(honest, cfg, flat, polls)
    inside = attack_window(cfg, polls)
    assert inside.tolist() == [False] * 4 + [True] * 3 + [False] * 3
    assert np.array_equal(reports[3:], honest[3:])
    assert np.array_equal(reports[:, ~inside], honest[:, ~inside])
    assert np.allclose(reports[:3, inside], REF * 0.97)
    frozen = collude(honest, Collusion(nodes=2, price="frozen", start="2s"),
                     lambda t: 1_000.0 + t / S, polls)
    assert np.allclose(frozen[:2, 2:], 1_002.0)
    assert collude(honest, Collusion(), flat, polls) is honest


# whole runs ---------------------------------------------------------------------------
def run(design, **settings_):
    loaded = shrunk("default+crash", design)
    data = loaded.scenario.model_dump(mode="python")
    for key, value in settings_.items():
        set_dotted(data, key, value)
    return make_world(parse_scenario(data, loaded.source, loaded.base_dir)).run().summary


@pytest.fixture(scope="module")
def runs():
    colluding = {"oracle.collusion.nodes": 4}
    return {
        "honest": run("fcfs"),
        "collusion": run("fcfs", **colluding),
        "collusion+operator": run("extractive", **colluding),
        "collusion+operator+firewall": run("extractive", **colluding,
                                           **{"oracle.firewalled": True}),
        "recapture": run("fcfs", **{"oracle.recapture.enabled": True}),
        "recapture+operator": run("extractive", **{"oracle.recapture.enabled": True}),
        "recapture+operator+separate": run("extractive", **{
            "oracle.recapture.enabled": True, "oracle.recapture.bundle": "separate"}),
        "zk": run("fcfs", **{"rollup.proof": "zk", "rollup.proof_failure": 0.2}),
    }


def test_a_colluding_majority_misprices_the_feed(runs):
    honest, bad = runs["honest"]["oracle_error_bps"], runs["collusion"]["oracle_error_bps"]
    assert honest["mean"] < 50 < 250 < bad["mean"]
    assert all(r["ledger_residual"] == 0 for r in runs.values())


def test_compare_carries_the_mispricing(runs):
    honest = oracle_error_metrics(runs["honest"])
    bad = oracle_error_metrics(runs["collusion"])
    assert honest["oracle_error_mean_bps"] < 50 < 250 < bad["oracle_error_mean_bps"]
    assert bad["oracle_error_max_bps"] >= bad["oracle_error_mean_bps"]
    assert oracle_error_metrics({}) == {}


def test_a_firewall_takes_the_operators_foreknowledge(runs):
    """The operator trades ahead of every update it reads; firewalled, it reads none,
    keeps only the liquidations at the top of the block after one lands."""
    open_ = runs["collusion+operator"]["operator_profit_by_strategy"]
    walled = runs["collusion+operator+firewall"]["operator_profit_by_strategy"]
    assert open_["stale_oracle"] > 10_000 and walled["stale_oracle"] == 0
    assert walled["backrun"] > 0
    assert runs["collusion+operator+firewall"]["operator_profit_usd"] < \
        runs["collusion+operator"]["operator_profit_usd"] / 10


def test_sealed_updates_read_as_unknown_to_the_operator():
    txs = TxStore()
    txs.add_many(Kind.ORACLE, 0, np.array([1, 2]), np.array([1, 2]), 2_000, 0)
    txs.add_many(Kind.TRADE, 3, np.array([3]), np.array([3]), 5, 0)
    every = np.arange(3)
    for sealed in (False, True):
        view = OperatorView(None, TxView(txs), None, sealed_updates=sealed)
        kinds, amounts = view.kind(every).tolist(), view.payload(every).tolist()
        assert kinds[2] == Kind.TRADE and amounts[2] == 5
        assert kinds[:2] == ([UNKNOWN_KIND] * 2 if sealed else [Kind.ORACLE] * 2)
        assert amounts[:2] == ([0, 0] if sealed else [2_000, 2_000])


def test_recapture_returns_most_of_the_backrun_under_an_honest_sequencer(runs):
    honest = runs["recapture"]["recapture"]
    assert honest["backrun_value_usd"] > 0 and honest["bypassed_usd"] == 0
    assert 0.5 < honest["protocol_share"] <= 0.99 * 0.65
    assert honest["protocol_usd"] + honest["oracle_network_usd"] <= 0.99 * honest["bundled_usd"]


def test_an_operator_splits_a_separate_bundle_but_not_an_atomic_one(runs):
    """Atlas settles the update and the winner's liquidations in one transaction: the
    operator's own liquidations behind it find nothing worth a bid. A separate bundle
    it splits: its liquidations go right behind the update, and no bid is paid."""
    atomic = runs["recapture+operator"]["recapture"]
    split = runs["recapture+operator+separate"]["recapture"]
    assert atomic["protocol_share"] > 0.5 and atomic["split_bundles"] == 0
    assert split["protocol_share"] == 0 and split["split_bundles"] > 0
    assert split["bypassed_usd"] > 0.9 * split["backrun_value_usd"] > 0


def test_recapture_moves_money_and_keeps_the_ledger_exact(runs):
    assert runs["recapture"]["digest"] != runs["honest"]["digest"]  # the bids moved money
    assert all(runs[k]["ledger_residual"] == 0 for k in runs if k.startswith("recapture"))
    assert "recapture" not in runs["honest"]


def test_zk_finality_waits_for_the_proof(runs):
    opt, zk = runs["honest"], runs["zk"]
    assert zk["digest"] == opt["digest"]  # proving happens after execution
    assert zk["stage_latency_ms"]["final_p50"] > opt["stage_latency_ms"]["final_p50"] + \
        20 * 60 * 1000
    assert zk["stage_latency_ms"]["withdraw_p50"] < opt["stage_latency_ms"]["withdraw_p50"]
    assert opt["stage_latency_ms"]["withdraw_p50"] >= 7 * 86_400 * 1000
    assert zk["proof_ms"]["proving_p50"] > 0 and "proof_ms" not in opt


# the prover ---------------------------------------------------------------------------
def batches():
    cfg = BatchPoster(max_batch_bytes=150, max_delay="60s", poll="10s", tx_bytes=150)
    t = np.arange(1, 41, dtype=np.int64) * 30 * S
    return post_batches(t, np.ones(40, dtype=np.int64), cfg, 12 * S), cfg


def test_batches_are_verified_in_order_after_their_proofs():
    b, poster = batches()
    p = prove(b, Rollup(proof="zk"), 12 * S, poster.finality, np.random.default_rng(3))
    assert (p.ready_us > b.sealed_us).all()
    assert (np.diff(p.verified_us) >= 0).all()
    assert (p.verified_us > np.maximum(p.ready_us, b.posted_us)).all()
    assert (p.verified_us % (12 * S) == 0).all()
    assert np.array_equal(p.block_final_us, p.verified_us[b.block_batch] + poster.finality)
    days = optimistic_withdrawals(b, Rollup().challenge_period)
    assert np.array_equal(days - b.block_posted_us, np.full(40, 7 * 86_400 * S))


def test_failed_proofs_are_retried_and_take_longer():
    b, poster = batches()
    sure = prove(b, Rollup(proof="zk"), 12 * S, poster.finality, np.random.default_rng(5))
    shaky = prove(b, Rollup(proof="zk", proof_failure=0.5), 12 * S, poster.finality,
                  np.random.default_rng(5))
    assert (sure.attempts == 1).all()
    assert shaky.attempts.sum() > len(shaky.attempts) + 10
    assert np.median(shaky.ready_us - b.sealed_us) > np.median(sure.ready_us - b.sealed_us)

