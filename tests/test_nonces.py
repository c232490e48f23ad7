"""Shared nonces: one version of a transaction executes; a block's ids tested twice are
answered from the first test only while nothing new is bound."""
from __future__ import annotations

import numpy as np

from seqlab.rollup.nonces import Nonces


def test_a_block_found_clear_is_tested_again_after_a_bind():
    nonces = Nonces()
    block = np.array([5, 6], dtype=np.int64)
    assert not nonces.has_bound(block)  # nothing bound at all
    nonces.bind(np.array([7], dtype=np.int64), nonces.open(1))
    assert not nonces.has_bound(block)  # tested: clear
    assert not nonces.has_bound(block)  # the same array again: clear, from the first test
    nonces.bind(block[:1], nonces.open(1))  # a version of 5 is bound now
    assert nonces.has_bound(block)
    assert nonces.claim(block).tolist() == [True, True]
    assert nonces.has_bound(np.array([6, 7], dtype=np.int64))


def test_claim_lets_only_the_first_version_of_a_nonce_execute():
    nonces = Nonces()
    group = nonces.open(1)
    nonces.bind(np.array([3, 9], dtype=np.int64), np.repeat(group, 2))
    assert nonces.claim(np.array([1, 2], dtype=np.int64)) is None  # none bound: all run
    assert nonces.claim(np.array([2, 9, 3], dtype=np.int64)).tolist() == [True, True, False]
    assert nonces.claim(np.array([3], dtype=np.int64)).tolist() == [False]  # spent


def test_the_lowest_bound_id_is_the_least_id_ever_bound():
    """``lowest_bound`` (every id below it spends a nonce of its own, which the runner of
    quiet stretches reads instead of the set) is the set's least id, bind after bind."""
    nonces = Nonces()
    assert nonces.lowest_bound == np.iinfo(np.int64).max  # nothing bound
    for ids in ([40, 52], [61], [17, 90], [33]):
        nonces.bind(np.array(ids), nonces.open(len(ids)))
        assert nonces.lowest_bound == min(nonces._bound_ids)
