"""The BFT committee design: liveness under faults, safety, latency, who can extract."""
import numpy as np
import pytest

from seqlab.consensus import Committee, quorum_size, run_round
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.world import World


def run(committee=None, design="committee", seed=None, **top):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = design
    data["sequencer"]["committee"].update(committee or {})
    for key, value in top.items():
        for sub, inner in value.items():
            if isinstance(inner, dict):
                data[key][sub].update(inner)
            else:
                data[key][sub] = inner
    if "market" in top:
        data["duration"] = "30min"
    w = World(parse_scenario(data), seed)
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result.summary


def test_quorum_sizes():
    # 2f+1 when n = 3f+1; larger otherwise, so that two quorums share f+1 members
    assert [quorum_size(n) for n in (1, 4, 6, 7, 10, 128)] == [1, 3, 4, 5, 7, 86]


def test_round_matches_hand_computation():
    """n = 4, one region (1 ms), no jitter: proposal 1 ms, prevote quorum, commit."""
    c = Committee(np.zeros(4, dtype=int), np.array([[1.0]]), jitter_sigma=0.0)
    out = run_round(0, 0, c.base_us(), np.ones((3, 4, 4)), np.ones(4, bool), 3)
    # leader gets its own proposal at 0, others at 1000 µs; node j's 3rd prevote arrives
    # at 1000 + 1000 = 2000 (leader's own vote counts at once for the leader: 0+1000)
    # precommits are sent at 2000 and the 3rd arrives at 3000 (or 2000 for itself)
    assert out.committed
    assert out.commit_us.tolist() == [3000, 3000, 3000, 3000]


@pytest.mark.parametrize("nodes", [4, 7])
def test_f_crashed_keeps_committing_f_plus_one_stops(nodes):
    f = (nodes - 1) // 3
    _, ok = run({"nodes": nodes, "crashed": f, "crash_at": "2min"})
    assert ok["committee_blocks"] > 0 and ok["blocks_per_min"] > 10
    assert ok["max_block_gap_ms"] < 5_000  # a crashed leader costs a timeout, no more
    assert ok["view_changes"] > 0
    w, stuck = run({"nodes": nodes, "crashed": f + 1, "crash_at": "2min"})
    times = np.asarray(w.design.block_times)
    assert len(times) and times.max() < 2 * 60e6 + 5e6  # nothing commits after the crash
    assert stuck["max_block_gap_ms"] > 7 * 60e3       # liveness lost for the rest
    assert stuck["safety_ok"] and len(w.design._committed) == w.design.height


def test_partition_without_quorum_halts_then_heals():
    w, s = run({"nodes": 4, "partitions": [{"start": "2min", "end": "4min",
                                             "groups": [[0, 1], [2, 3]]}]})
    times = np.asarray(w.design.block_times)
    assert not ((times > 2 * 60e6 + 2e6) & (times < 4 * 60e6)).any()
    assert (times > 4 * 60e6).any()
    assert s["max_block_gap_ms"] > 100_000


def test_latency_grows_with_size_and_spread():
    p50 = {n: run({"nodes": n})[1]["latency_ms"]["p50"] for n in (4, 64)}
    assert p50[64] > p50[4]
    near = run({"nodes": 16, "regions": ["us-east"]})[1]["latency_ms"]["p50"]
    far = run({"nodes": 16})[1]["latency_ms"]["p50"]
    assert far > near


def test_inclusion_needs_f_plus_one_lists():
    w, _ = run({"nodes": 7})
    d = w.design
    assert d.f == 2
    included = w.txs.included_us[: w.txs.n] >= 0
    # nothing can be included before f+1 nodes have held it for list_age
    assert (w.txs.included_us[: w.txs.n][included] - w.txs.arrival_us[: w.txs.n][included]
            >= 250_000).all()


def test_deterministic_order_leaves_a_byzantine_member_nothing():
    _, s = run({"nodes": 4, "byzantine": 1})
    assert s["operator_profit_usd"] == 0


def test_leader_ordering_lets_a_byzantine_leader_extract_on_its_slots():
    busy = {"market": {"volatility": 3.0}}  # many oracle updates to extract around
    _, one = run({"nodes": 8, "byzantine": 1, "ordering": "leader"}, **busy)
    _, two = run({"nodes": 8, "byzantine": 4, "ordering": "leader"}, **busy)
    _, central = run(design="extractive", **busy)
    assert 0 < one["operator_profit_usd"] < central["operator_profit_usd"]
    assert two["operator_profit_usd"] > one["operator_profit_usd"]


def test_builder_competition_moves_extraction_to_the_proposer():
    _, one = run(design="builders", sequencer={"builders": {"count": 1}})
    _, five = run(design="builders", sequencer={"builders": {"count": 5}})
    assert one["operator_profit_usd"] > 0
    # total extraction stays; who keeps it changes
    assert five["operator_profit_usd"] == pytest.approx(one["operator_profit_usd"], rel=0.3)
    assert one["proposer_revenue_usd"] == 0
    share = five["proposer_revenue_usd"] / five["operator_profit_usd"]
    assert share > 0.5
    builders_net = five["operator_profit_usd"] + five["operator_profit_by_strategy"]["auction"]
    assert builders_net < one["operator_profit_usd"]


def test_private_flow_only_reaches_its_builder():
    w, s = run(design="builders", sequencer={"builders": {"count": 3, "private_share": 0.5}})
    assert s["ledger_residual"] == 0 and s["included"] > 0


def test_byzantine_members_cannot_censor_past_an_honest_f_plus_one():
    """n = 7, f = 2: two censoring members leave top-ups out of their lists, the five
    honest lists still carry them in; five censoring members keep them out."""
    def topups(byzantine):
        w, _ = run({"nodes": 7, "byzantine": byzantine})
        n = w.txs.n
        ok = (w.txs.kind[:n] == 4) & (w.txs.included_us[:n] >= 0)
        return int((w.txs.kind[:n] == 4).sum()), int(ok.sum())

    honest = topups(0)
    assert honest[1] > 0
    assert topups(2) == honest  # the same top-ups, all of them carried in
    sent, included = topups(5)
    assert sent > 0 and included == 0
