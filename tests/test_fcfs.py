"""FCFS sequencing: the vectorised window must equal tick-by-tick queueing."""
from collections import deque

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.fcfs import FcfsDesign, served_by_tick


def naive_fcfs(arrivals, ticks, cap):
    """Reference: a plain queue served tick by tick."""
    queue, out, i = deque(), [], 0
    order = sorted(range(len(arrivals)), key=lambda k: (arrivals[k], k))
    for k, t in enumerate(ticks):
        while i < len(order) and arrivals[order[i]] <= t:
            queue.append(order[i])
            i += 1
        take = len(queue) if cap == 0 else min(cap, len(queue))
        for _ in range(take):
            out.append((queue.popleft(), k))
    return out


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5_000), max_size=300), st.integers(0, 7),
       st.integers(1, 40), st.integers(1, 4))
def test_window_equals_tick_by_tick(arrivals, cap, n_ticks, windows):
    ticks = np.arange(1, n_ticks + 1, dtype=np.int64) * 250
    expected = naive_fcfs(arrivals, ticks.tolist(), cap)
    design = FcfsDesign(Sequencer(max_txs_per_block=cap))
    arr = np.asarray(arrivals, dtype=np.int64)
    ids = np.arange(len(arr), dtype=np.int64)
    order = np.lexsort((ids, arr))
    got, delivered = [], 0
    for chunk in np.array_split(np.arange(n_ticks), windows):
        if not len(chunk):
            continue
        window = ticks[chunk]
        new = order[delivered:][arr[order[delivered:]] <= window[-1]]
        delivered += len(new)
        design.receive(new, arr[new])
        blocks = design.build_blocks(window)
        got += list(zip(blocks.ids.tolist(), (chunk[0] + blocks.tick_index).tolist()))
    assert got == expected


def test_served_by_tick_matches_recurrence():
    rng = np.random.default_rng(3)
    arrived = np.cumsum(rng.poisson(60, 500))
    served = served_by_tick(arrived, 50)
    s = 0
    for k, a in enumerate(arrived):
        s = min(s + 50, a)
        assert served[k] == s
    assert np.array_equal(served_by_tick(arrived, 0), arrived)
