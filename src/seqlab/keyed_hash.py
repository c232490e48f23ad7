"""The counter-based hash behind ``kernel.keyed_normals``, in compiled code.

Agents and designs draw keyed normals thousands of times a run, most often a handful at
a time (one top-up, one round's order keys): in numpy the dozen operations on tiny
arrays cost more than the hashing. ``uniforms`` is splitmix64 applied twice, to the key
mixed into the stream's base and then to the counter mixed in, as one loop in uint64
arithmetic (wrapping modulo 2**64, as intended), followed by the same two float
operations that map the top 53 bits into (0, 1).
"""
from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
COUNTER_MIX = np.uint64(0xD6E8FEB86659FD93)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TWO53 = float(1 << 53)


@njit(cache=True)
def _splitmix64(x: np.uint64) -> np.uint64:
    """The splitmix64 finaliser of one 64-bit word."""
    x = x + _GOLDEN
    x = (x ^ (x >> _S30)) * _MIX1
    x = (x ^ (x >> _S27)) * _MIX2
    return x ^ (x >> _S31)


@njit(cache=True)
def uniforms(base: np.uint64, keys: np.ndarray, counters: np.ndarray, n: int) -> np.ndarray:
    """``n`` uniforms in (0, 1), the i-th hashed from ``keys[i]`` and ``counters[i]``
    (int64, reinterpreted as uint64); a length-1 ``keys`` or ``counters`` serves every
    draw."""
    out = np.empty(n, np.float64)
    one_key, one_counter = len(keys) == 1, len(counters) == 1
    for i in range(n):
        k = np.uint64(keys[0] if one_key else keys[i])
        c = np.uint64(counters[0] if one_counter else counters[i])
        h = _splitmix64(_splitmix64(base ^ k) ^ (c * COUNTER_MIX))
        out[i] = (np.float64(h >> _S11) + 0.5) / _TWO53
    return out
