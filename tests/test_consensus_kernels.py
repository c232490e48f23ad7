"""The compiled committee kernels give bit for bit what their plain numpy forms give."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.consensus import (INF, Committee, median_us, quorum_size, run_round,
                              run_round_arrays)
from seqlab.quorum_kernel import SMALL
from seqlab.sequencing.candidate_lists import listed, listed_arrays


@st.composite
def rounds(draw):
    """A round of a committee small enough to run compiled, with any mix of crashes,
    losses, extra delays and equivocation votes."""
    n = draw(st.integers(4, SMALL))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    base = Committee.round_robin(n, jitter_sigma=0.2).base_us()
    if draw(st.booleans()):  # arbitrary latencies, not only the five regions'
        base = rng.uniform(0.0, 3e5, (n, n))
    factors = rng.lognormal(0.0, draw(st.sampled_from([0.0, 0.2, 1.5])), (3, n, n))
    alive = rng.random(n) < draw(st.sampled_from([1.0, 0.9, 0.6]))
    quorum = draw(st.sampled_from([quorum_size(n), 1, n, draw(st.integers(1, n))]))
    lost = rng.random((3, n, n)) < 0.2 if draw(st.booleans()) else None
    extra = rng.uniform(0, 5e4, n) if draw(st.booleans()) else draw(st.sampled_from([0.0, 7.5]))
    vote = np.where(rng.random(n) < 0.3, 2e5, 0.0) if draw(st.booleans()) else 0.0
    voters = rng.random(n) < 0.7 if draw(st.booleans()) else None
    t0 = draw(st.integers(0, 10**11))
    leader = draw(st.integers(0, n - 1))
    return t0, leader, base, factors, alive, quorum, lost, extra, vote, voters


@settings(max_examples=300, deadline=None)
@given(rounds())
def test_compiled_round_equals_the_array_form(args):
    fast, plain = run_round(*args), run_round_arrays(*args)
    assert fast.commit_us.dtype == plain.commit_us.dtype == np.int64
    assert fast.commit_us.tolist() == plain.commit_us.tolist()
    assert fast.committed == plain.committed


def test_compiled_round_takes_a_partitions_broadcast_cut():
    """A partition's cut arrives as a read-only broadcast view; the round copies it."""
    n = 6
    cut = np.zeros((n, n), dtype=bool)
    cut[:3, 3:] = cut[3:, :3] = True
    lost = np.broadcast_to(cut[None], (3, n, n))
    args = (1000, 0, Committee.round_robin(n).base_us(), np.ones((3, n, n)),
            np.ones(n, dtype=bool), quorum_size(n), lost)
    assert run_round(*args).commit_us.tolist() == run_round_arrays(*args).commit_us.tolist()
    assert not run_round(*args).committed  # no side holds a quorum of 5 of 6


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 10**15), st.just(INF)), min_size=1, max_size=41)
       .filter(lambda t: min(t) < INF))
def test_median_us_is_numpys_median(times):
    t = np.array(times, dtype=np.int64)
    assert median_us(t) == int(np.median(t[t < INF]))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.integers(1, 30), st.data())
def test_compiled_lists_equal_the_array_form(n, m, data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    step = 50_000  # times on a coarse grid, so receive times often fall on the cut
    recv = rng.integers(0, 25, (m, n)) * step
    priority = rng.random(m) < data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    alive = rng.random(n) < 0.8
    censored = rng.random(m) < data.draw(st.sampled_from([0.0, 0.5]))
    byzantine = rng.random(n) < 0.3
    args = (recv, priority, alive, data.draw(st.integers(0, 25)) * step,
            data.draw(st.integers(0, 6)) * step, data.draw(st.integers(1, n)), censored,
            byzantine)
    assert listed(*args).tolist() == listed_arrays(*args).tolist()
