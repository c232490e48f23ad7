"""Receive-order fairness in Aequitas's batch order: the pure ordering and the design's
global guarantee."""
import heapq
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario.schema import Latency, Sequencer
from seqlab.sequencing.fair import (FairOrderingDesign, fair_order, precedence_counts,
                                    threshold)
from seqlab.sequencing.fair_config import Fair
from seqlab.sequencing.txview import TxView
from seqlab.txs import Kind, TxStore


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def closure(edges):
    """Reflexive-transitive closure of a boolean adjacency matrix (Floyd–Warshall)."""
    reach = edges.copy() | np.eye(len(edges), dtype=bool)
    for k in range(len(edges)):
        reach |= reach[:, k, None] & reach[None, k, :]
    return reach


def reference_order(recv, gamma, tiebreak):
    """A plain re-implementation of the batch order, for exact comparison."""
    m, n = recv.shape
    thr = threshold(gamma, n)
    edges = np.array([[sum(recv[a, k] < recv[b, k] for k in range(n)) >= thr
                       for b in range(m)] for a in range(m)], dtype=bool)
    reach = closure(edges)
    comp, comps = [-1] * m, []
    for a in range(m):
        if comp[a] < 0:
            members = [b for b in range(m) if reach[a, b] and reach[b, a]]
            for b in members:
                comp[b] = len(comps)
            comps.append(members)
    preds = [set() for _ in comps]
    for a in range(m):
        for b in range(m):
            if edges[a, b] and comp[a] != comp[b]:
                preds[comp[b]].add(comp[a])
    key = [(min(tiebreak[i] for i in c), min(c)) for c in comps]
    heap = [(key[c], c) for c in range(len(comps)) if not preds[c]]
    heapq.heapify(heap)
    taken, out = set(), []
    while heap:
        _, c = heapq.heappop(heap)
        taken.add(c)
        out.append(sorted(comps[c], key=lambda i: (tiebreak[i], i)))
        for d in range(len(comps)):
            if d not in taken and c in preds[d] and preds[d] <= taken \
                    and all(e != d for _, e in heap):
                heapq.heappush(heap, (key[d], d))
    return out


def check_batches(recv, gamma, batches):
    """Every row once; cross-batch edges go forward; batches strongly connected."""
    m, n = recv.shape
    flat = np.concatenate(batches) if batches else np.empty(0, np.int64)
    assert sorted(flat.tolist()) == list(range(m))
    batch_of = np.empty(m, dtype=np.int64)
    for i, b in enumerate(batches):
        batch_of[b] = i
    edges = precedence_counts(recv) >= threshold(gamma, n)
    a, b = np.nonzero(edges)
    cross = batch_of[a] != batch_of[b]
    assert (batch_of[a[cross]] < batch_of[b[cross]]).all()
    for batch in batches:
        if len(batch) > 1:
            reach = closure(edges[np.ix_(batch, batch)])
            assert reach.all(), "a batch must be one strongly connected component"


class StubView:
    """The parts of OperatorView the design uses: a real TxView, and a seed."""

    def __init__(self, txs, seed):
        self.txs, self.seed = TxView(txs), seed

    def insert(self, kind, sender, now, a=0, b=0):
        return self.txs.insert(kind, sender, now, a, b)

    @property
    def inserted(self) -> set[int]:
        return set(self.txs.inserted_since(0).tolist())


class FakeOperator:
    """Inserts one trade per offered tx with an even id; remembers what it was shown."""

    def __init__(self):
        self.view, self.offered, self.created = None, [], {}

    def attach(self, view):
        self.view = view

    def plan(self, cand, arrival, now, can_hold=True):
        assert not can_hold
        assert (np.diff(arrival) >= 0).all()
        self.offered += cand.tolist()
        out = list(cand.tolist())
        for tx in cand.tolist():
            if tx % 2 == 0:
                new = self.view.insert(Kind.TRADE, 0, now, a=tx)
                self.created[new] = now
                out.insert(0, new)
        return np.asarray(out, dtype=np.int64)


