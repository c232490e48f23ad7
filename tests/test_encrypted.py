"""The encrypted mempool's inclusion guarantee holds whatever the operator wants.

Under ``inclusion = "committee"`` a transaction is due at the first candidate-list time at
which F+1 honest committee nodes list it (decentralized Timeboost); under ``"deadline"``
``inclusion_deadline`` after it arrived. It must be committed by the first tick at or
after its due time. The due times here are recomputed from the nodes' receive times with
plain loops, not taken from the design.
"""
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Latency, Sequencer
from seqlab.sequencing.encrypted import EncryptedDesign
from seqlab.sequencing.encrypted_config import Encrypted
from seqlab.sequencing.txview import UNKNOWN_SENDER, SealedContent, SealedSender, TxView
from seqlab.txs import Kind, TxStore
from seqlab.world import World


def expected_due(cfg: Sequencer, ids, arrival, seed):
    """Each tx's due time, recomputed one transaction at a time."""
    enc, com = cfg.encrypted, cfg.committee
    out = []
    for tx, t in zip(np.asarray(ids).tolist(), np.asarray(arrival).tolist()):
        if enc.inclusion == "deadline":
            out.append(t + enc.inclusion_deadline)
            continue
        n = enc.keypers
        f = (n - 1) // 3
        recv = [t]
        for k in range(1, n):
            z = keyed_normals(seed, "encrypted.node", np.array([tx]), np.array([k]))
            recv.append(t + int(latency_from_normals(enc.node_latency, z)[0]))
        honest = sorted(recv[f:])  # nodes 0..f-1 are the operator's
        ready = honest[f] + com.list_age  # the (f+1)-th honest node has held it long enough
        out.append(math.ceil(ready / com.list_interval) * com.list_interval)
    return np.array(out, dtype=np.int64)


class StubView:
    """What the design needs of an OperatorView: a sealed TxView and the seed."""

    def __init__(self, txs, seed):
        self.txs, self.seed = TxView(txs, contents_visible=False, senders_visible=False), seed


class GreedyOperator:
    """An adversary: keeps a random part of what it may commit, drops the rest, and
    inserts a transaction of its own now and then. It reads only what a sealed view
    allows (reading contents or senders would raise)."""

    def __init__(self, seed, keep):
        self.rng = np.random.default_rng(seed)
        self.keep = keep
        self.view = None

    def attach(self, view):
        self.view = view

    def plan(self, cand, arrival, now, can_hold=True):
        for read, sealed in ((self.view.txs.kind, SealedContent),
                             (self.view.txs.origin, SealedSender)):
            try:
                read(cand)
            except sealed:
                pass
            else:
                raise AssertionError(f"a sealed view let the operator {read.__name__}")
        assert (self.view.txs.known_origin(cand) == UNKNOWN_SENDER).all()
        mask = self.rng.random(len(cand)) < self.keep
        out = cand[mask].tolist()
        if self.rng.random() < 0.2:
            out.insert(0, self.view.txs.insert(Kind.TRADE, 0, now, a=1))
        return np.asarray(out[::-1], dtype=np.int64)  # any order it likes


def design(inclusion, keypers, block_time, capacity=0, **enc):
    cfg = Sequencer(block_time=block_time, max_txs_per_block=capacity,
                    encrypted=Encrypted(keypers=keypers, threshold=1, inclusion=inclusion,
                                        node_latency=Latency(median="75ms", sigma=0.8),
                                        **enc))
    return EncryptedDesign(cfg, ("censor",))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 20_000_000), min_size=1, max_size=60),
       st.integers(0, 2**31), st.sampled_from(["committee", "deadline"]),
       st.sampled_from([1, 4, 7, 10]), st.sampled_from(["100ms", "250ms", "2s"]),
       st.sampled_from([0.0, 0.3, 0.9]), st.sampled_from([0, 2]),
       st.lists(st.booleans(), min_size=1, max_size=8))
