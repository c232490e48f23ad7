"""The batch poster: batches sealed by size or delay, posted and final on L1."""
import numpy as np

import seqlab
from seqlab.rollup.poster import post_batches, posting_cost_micro
from seqlab.scenario.schema import BatchPoster

S = 1_000_000


def test_batches_seal_by_size_and_by_delay():
    cfg = BatchPoster(max_batch_bytes=1_000, max_delay="60s", poll="10s", tx_bytes=100,
                      finality="13min")
    t = np.array([1, 2, 3, 100, 200], dtype=np.int64) * S
    n = np.array([4, 6, 1, 1, 1])
    b = post_batches(t, n, cfg, 12 * S)
    # blocks 1+2 hold 1,000 bytes: sealed at t=2 s by size; block 3 waits for its
    # deadline (63 s), sealed at the 70 s poll; block 4 alone, sealed at the 160 s poll
    assert b.sealed_us.tolist() == [2 * S, 70 * S, 160 * S, 260 * S]
    assert b.posted_us.tolist() == [12 * S, 72 * S, 168 * S, 264 * S]
    assert b.block_posted_us.tolist() == [12 * S, 12 * S, 72 * S, 168 * S, 264 * S]
    assert (b.block_final_us - b.block_posted_us == 13 * 60 * S).all()
    assert b.bytes.tolist() == [1_000, 100, 100, 100]
    cost = posting_cost_micro(b, cfg, np.full(4, 2_000.0))
    assert cost[0] == round(1_000 * 16 * 20e-9 * 2_000 * 1e6)


def test_runs_report_stage_latencies_and_pay_for_l1_data():
    r = seqlab.run("tiny")
    s, txs = r.summary, r.tables["txs"]
    st = s["stage_latency_ms"]
    assert st["soft_p50"] < st["posted_p50"] < st["final_p50"]
    done = txs["included_us"] >= 0
    assert (txs["posted_us"][done] > txs["included_us"][done]).all()
    assert (txs["final_us"][done] > txs["posted_us"][done]).all()
    assert s["l1_batches"] > 0 and s["l1_cost_usd"] > 0 and s["ledger_residual"] == 0