def drive(design, arrivals, block_time, windows=1, max_extra=10_000):
    """Deliver and tick like the rollup does; returns (ids, tick times) in order."""
    arrivals = np.asarray(arrivals, dtype=np.int64)
    ids = np.arange(len(arrivals), dtype=np.int64)
    order = np.lexsort((ids, arrivals))
    last = int(arrivals.max()) if len(arrivals) else 0
    n_ticks = last // block_time + 2
    ticks = np.arange(1, n_ticks + 1, dtype=np.int64) * block_time
    got_ids, got_t, delivered = [], [], 0
    for chunk in np.array_split(ticks, windows):
        if not len(chunk):
            continue
        new = order[delivered:][arrivals[order[delivered:]] <= chunk[-1]]
        delivered += len(new)
        design.receive(new, arrivals[new])
        blocks = design.build_blocks(chunk)
        got_ids += blocks.ids.tolist()
        got_t += chunk[blocks.tick_index].tolist()
    t = int(ticks[-1])
    for _ in range(max_extra):  # drain
        if not design.pending():
            break
        t += block_time
        blocks = design.build_blocks(np.array([t], dtype=np.int64))
        got_ids += blocks.ids.tolist()
        got_t += [t] * len(blocks.ids)
    assert design.pending() == 0
    return np.asarray(got_ids, dtype=np.int64), np.asarray(got_t, dtype=np.int64)


def make_design(nodes=7, faulty=1, gamma=0.9, median="15ms", sigma=0.5,
                fault_delay="100ms", block_time="250ms", strategies=None):
    cfg = Sequencer(block_time=block_time, max_txs_per_block=3,
                    fair=Fair(nodes=nodes, faulty=faulty, gamma=gamma,
                              node_latency=Latency(median=median, sigma=sigma),
                              fault_delay=fault_delay))
    return FairOrderingDesign(cfg, strategies)


def check_design(design, emitted, emitted_t, expected_ids):
    """Emitted once each; not before complete; the global batch-order guarantee."""
    assert sorted(emitted.tolist()) == sorted(expected_ids)
    batches = design.batches
    flat = np.concatenate(batches) if batches else np.empty(0, np.int64)
    assert np.array_equal(flat, emitted)
    rep = np.array([design.reported[tx] for tx in emitted.tolist()])
    assert np.array_equal(design.reported.ids, emitted)
    assert np.array_equal(design.reported.matrix, rep)
    assert (rep.max(axis=1) <= emitted_t).all(), "emitted before every node reported"
    batch_of = np.repeat(np.arange(len(batches)), [len(b) for b in batches])
    c = precedence_counts(rep)
    a, b = np.nonzero(c >= design.threshold)
    cross = batch_of[a] != batch_of[b]
    assert (a[cross] < b[cross]).all(), "a fairly-earlier tx was emitted later"


# --------------------------------------------------------------------------------------
# pure functions
# --------------------------------------------------------------------------------------
def test_precedence_counts_small():
    recv = np.array([[0, 5, 1], [1, 5, 0], [2, 2, 2]])
    c = precedence_counts(recv)
    assert c.tolist() == [[0, 1, 2], [1, 0, 2], [1, 1, 0]]


def test_threshold_rounding():
    assert threshold(0.7, 10) == 7
    assert threshold(2 / 3, 3) == 2
    assert threshold(0.9, 7) == 7
    assert threshold(1.0, 4) == 4
    assert threshold(0.51, 1) == 1


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 9).flatmap(lambda m: st.integers(1, 7).flatmap(lambda n: st.tuples(
    st.lists(st.lists(st.integers(0, 4), min_size=n, max_size=n), min_size=m, max_size=m),
    st.lists(st.integers(0, 3), min_size=m, max_size=m)))),
    st.floats(0.5, 1.0, exclude_min=True))
def test_fair_order_properties(data, gamma):
    recv, tb = np.array(data[0], dtype=np.int64), np.array(data[1], dtype=np.float64)
    batches = fair_order(recv, gamma, tb)
    check_batches(recv, gamma, batches)
    assert [b.tolist() for b in batches] == reference_order(recv, gamma, tb.tolist())


def test_condorcet_rotation_is_one_batch():
    # columns are nodes: node1 a<b<c, node2 b<c<a, node3 c<a<b
    recv = np.array([[0, 2, 1],   # a
                     [1, 0, 2],   # b
                     [2, 1, 0]])  # c
    batches = fair_order(recv, 2 / 3, np.array([2.0, 1.0, 0.0]))
    assert len(batches) == 1
    assert batches[0].tolist() == [2, 1, 0]  # inside the batch: by tiebreak


def test_unanimous_order_gives_singletons():
    order = [3, 0, 4, 1, 2]
    recv = np.empty((5, 4), dtype=np.int64)
    recv[order] = np.arange(5)[:, None] * 10 + np.arange(4)[None, :]
    tiebreak = np.arange(5, 0, -1).astype(float)  # disagrees; edges must win
    batches = fair_order(recv, 1.0, tiebreak)
    assert [b.tolist() for b in batches] == [[i] for i in order]


