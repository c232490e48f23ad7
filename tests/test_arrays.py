"""``member`` answers exactly what ``np.isin`` does, small or large."""
import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.arrays import member

ints = st.lists(st.integers(-50, 50), max_size=120).map(lambda v: np.array(v, dtype=np.int64))


@settings(max_examples=300, deadline=None)
@given(ints, ints)
def test_member_is_isin(values, of):
    assert np.array_equal(member(values, of), np.isin(values, of))
    assert member(values, of).dtype == bool and len(member(values, of)) == len(values)
