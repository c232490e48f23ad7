"""``member`` answers exactly what ``np.isin`` does, small or large."""
import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.arrays import member
from seqlab.sequencing.base import PendingQueue, blocks_per_tick

ints = st.lists(st.integers(-50, 50), max_size=120).map(lambda v: np.array(v, dtype=np.int64))


@settings(max_examples=300, deadline=None)
@given(ints, ints)
def test_member_is_isin(values, of):
    assert np.array_equal(member(values, of), np.isin(values, of))
    assert member(values, of).dtype == bool and len(member(values, of)) == len(values)


queued = st.lists(st.integers(0, 400), max_size=150, unique=True)


@settings(max_examples=300, deadline=None)
@given(queued, st.lists(st.integers(0, 400), max_size=40))
def test_queue_remove_keeps_the_others_in_order(ids, taken):
    """Short queues (Python sets) and long ones (``member``) drop exactly ``taken``."""
    q = PendingQueue()
    q.add(np.array(ids, dtype=np.int64), np.arange(len(ids), dtype=np.int64))
    q.remove(np.array(taken, dtype=np.int64))
    kept = [i for i in ids if i not in set(taken)]
    assert q.ids.tolist() == kept
    assert q.arrival.tolist() == [ids.index(i) for i in kept]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=60), st.lists(st.integers(0, 40), min_size=1,
       max_size=8, unique=True), st.data())
def test_blocks_per_tick_whole_prefix_as_a_subset(arrivals, ticks, data):
    """A build that hands back the eligible prefix itself leaves the queue as one that
    hands back an equal copy (or, per tick, a drawn subset) does: the taken ids go, the
    rest stay in arrival order. Fails if the prefix shortcut drops what was not taken."""
    arrival = np.sort(np.array(arrivals, dtype=np.int64))
    ids = np.arange(100, 100 + len(arrival), dtype=np.int64)
    ticks = np.array(sorted(ticks), dtype=np.int64)
    keep = [data.draw(st.booleans()) for _ in ticks]  # per tick: the prefix as it is, or some

    def run(same: bool):
        q = PendingQueue()
        q.add(ids.copy(), arrival.copy())
        taken = iter(keep)

        def build(eligible, at, now):
            whole = next(taken)
            if whole:
                return eligible if same else eligible.copy()
            # every other one, padded to the prefix's length with inserted txs (a shortcut
            # keyed on the block's length would drop the ones left out)
            half = eligible[::2]
            return np.concatenate((half, 10_000 + np.arange(len(eligible) - len(half))))

        blocks = blocks_per_tick(ticks, q, build)
        return blocks.ids.tolist(), blocks.tick_index.tolist(), q.ids.tolist(), q.arrival.tolist()

    assert run(True) == run(False)
    out, _, left, left_at = run(True)
    out = [i for i in out if i < 10_000]  # the queue's own
    assert left == [i for i in ids.tolist() if i not in set(out)]
    assert sorted(out + left) == ids.tolist()
    assert left_at == sorted(left_at)
