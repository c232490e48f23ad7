"""The compiled fair-ordering tick against its numpy reference, on random pending sets."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqlab.sequencing.fair import block_order, threshold
from seqlab.sequencing.fair_kernel import emit_block, enrol


@st.composite
def pending_sets(draw):
    """Pending rows as the design keeps them: node 0 reports the leader arrival, ``last``
    is the latest report; small time ranges so ties, cycles and deferrals are common."""
    nodes = draw(st.integers(1, 9))
    n = draw(st.integers(0, 40))
    spread = draw(st.sampled_from([3, 10, 1000]))
    leader = np.array(draw(st.lists(st.integers(0, spread), min_size=n, max_size=n)),
                      dtype=np.int64)
    lag = np.array(draw(st.lists(st.lists(st.integers(0, spread), min_size=nodes - 1,
                                          max_size=nodes - 1), min_size=n, max_size=n)),
                   dtype=np.int64).reshape(n, nodes - 1)
    rep = np.concatenate((leader[:, None], leader[:, None] + lag), axis=1)
    ids = np.array(draw(st.permutations(range(3 * n + 1)))[:n], dtype=np.int64)
    t = draw(st.integers(0, 3 * spread))
    gamma = draw(st.floats(0.5, 1.0, exclude_min=True))
    return ids, leader, rep, rep.max(axis=1), t, threshold(gamma, nodes)


def buffers(arrays, spare, rng):
    """The arrays at the head of buffers with ``spare`` rows of garbage after them."""
    out = []
    for a in arrays:
        buf = rng.integers(-5, 5, size=(len(a) + spare,) + a.shape[1:]).astype(np.int64)
        buf[:len(a)] = a
        out.append(buf)
    return out


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pending_sets(), st.integers(0, 5), st.integers(0, 2**31))
def test_kernel_equals_reference(state, spare, seed):
    ids, leader, rep, last, t, thr = state
    n = len(ids)
    pos, sizes = block_order(ids, leader, rep, last, t, thr)
    b_ids, b_leader, b_rep, b_last = buffers((ids, leader, rep, last), spare,
                                             np.random.default_rng(seed))
    left, out_ids, out_rep, out_sizes = emit_block(b_ids, b_leader, b_rep, b_last, n, t, thr)
    assert out_ids.tolist() == ids[pos].tolist()
    assert np.array_equal(out_rep, rep[pos]) and out_rep.shape == (len(pos), rep.shape[1])
    assert out_sizes.tolist() == sizes.tolist()
    assert sizes.sum() == len(pos)
    keep = np.ones(n, dtype=bool)
    keep[pos] = False
    assert left == keep.sum()
    for buf, orig in ((b_ids, ids), (b_leader, leader), (b_rep, rep), (b_last, last)):
        assert np.array_equal(buf[:left], orig[keep])


def test_kernel_reference_agree_on_a_condorcet_cycle_behind_a_late_report():
    """Three complete txs in a rotation are one batch; a fourth, incomplete and fairly
    ahead of one of them, holds the whole batch back until its reports are in."""
    rep = np.array([[0, 2, 1],    # a
                    [1, 0, 2],    # b
                    [2, 1, 0],    # c
                    [0, 0, 9]])   # d: node 2 reports it at 9, yet d is ahead of c at 0, 1
    ids = np.array([10, 11, 12, 13], dtype=np.int64)
    leader, last = rep[:, 0].copy(), rep.max(axis=1)
    for t, want, batches in ((5, [], []), (9, [13, 10, 11, 12], [1, 3])):
        pos, sizes = block_order(ids, leader, rep, last, t, 2)
        left, out, _, ksizes = emit_block(ids.copy(), leader.copy(), rep.copy(), last.copy(),
                                          4, t, 2)
        assert ids[pos].tolist() == out.tolist()
        assert sizes.tolist() == ksizes.tolist()
        assert out.tolist() == want and ksizes.tolist() == batches  # medians tie: by id
        assert left == 4 - len(want)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 9).flatmap(lambda nodes: st.tuples(
    st.just(nodes), st.integers(0, nodes - 1),
    st.lists(st.tuples(st.integers(0, 10**9), st.booleans(),
                       st.lists(st.integers(0, 10**6), min_size=nodes - 1,
                                max_size=nodes - 1)), max_size=12))),
    st.integers(0, 20), st.integers(0, 10**6))
def test_enrol_writes_what_each_node_reports(data, n, fault_delay):
    """Reports as the module docstring states them, written after the pending rows."""
    nodes, faulty, rows = data
    m = len(rows)
    at = np.array([r[0] for r in rows], dtype=np.int64)
    own = np.array([r[1] for r in rows], dtype=bool)
    lat = np.array([r[2] for r in rows], dtype=np.int64).reshape(m, nodes - 1)
    new = np.arange(100, 100 + m, dtype=np.int64)
    want = np.empty((m, nodes), dtype=np.int64)
    want[:, 0] = at
    want[:, 1:] = at[:, None] + lat
    want[:, 1:faulty + 1] = np.where(own[:, None], at[:, None],
                                     want[:, 1:faulty + 1] + fault_delay)
    ids, leader, last = (np.full(n + m + 3, -1, np.int64) for _ in range(3))
    rep = np.full((n + m + 3, nodes), -1, np.int64)
    assert enrol(ids, leader, rep, last, n, new, at, lat, own, faulty, fault_delay) == n + m
    assert np.array_equal(rep[n:n + m], want) and (rep[:n] == -1).all()
    assert np.array_equal(ids[n:n + m], new) and np.array_equal(leader[n:n + m], at)
    assert np.array_equal(last[n:n + m], want.max(axis=1)) and (last[n + m:] == -1).all()
