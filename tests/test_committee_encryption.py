"""Threshold encryption on the committee: ciphertexts until f+1 decryption shares meet."""
import numpy as np

from seqlab.consensus import INF, decryption_times
from tests.test_committee import run

BUSY = {"market": {"volatility": 3.0}}  # many oracle updates to extract around


def topups(**committee):
    w, _ = run({"nodes": 7, **committee})
    n = w.txs.n
    sent = w.txs.kind[:n] == 4
    return int(sent.sum()), int((sent & (w.txs.included_us[:n] >= 0)).sum())


def test_decryption_waits_for_the_f_plus_first_share_by_hand():
    # four members committed at 0, 10, 20 µs and never; every share takes 100 µs
    commit = np.array([0, 10, 20, INF], dtype=np.int64)
    delay = np.full((4, 4), 100.0)
    # threshold 2: member 0 holds its own share at 0 and member 1's at 110 -> 110;
    # member 1: own at 10, member 0's at 100 -> 100; member 2: own at 20, 0's at 100
    assert decryption_times(commit, delay, 2).tolist() == [110, 100, 100, INF]
    # threshold 3 needs the third member's share: 120 at members 0 and 1
    assert decryption_times(commit, delay, 3).tolist() == [120, 120, 110, INF]


def test_byzantine_members_cannot_censor_what_they_cannot_read():
    honest = topups()
    assert honest[1] > 0
    assert topups(byzantine=5)[1] == 0  # in the clear, five of seven keep top-ups out
    assert topups(byzantine=5, encrypted=True) == honest


def test_a_byzantine_leader_has_nothing_to_extract_on_ciphertexts():
    _, clear = run({"nodes": 8, "byzantine": 4, "ordering": "leader"}, **BUSY)
    _, sealed = run({"nodes": 8, "byzantine": 4, "ordering": "leader", "encrypted": True},
                    **BUSY)
    assert clear["operator_profit_usd"] > 0
    assert sealed["operator_profit_usd"] == 0


def test_decryption_costs_about_one_share_hop():
    w_clear, clear = run({"nodes": 7})
    w_sealed, sealed = run({"nodes": 7, "encrypted": True})
    assert clear["committee_blocks"] == sealed["committee_blocks"]  # rounds do not wait
    extra = np.asarray(w_sealed.design.block_times) - np.asarray(w_clear.design.block_times)
    # not every block: later execution changes what traders send, so a few rounds carry
    # other transactions and take a little more or less time to serialize
    assert (extra > 0).mean() > 0.99
    # one hop between the five regions: 32 to 130 ms one way, plus jitter
    assert 10_000 < np.median(extra) < 200_000
    assert sealed["latency_ms"]["p50"] > clear["latency_ms"]["p50"]
    times = np.asarray(w_sealed.design.block_times)
    assert (np.diff(times) >= 0).all()  # blocks execute in round order
