"""The batch poster: batches sealed by size or delay, posted and final on L1."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqlab
from seqlab.errors import SeqlabError
from seqlab.rollup.gas import gas_price_gwei, load_gas_gwei
from seqlab.rollup.poster import post_batches, posting_cost_micro
from seqlab.scenario import parse_scenario
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
    cost = posting_cost_micro(b, cfg, np.full(4, 2_000.0), gas_price_gwei(cfg, b.posted_us))
    assert cost[0] == round(1_000 * 16 * 20e-9 * 2_000 * 1e6)


def test_replayed_gas_prices_follow_the_series_buckets():
    """2020-03-12's gas, 60th percentile: each 10-minute bucket's own value (in gwei),
    held past the end of the series."""
    cfg = BatchPoster(gas_series="gas-2020-03-12")
    series = load_gas_gwei("gas-2020-03-12", "60")
    assert len(series) == 144 and abs(series[0] - 6.924610389526622) < 1e-12
    t = np.array([0, 599_999_999, 600_000_000, 10 * 86_400 * S])
    assert gas_price_gwei(cfg, t).tolist() == [series[0], series[0], series[1], series[-1]]


def test_replayed_gas_starts_where_the_market_replay_starts():
    """A replay of 2020-03-12 from 08:00 pays 08:00's gas at time zero, not midnight's:
    the gas series is offset by market.start like the price series, in the world too."""
    from seqlab.rollup.poster import posting_cost_micro
    from seqlab.scenario import load_scenario, parse_scenario
    from seqlab.world import World

    cfg = BatchPoster(gas_series="gas-2020-03-12")
    series = load_gas_gwei("gas-2020-03-12", "60")
    eight = 8 * 3_600 * S
    t = np.array([0, 599_999_999, 600_000_000])
    assert gas_price_gwei(cfg, t, start_us=eight).tolist() == [series[48], series[48],
                                                                 series[49]]
    data = load_scenario("black-thursday").scenario.model_dump(mode="python")
    data.update(duration="20min")
    data["agents"]["traders"]["accounts"] = 100
    data["sequencer"]["batch_poster"]["gas_series"] = "gas-2020-03-12"
    world = World(parse_scenario(data))
    assert world.sc.market.start == eight
    assert world.run().summary["ledger_residual"] == 0
    b, poster = world.batches, world.sc.sequencer.batch_poster
    price = world.reference.at(b.posted_us)
    cost = {start: int(posting_cost_micro(b, poster, price,
                                          gas_price_gwei(poster, b.posted_us, None, start)).sum())
            for start in (0, eight)}
    assert cost[0] != cost[eight]  # midnight's gas is not 08:00's
    assert world.l1_cost == cost[eight]
    late = dict(data, duration="17h")  # 08:00 + 17 h runs past the day's 24 h of gas
    with pytest.raises(SeqlabError, match="market.start"):
        parse_scenario(late)


def test_unknown_gas_series_is_a_clear_error():
    with pytest.raises(SeqlabError, match="gas_series"):
        gas_price_gwei(BatchPoster(gas_series="gas-1999"), np.array([0]))


def test_a_gas_spike_costs_more_to_post_through():
    data = seqlab.load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["batch_poster"]["gas_series"] = "gas-2020-03-12"
    data["sequencer"]["batch_poster"]["gas_percentile"] = "90"
    run = seqlab.run(parse_scenario(data))
    spike, flat = run.summary, seqlab.run("tiny").summary
    assert spike["ledger_residual"] == 0
    posted = np.unique(run.tables["txs"]["posted_us"][run.tables["txs"]["posted_us"] > 0])
    gwei = load_gas_gwei("gas-2020-03-12", "90")[posted // 600_000_000]
    # the cost is a bytes-weighted mean of the gas prices when the batches landed
    ratio = spike["l1_cost_usd"] / flat["l1_cost_usd"]
    assert gwei.min() / 20.0 - 1e-3 <= ratio <= gwei.max() / 20.0 + 1e-3
    assert abs(ratio - 1.0) > 0.05


def test_runs_report_stage_latencies_and_pay_for_l1_data():
    r = seqlab.run("tiny")
    s, txs = r.summary, r.tables["txs"]
    st = s["stage_latency_ms"]
    assert st["soft_p50"] < st["posted_p50"] < st["final_p50"]
    done = txs["included_us"] >= 0
    assert (txs["posted_us"][done] > txs["included_us"][done]).all()
    assert (txs["final_us"][done] > txs["posted_us"][done]).all()
    assert s["l1_batches"] > 0 and s["l1_cost_usd"] > 0 and s["ledger_residual"] == 0


def _sealed_one_by_one(t, size, cfg):
    """The poster's rule as a plain loop over blocks: batches' sealing times and bytes,
    and each block's batch."""
    batch_of, sealed, nbytes, start, acc = [], [], [], 0, 0
    for i in range(len(t)):
        due = t[start] + cfg.max_delay
        if i > start and t[i] > due:
            sealed.append(-(-due // cfg.poll) * cfg.poll)
            nbytes.append(acc)
            start, acc = i, 0
        batch_of.append(len(sealed))
        acc += size[i]
        if acc >= cfg.max_batch_bytes:
            sealed.append(t[i])
            nbytes.append(acc)
            start, acc = i + 1, 0
    if start < len(t):
        due = t[start] + cfg.max_delay
        sealed.append(-(-due // cfg.poll) * cfg.poll)
        nbytes.append(acc)
    return batch_of, sealed, nbytes


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30 * S), st.integers(0, 40)), max_size=60),
       st.integers(100, 5_000), st.integers(1, 90), st.integers(1, 20))
def test_the_compiled_poster_seals_as_the_rule_says(blocks, max_bytes, delay_s, poll_s):
    cfg = BatchPoster(max_batch_bytes=max_bytes, max_delay=f"{delay_s}s", poll=f"{poll_s}s",
                      tx_bytes=100, finality="13min")
    t = np.cumsum([gap for gap, _ in blocks]).astype(np.int64)
    n = np.array([count for _, count in blocks], dtype=np.int64)
    b = post_batches(t, n, cfg, 12 * S)
    batch_of, sealed, nbytes = _sealed_one_by_one(t.tolist(), (n * 100).tolist(), cfg)
    assert b.block_batch.tolist() == batch_of
    assert b.sealed_us.tolist() == sealed and b.bytes.tolist() == nbytes
