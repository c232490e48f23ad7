"""``member`` answers exactly what ``np.isin`` does, small or large."""
import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.arrays import member
from seqlab.sequencing.base import PendingQueue

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
