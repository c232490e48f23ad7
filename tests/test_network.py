"""Delivery from the bulk-loaded arrivals: the listed arrivals ahead must answer exactly as
a search of the whole array would, whatever times are asked and however the list falls."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.network import Network

arrivals = st.lists(st.integers(0, 60), max_size=80).map(sorted)
# times mostly increasing (a tick never goes back), with some repeats and steps back
asks = st.lists(st.integers(-2, 64), min_size=1, max_size=40)


@settings(max_examples=300, deadline=None)
@given(arrivals, asks, st.integers(1, 5))
def test_bulk_end_is_the_array_search(arrival, times, ahead):
    net = Network()
    net.AHEAD = ahead  # a short list: every boundary of it is met
    arr = np.array(arrival, dtype=np.int64)
    net.preload(np.arange(len(arr), dtype=np.int64), arr)
    for t in times:
        assert net._bulk_end(t) == int(arr.searchsorted(t, side="right")), t


@settings(max_examples=200, deadline=None)
@given(arrivals, st.lists(st.integers(0, 8), min_size=1, max_size=30), st.integers(1, 5))
def test_deliver_hands_out_each_arrival_once_in_order(arrival, steps, ahead):
    net = Network()
    net.AHEAD = ahead
    arr = np.array(arrival, dtype=np.int64)
    net.preload(np.arange(len(arr), dtype=np.int64), arr)
    got, now = [], 0
    for step in steps:
        now += step
        ids, at = net.deliver(now)
        assert (at <= now).all()
        got += ids.tolist()
        assert len(got) == int((arr <= now).sum())
    assert got == list(range(len(got)))  # preloaded ids ascend with arrival here
