"""The margin managers' compiled look at changed accounts sets the same flags as the
set-and-loop form it replaced, for any accounts, repeats and floats."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.agents.trigger_kernel import examine, examine_all

N = 12


def reference(changed, managed, pending, low, due, notional, equity, trigger, rate):
    """The Python form: a set of due accounts, updated one changed account at a time."""
    due_set = set(np.flatnonzero(due).tolist())
    for i in set(changed.tolist()):
        if not managed[i]:
            continue
        req = rate * float(notional[i])
        low[i] = is_low = req > 0 and float(equity[i]) < trigger * req
        if is_low and not pending[i]:
            due_set.add(i)
        else:
            due_set.discard(i)
    return due_set


floats = st.floats(-1e12, 1e12, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(changed=st.lists(st.integers(0, N - 1), max_size=20),
       managed=st.lists(st.booleans(), min_size=N, max_size=N),
       pending=st.lists(st.booleans(), min_size=N, max_size=N),
       low=st.lists(st.booleans(), min_size=N, max_size=N),
       notional=st.lists(st.floats(0, 1e12), min_size=N, max_size=N),
       equity=st.lists(floats, min_size=N, max_size=N),
       trigger=st.floats(0.5, 3.0), rate=st.floats(0.0, 0.2))
def test_examine_sets_the_flags_the_loop_sets(changed, managed, pending, low, notional,
                                              equity, trigger, rate):
    changed = np.array(changed, dtype=np.int64)
    managed, pending = np.array(managed), np.array(pending)
    notional, equity = np.array(notional), np.array(equity)
    low = np.array(low)
    due = low & ~pending & managed  # a consistent start, as the managers keep it
    ref_low, low_k, due_k = low.copy(), low.copy(), due.copy()
    want = reference(changed, managed, pending, ref_low, due, notional, equity, trigger,
                     rate)
    change = examine(changed, managed, pending, low_k, due_k, notional, equity, trigger, rate)
    assert np.array_equal(low_k, ref_low)
    assert set(np.flatnonzero(due_k).tolist()) == want
    assert change == len(want) - int(due.sum())  # the count kept equals the count made


@settings(max_examples=300, deadline=None)
@given(managed=st.lists(st.booleans(), min_size=N, max_size=N),
       pending=st.lists(st.booleans(), min_size=N, max_size=N),
       low=st.lists(st.booleans(), min_size=N, max_size=N),
       notional=st.lists(st.one_of(st.floats(0, 1e12), st.just(float("nan"))),
                         min_size=N, max_size=N),
       equity=st.lists(st.one_of(floats, st.just(float("nan"))), min_size=N, max_size=N),
       trigger=st.floats(0.5, 3.0), rate=st.floats(0.0, 0.2))
def test_examine_all_writes_the_array_forms_flags(managed, pending, low, notional, equity,
                                                  trigger, rate):
    """After a price move every account is looked at: the compiled pass writes the
    array form's ``low`` and ``due`` everywhere and counts the due."""
    managed, pending = np.array(managed), np.array(pending)
    notional, equity = np.array(notional), np.array(equity)
    req = rate * notional
    want_low = (req > 0) & (equity < trigger * req) & managed
    want_due = want_low & ~pending
    low_k, due_k = np.array(low), ~np.array(low)  # whatever they held before
    count = examine_all(managed, pending, low_k, due_k, notional, equity, trigger, rate)
    assert low_k.tolist() == want_low.tolist() and due_k.tolist() == want_due.tolist()
    assert count == int(want_due.sum())
