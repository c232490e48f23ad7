"""The transaction view enforces what a design may read.

Under an encrypted mempool the sequencer orders ciphertexts: reading the kind or amount
of a pending transaction it did not create raises, whatever ids are asked for, and the
content-blind reads give nothing away; its own transactions and every envelope field
(sender, arrival, tip) stay readable. In a real run the encrypted design's view is sealed.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.sequencing.txview import (UNKNOWN_KIND, UNKNOWN_SENDER, SealedContent,
                                     SealedSender, TxView)
from seqlab.txs import Kind, TxStore
from tests.pinned import shrunk


def store(kinds: list[int]) -> TxStore:
    txs = TxStore()
    t = np.arange(len(kinds), dtype=np.int64)
    txs.add_many(np.array(kinds, dtype=np.int8), np.arange(len(kinds)), t, t,
                 a=np.arange(len(kinds)) * 10 + 7)
    return txs


kinds = st.lists(st.sampled_from([int(Kind.TRADE), int(Kind.TOPUP), int(Kind.ORACLE),
                                  int(Kind.LIQUIDATE)]), min_size=1, max_size=30)


@settings(max_examples=200, deadline=None)
@given(kinds, st.data())
def test_sealed_contents_cannot_be_read(kind_list, data):
    txs = store(kind_list)
    view = TxView(txs, contents_visible=False)
    own = view.insert(Kind.TRADE, 0, 5, a=123)
    others = np.arange(len(kind_list), dtype=np.int64)
    ask = data.draw(st.lists(st.sampled_from(others.tolist()), min_size=1, max_size=10))
    ids = np.array(ask + ([own] if data.draw(st.booleans()) else []), dtype=np.int64)
    with pytest.raises(SealedContent):
        view.kind(ids)
    with pytest.raises(SealedContent):
        view.payload(ids)
    hidden = ids != own
    assert (view.known_kind(ids)[hidden] == UNKNOWN_KIND).all()
    assert (view.known_payload(ids)[hidden] == 0).all()
    # its own transaction and the envelope stay readable
    assert view.kind(np.array([own]))[0] == Kind.TRADE and view.payload(np.array([own]))[0] == 123
    assert np.array_equal(view.arrival(ids), txs.arrival_us[ids])
    assert np.array_equal(view.tip(ids), txs.tip[ids])


@settings(max_examples=200, deadline=None)
@given(kinds, st.data(), st.booleans())
def test_unlinkable_senders_cannot_be_read(kind_list, data, linkable):
    """With senders hidden, whose ciphertext is whose is as sealed as what it says."""
    txs = store(kind_list)
    view = TxView(txs, contents_visible=False, senders_visible=linkable)
    own = view.insert(Kind.TRADE, 3, 5, a=1)
    others = np.arange(len(kind_list), dtype=np.int64)
    ask = data.draw(st.lists(st.sampled_from(others.tolist()), min_size=1, max_size=10))
    ids = np.array(ask + ([own] if data.draw(st.booleans()) else []), dtype=np.int64)
    hidden = ids != own
    if linkable:
        assert (view.known_origin(ids) != UNKNOWN_SENDER).all()
        assert np.array_equal(view.known_origin(ids), view.origin(ids))
    else:
        with pytest.raises(SealedSender):
            view.origin(ids)
        assert (view.known_origin(ids)[hidden] == UNKNOWN_SENDER).all()
    with pytest.raises(SealedContent):
        view.kind(ids)
    assert view.origin(np.array([own]))[0] == 3 and view.known_origin(np.array([own]))[0] == 3
    # a plaintext view always names senders, whatever is asked
    assert TxView(txs, contents_visible=True, senders_visible=False).senders_visible


@settings(max_examples=50, deadline=None)
@given(kinds)
def test_plaintext_view_reads_everything(kind_list):
    txs = store(kind_list)
    view = TxView(txs)
    ids = np.arange(len(kind_list), dtype=np.int64)
    assert np.array_equal(view.kind(ids), txs.kind[ids])
    assert np.array_equal(view.known_payload(ids), txs.a[ids])


def test_the_encrypted_design_gets_a_sealed_view_and_others_do_not():
    for design, visible, senders in (("encrypted", False, False), ("extractive", True, True),
                                     ("batch-auction", False, True)):
        world = make_world(shrunk("tiny", design), 1)
        view = world.design_view.txs
        assert view.contents_visible is visible
        # encrypted: senders unlinkable by default; a sealed batch keeps its envelopes
        assert view.senders_visible is senders
        if not visible:
            with pytest.raises(SealedContent):
                view.kind(np.array([0]))
            if not senders:
                with pytest.raises(SealedSender):
                    view.origin(np.array([0]))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(Kind)), st.integers(-5, 3_000),
                          st.integers(0, 10**12), st.integers(0, 10**6),
                          st.integers(-2**62, 2**62), st.integers(-3, 3), st.integers(0, 10**9)),
                min_size=1, max_size=40))
def test_adding_one_transaction_is_adding_a_batch_of_one(rows):
    """``add_one`` (the operator's inserts) writes every column as ``add_many`` of one
    does, through the store's growth (a small store grows several times here)."""
    one, many = TxStore(16), TxStore(16)
    for kind, sender, submit, delay, a, b, tip in rows:
        i = one.add_one(kind, sender, submit, submit + delay, a, b, tip)
        j = many.add_many(kind, sender, np.array([submit]), np.array([submit + delay]), a, b,
                          tip)
        assert i == int(j[0])
    assert one.n == many.n == len(rows)
    for name in ("kind", "sender", "submit_us", "arrival_us", "a", "b", "tip", "status",
                 "block", "included_us", "held", "fill"):
        assert np.array_equal(one.column(name), many.column(name)), name