def test_no_edges_falls_back_to_tiebreak():
    recv = np.zeros((4, 3), dtype=np.int64)  # all ties: no votes either way
    batches = fair_order(recv, 0.9, np.array([1.0, 0.0, 1.0, 0.0]))
    assert [b.tolist() for b in batches] == [[1], [3], [0], [2]]


def test_empty():
    assert fair_order(np.empty((0, 3), np.int64), 0.9, np.empty(0)) == []


# --------------------------------------------------------------------------------------
# the design
# --------------------------------------------------------------------------------------
def expected_reports(design, ids, arrival, seed, own=None):
    fair = design.cfg.fair
    n = fair.nodes
    own = np.zeros(len(ids), bool) if own is None else own
    rep = np.empty((len(ids), n), dtype=np.int64)
    rep[:, 0] = arrival
    for k in range(1, n):
        z = keyed_normals(seed, "fair.node", ids, np.full(len(ids), k))
        real = arrival + latency_from_normals(fair.node_latency, z)
        if k <= fair.faulty:
            real = np.where(own, arrival, real + fair.fault_delay)
        rep[:, k] = real
    return rep


def test_design_small_run():
    txs = TxStore()
    arrivals = np.array([1_000, 1_500, 2_000, 240_000, 260_000, 261_000, 600_000,
                         600_000, 1_400_000], dtype=np.int64)
    txs.add_many(Kind.TRADE, 0, arrivals, arrivals)
    design = make_design()
    view = StubView(txs, seed=11)
    design.attach(view)
    assert design.name == "fair-ordering"
    emitted, t = drive(design, arrivals, design.block_time)
    check_design(design, emitted, t, list(range(len(arrivals))))
    rep = np.array([design.reported[i] for i in range(len(arrivals))])
    assert np.array_equal(rep, expected_reports(design, np.arange(len(arrivals)), arrivals, 11))
    # nothing can be complete before the faulty node's delayed report
    assert (t >= arrivals[emitted] + design.cfg.fair.fault_delay).all()
    assert len(design.reported) == len(arrivals) and 3 in design.reported
    with pytest.raises(KeyError):
        design.reported[99]


def test_design_defers_behind_incomplete_predecessor():
    """A tx that arrived first but whose reports lag holds back the txs behind it."""
    cfg = dict(nodes=3, faulty=0, gamma=2 / 3, median="1ms", sigma=0.0)
    design = make_design(**cfg, block_time="10ms")
    txs = TxStore()
    txs.add_many(Kind.TRADE, 0, np.zeros(2, np.int64), np.zeros(2, np.int64))
    design.attach(StubView(txs, seed=0))
    design.receive(np.array([0, 1]), np.array([9_000, 9_500]))
    # lag tx 0 at node 2 past the first tick; tx 1 complete at 11ms but must wait
    design._rep[0, 2] = 15_000
    design._last[0] = 15_000
    b = design.build_blocks(np.array([11_000], np.int64))
    assert len(b.ids) == 0 and design.pending() == 2
    b = design.build_blocks(np.array([20_000], np.int64))
    assert b.ids.tolist() == [0, 1]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3_000_000), min_size=1, max_size=60),
       st.integers(0, 2**31),
       st.sampled_from([(1, 0, 0.9), (3, 0, 2 / 3), (4, 0, 0.75), (7, 1, 0.9),
                        (9, 1, 0.8), (10, 1, 0.75), (13, 2, 0.95), (6, 0, 0.51)]),
       st.sampled_from(["1ms", "15ms", "120ms"]), st.sampled_from([0.0, 0.5, 1.5]),
       st.sampled_from(["0ms", "100ms", "400ms"]), st.sampled_from(["20ms", "250ms"]),
       st.integers(1, 4))
def test_design_guarantee_random(arrivals, seed, fair, median, sigma, fault_delay,
                                 block_time, windows):
    nodes, faulty, gamma = fair
    design = make_design(nodes, faulty, gamma, median, sigma, fault_delay, block_time)
    arr = np.asarray(arrivals, dtype=np.int64)
    txs = TxStore()
    txs.add_many(Kind.TRADE, 0, arr, arr)
    design.attach(StubView(txs, seed))
    emitted, t = drive(design, arr, design.block_time, windows)
    check_design(design, emitted, t, list(range(len(arr))))
    rep = np.array([design.reported[i] for i in range(len(arr))])
    assert np.array_equal(rep, expected_reports(design, np.arange(len(arr)), arr, seed))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2_000_000), min_size=1, max_size=40),
       st.integers(0, 2**31), st.integers(1, 3))