def test_every_tx_is_committed_by_its_due_tick(arrivals, seed, inclusion, keypers,
                                               block_time, keep, capacity, skips):
    d = design(inclusion, keypers, block_time, capacity)
    d.operator = GreedyOperator(seed, keep)
    arr = np.sort(np.asarray(arrivals, dtype=np.int64))
    txs = TxStore()
    ids = txs.add_many(Kind.TRADE, np.arange(len(arr)), arr, arr)
    d.attach(StubView(txs, seed))
    bt = d.block_time
    ticks = np.arange(1, int(arr[-1]) // bt + 400, dtype=np.int64) * bt
    # some ticks produce no block (an outage): the bound is the next block produced
    down = np.array([skips[i % len(skips)] for i in range(len(ticks))]) & (ticks < arr[-1])
    ticks = ticks[~down]
    delivered = 0
    for chunk in np.array_split(ticks, 1 + seed % 5):
        if not len(chunk):
            continue
        upto = int(np.searchsorted(arr, chunk[-1], side="right"))
        d.receive(ids[delivered:upto], arr[delivered:upto])
        delivered = upto
        d.build_blocks(chunk)
    committed_at = {}
    for t, block in d.commit_log:
        for tx in block.tolist():
            assert tx not in committed_at, "committed twice"
            committed_at[tx] = t
    due = expected_due(d.cfg, ids, arr, seed)
    for tx, t_arr, t_due in zip(ids.tolist(), arr.tolist(), due.tolist()):
        bound = ticks[np.searchsorted(ticks, max(t_due, t_arr))]
        assert t_arr <= committed_at[tx] <= bound, (tx, t_arr, t_due, committed_at[tx])


def test_without_a_rule_an_operator_may_hold_for_ever():
    d = design("none", 7, "250ms")
    d.operator = GreedyOperator(0, keep=0.0)
    txs = TxStore()
    arr = np.array([1_000, 2_000], dtype=np.int64)
    ids = txs.add_many(Kind.TRADE, np.arange(2), arr, arr)
    d.attach(StubView(txs, 0))
    d.receive(ids, arr)
    d.build_blocks(np.arange(1, 2_000, dtype=np.int64) * 250_000)
    assert not {tx for _, block in d.commit_log for tx in block.tolist()} & set(ids.tolist())


def run(inclusion, **enc):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = "encrypted"
    data["sequencer"]["encrypted"].update(inclusion=inclusion, **enc)
    w = World(parse_scenario(data), None)
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result


def test_the_bound_holds_in_whole_runs_with_every_strategy_on():
    for inclusion in ("committee", "deadline"):
        w, result = run(inclusion, sender_linkable=True)  # it censors by sender…
        d = w.design
        assert d.operator.strategies == {"backrun", "censor", "stale_oracle", "sandwich"}
        assert result.summary["held_txs"] > 0  # … and tries to hold
        own = set(d.view.txs.inserted_since(0).tolist())
        log = [(t, tx) for t, block in d.commit_log for tx in block.tolist() if tx not in own]
        t_commit = np.array([t for t, _ in log], dtype=np.int64)
        ids = np.array([tx for _, tx in log], dtype=np.int64)
        due = expected_due(d.cfg, ids, w.txs.arrival_us[ids], w.seed)
        bt = d.block_time
        assert (t_commit <= -(-due // bt) * bt).all()
        arrival = w.txs.arrival_us[: w.txs.n]
        received = np.flatnonzero(arrival < w.horizon - 10 * 1_000_000)
        outside = np.setdiff1d(received, np.array(sorted(own), dtype=np.int64))
        assert len(outside) > 1000
        assert np.isin(outside, ids).all(), "a transaction was never committed"


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.data(), st.integers(0, 2**31), st.integers(0, 10**9))
def test_the_key_is_out_when_the_threshold_th_keyper_has_released(keypers, data, seed, t):
    """Decryption waits for the threshold-th fastest of the keypers' share releases."""
    threshold = data.draw(st.integers(1, keypers))
    cfg = Sequencer(encrypted=Encrypted(keypers=keypers, threshold=threshold))
    d = EncryptedDesign(cfg)
    d.seed = seed
    release = sorted(int(latency_from_normals(cfg.encrypted.key_latency, keyed_normals(
        seed, "encrypted.keyper", np.array([k]), t))[0]) for k in range(keypers))
    assert d.key_delay(t) == release[threshold - 1]
