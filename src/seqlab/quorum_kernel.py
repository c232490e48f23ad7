"""The quorum arithmetic of one consensus round, compiled.

A committee simulation runs tens of thousands of rounds of a committee of a few nodes,
and at that size the numpy form of a round (``seqlab.consensus.run_round_arrays``) is
mostly call overhead: two dozen array operations on 4×4 matrices. This kernel does the
same arithmetic in loops. It is exact, not approximate: every float it produces comes
from the same IEEE operations in the same order as the numpy form (a product per
message, then ``(t0 + delay) + extra``, a sum per quorum candidate, a selection, a
ceiling), and a selection returns the same value however it is computed. A Hypothesis
test checks it against the numpy form on random rounds.
"""
from __future__ import annotations

import numpy as np
from numba import njit

INF = np.iinfo(np.int64).max // 4  # "never": far beyond any run, and safe to add to


SMALL = 32  # committees up to this size run compiled; larger ones are array work already


@njit(cache=True)
def _kth_column(sent: np.ndarray, delay: np.ndarray, j: int, k: int,
                scratch: np.ndarray) -> float:
    """The k-th smallest of ``sent[i] + delay[i, j]`` over senders i (1-based k), by an
    insertion sort: a few comparisons for a few nodes."""
    n = len(sent)
    for i in range(n):
        x = sent[i] + delay[i, j]
        h = i
        while h > 0 and scratch[h - 1] > x:
            scratch[h] = scratch[h - 1]
            h -= 1
        scratch[h] = x
    return scratch[k - 1]


@njit(cache=True)
def quorum_commits(t0: int, leader: int, base_us: np.ndarray, factors: np.ndarray,
                   alive: np.ndarray, quorum: int, lost: np.ndarray, has_lost: bool,
                   proposal_extra_us: np.ndarray, vote_extra_us: np.ndarray,
                   voters: np.ndarray, has_voters: bool) -> tuple[np.ndarray, bool]:
    """When each node commits (``INF`` where it does not) and whether any does: the
    arguments and the protocol of ``seqlab.consensus.run_round``, with ``lost`` and
    ``voters`` read only where ``has_lost`` / ``has_voters`` (fixed argument types keep
    one compilation)."""
    n = len(alive)
    inf = np.inf
    delay = np.empty((3, n, n))
    for s in range(3):
        for i in range(n):
            for j in range(n):
                if not alive[i]:
                    delay[s, i, j] = inf  # crashed nodes send nothing
                elif i == j:
                    delay[s, i, j] = 0.0  # a node's message to itself arrives at once
                elif has_lost and lost[s, i, j]:
                    delay[s, i, j] = inf
                else:
                    delay[s, i, j] = base_us[i, j] * factors[s, i, j]
    start = float(t0)
    prevote_sent = np.empty(n)
    for i in range(n):
        prevote_sent[i] = (start + delay[0, leader, i]) + proposal_extra_us[i] \
            + vote_extra_us[i]
        if has_voters and not voters[i]:
            prevote_sent[i] = inf
    scratch = np.empty(n)
    precommit_sent = np.empty(n)
    for j in range(n):
        precommit_sent[j] = _kth_column(prevote_sent, delay[1], j, quorum, scratch) \
            + vote_extra_us[j]
        if has_voters and not voters[j]:
            precommit_sent[j] = inf
    out = np.empty(n, dtype=np.int64)
    committed = False
    for j in range(n):
        commit = _kth_column(precommit_sent, delay[2], j, quorum, scratch)
        if alive[j] and np.isfinite(commit):
            out[j] = np.int64(np.ceil(commit))
            committed = True
        else:
            out[j] = INF
    return out, committed