def test_design_with_operator(arrivals, seed, windows):
    design = make_design(nodes=7, faulty=1, gamma=0.9, strategies=("backrun",))
    fake = FakeOperator()
    design.operator = fake
    arr = np.asarray(arrivals, dtype=np.int64)
    txs = TxStore()
    txs.add_many(Kind.TRADE, 0, arr, arr)
    view = StubView(txs, seed)
    design.attach(view)
    emitted, t = drive(design, arr, design.block_time, windows)
    outside = list(range(len(arr)))
    # each outside tx shown once, never the operator's own
    assert sorted(fake.offered) == outside
    assert set(fake.created) == view.inserted
    check_design(design, emitted, t, outside + sorted(view.inserted))
    own = np.array(sorted(view.inserted), dtype=np.int64)
    if len(own):
        made = np.array([fake.created[i] for i in own.tolist()], dtype=np.int64)
        rep = np.array([design.reported[i] for i in own.tolist()])
        assert np.array_equal(rep, expected_reports(design, own, made, seed,
                                                    np.ones(len(own), bool)))
        assert (rep[:, 1] == made).all()  # the faulty node reports them at once
    # an operator tx is created at the tick its trigger is first seen there
    when = dict(zip(emitted.tolist(), t.tolist()))
    for tx, made in fake.created.items():
        assert when[tx] >= made


def test_operator_hosted_only_with_strategies():
    assert make_design().operator is None
    assert make_design(strategies=()).operator is None
    assert make_design(strategies=("censor",)).operator is not None


def test_design_condorcet_batches_under_dense_flow():
    """Dense flow and noisy node latency: cycles form, and the guarantee still holds."""
    design = make_design(nodes=3, faulty=0, gamma=2 / 3, median="50ms", sigma=1.0)
    rng = np.random.default_rng(1)
    arr = np.sort(rng.integers(0, 2_000_000, 400)).astype(np.int64)
    txs = TxStore()
    txs.add_many(Kind.TRADE, 0, arr, arr)
    design.attach(StubView(txs, seed=5))
    emitted, t = drive(design, arr, design.block_time, windows=3)
    check_design(design, emitted, t, list(range(len(arr))))
    assert max(len(b) for b in design.batches) > 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 2_000_000), min_size=2, max_size=45),
       st.integers(0, 2**31),
       st.sampled_from([(3, 0, Fraction(2, 3)), (4, 0, Fraction(3, 4)), (7, 1, Fraction(9, 10)),
                        (10, 1, Fraction(4, 5)), (5, 0, Fraction(3, 5)), (9, 1, Fraction(5, 6))]),
       st.sampled_from(["5ms", "40ms", "150ms"]), st.booleans())
def test_no_pair_seen_in_order_by_ceil_gamma_n_nodes_is_inverted(arrivals, seed, fair,
                                                                  median, operator):
    """The rule named exactly: whenever at least ⌈γ·n⌉ of the n reports have a before b
    (counted pair by pair, the threshold in exact fractions), b is never emitted before a
    — unless the two are in one batch (a strongly connected component), where batch-order
    fairness promises nothing."""
    nodes, faulty, gamma = fair
    need = math.ceil(gamma * nodes)
    design = make_design(nodes, faulty, float(gamma), median, 1.0, "100ms", "100ms")
    arr = np.asarray(arrivals, dtype=np.int64)
    txs = TxStore()
    txs.add_many(Kind.TRADE, 0, arr, arr)
    if operator:
        design.operator = FakeOperator()
    design.attach(StubView(txs, seed))
    emitted, _ = drive(design, arr, design.block_time, windows=2)
    position = {tx: i for i, tx in enumerate(emitted.tolist())}
    batch_of = {tx: k for k, batch in enumerate(design.batches) for tx in batch.tolist()}
    reports = {tx: design.reported[tx].tolist() for tx in emitted.tolist()}
    for a in emitted.tolist():
        for b in emitted.tolist():
            votes = sum(ra < rb for ra, rb in zip(reports[a], reports[b]))
            if a != b and votes >= need and batch_of[a] != batch_of[b]:
                assert position[a] < position[b], (a, b, votes, need)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 70), st.floats(0.0, 0.6), st.integers(0, 2**31))
def test_dense_strong_components_partition_like_scipy(m, density, seed):
    """The dense closure used for small graphs finds the same components as scipy."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components

    from seqlab.sequencing.fair import SMALL_GRAPH, strong_components

    edges = np.random.default_rng(seed).random((m, m)) < density
    count, label = strong_components(edges)
    ref_count, ref = connected_components(csr_matrix(edges), directed=True,
                                          connection="strong")
    assert count == ref_count
    same = label[:, None] == label[None, :]
    assert np.array_equal(same, ref[:, None] == ref[None, :])
    assert m > SMALL_GRAPH or label.max() == count - 1
