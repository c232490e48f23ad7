"""The view's per-transaction flags (the operator's own transactions, revealed batches)
answer exactly as sets of ids would, while the store grows underneath them."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.sequencing.txview import UNKNOWN_KIND, UNKNOWN_SENDER, TxView
from seqlab.txs import Kind, TxStore

steps = st.lists(st.tuples(st.sampled_from(["users", "insert", "reveal", "ask"]),
                           st.integers(1, 700), st.integers(0, 2**31)), min_size=1,
                 max_size=25)


@settings(max_examples=120, deadline=None)
@given(steps, st.booleans(), st.booleans())
def test_flags_match_sets(script, visible, linkable):
    txs = TxStore(capacity=16)
    view = TxView(txs, contents_visible=visible, senders_visible=linkable)
    own: set[int] = set()
    revealed: set[int] = set()
    for action, size, salt in script:
        rng = np.random.default_rng(salt)
        if action == "users":
            t = np.zeros(size, dtype=np.int64)
            txs.add_many(int(Kind.TRADE), rng.integers(0, 50, size), t, t, a=5)
        elif action == "insert":
            own.add(view.insert(Kind.TOPUP, 7, 0, a=3))
        elif txs.n:
            ids = rng.integers(0, txs.n, min(size, 40)).astype(np.int64)
            if action == "reveal":
                view.reveal(ids)
                revealed.update(ids.tolist())
                continue
            mine = np.array([i in own for i in ids.tolist()], dtype=bool)
            seen = np.array([i in revealed for i in ids.tolist()], dtype=bool)
            readable = np.ones(len(ids), bool) if visible else mine | seen
            assert np.array_equal(view.own(ids), mine)
            assert np.array_equal(view.readable(ids), readable)
            assert np.array_equal(view.known_kind(ids),
                                  np.where(readable, txs.kind[ids], UNKNOWN_KIND))
            sender = txs.sender[ids].astype(np.int64)
            assert np.array_equal(view.known_origin(ids),
                                  sender if visible or linkable
                                  else np.where(mine, sender, UNKNOWN_SENDER))
            first = int(rng.integers(0, txs.n + 1))
            assert view.inserted_since(first).tolist() == sorted(i for i in own if i >= first)
    assert view.own(np.empty(0, dtype=np.int64)).shape == (0,)
