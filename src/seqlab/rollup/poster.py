"""The batch poster: when each block reaches L1, and when it is final.

Blocks are soft-confirmed when the sequencer executes them. The poster collects them
into a batch and seals it once it holds ``max_batch_bytes`` or its oldest block has
waited ``max_delay`` (checked every ``poll``, as Arbitrum's poster does); the batch lands
in the next L1 block and is final ``finality`` later (about 13 minutes on Ethereum).
Posting costs ``bytes × gas_per_byte × gas price`` in ETH (the gas price constant or
replayed, ``seqlab.rollup.gas``), paid by the rollup out of the fees it collected.
Computed after the run from the blocks table, as arrays.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from seqlab.scenario.schema import BatchPoster


@dataclass(frozen=True)
class Batches:
    """Per block: when it was posted and final (µs) and its batch; per batch: bytes and
    when sealed and posted."""

    block_posted_us: np.ndarray
    block_final_us: np.ndarray
    sealed_us: np.ndarray
    posted_us: np.ndarray
    bytes: np.ndarray
    block_batch: np.ndarray


def post_batches(block_t_us: np.ndarray, block_txs: np.ndarray, cfg: BatchPoster,
                 l1_block_us: int) -> Batches:
    """Group blocks into batches and time them (blocks in time order)."""
    size = block_txs.astype(np.int64) * cfg.tx_bytes
    batch_of, sealed_us, nbytes = _seal(np.ascontiguousarray(block_t_us, np.int64), size,
                                        cfg.max_delay, cfg.poll, cfg.max_batch_bytes)
    posted_us = (sealed_us // l1_block_us + 1) * l1_block_us
    return Batches(posted_us[batch_of], posted_us[batch_of] + cfg.finality, sealed_us,
                   posted_us, nbytes, batch_of)


@njit(cache=True)
def _seal(block_t_us: np.ndarray, size: np.ndarray, max_delay: int, poll: int,
          max_batch_bytes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each block's batch, and each batch's sealing time and bytes: a batch is sealed
    at the first poll after its oldest block's deadline once a later block comes, or
    at the block that fills it (one pass over the blocks, in integers)."""
    n = len(block_t_us)
    batch_of = np.empty(n, dtype=np.int64)
    sealed = np.empty(n + 1, dtype=np.int64)  # a block seals at most one batch
    nbytes = np.empty(n + 1, dtype=np.int64)
    start, acc, k = 0, 0, 0
    for i in range(n):
        due = block_t_us[start] + max_delay  # the oldest block's deadline
        if i > start and block_t_us[i] > due:  # the poll after the deadline sealed it
            sealed[k], nbytes[k] = -(-due // poll) * poll, acc
            start, acc, k = i, 0, k + 1
        batch_of[i] = k
        acc += size[i]
        if acc >= max_batch_bytes:
            sealed[k], nbytes[k] = block_t_us[i], acc
            start, acc, k = i + 1, 0, k + 1
    if start < n:
        due = block_t_us[start] + max_delay
        sealed[k], nbytes[k] = -(-due // poll) * poll, acc
        k += 1
    return batch_of, sealed[:k].copy(), nbytes[:k].copy()


def posting_cost_micro(batches: Batches, cfg: BatchPoster, eth_usd: np.ndarray,
                       gas_gwei: np.ndarray) -> np.ndarray:
    """Each batch's L1 cost in micro-USD at the gas and ETH prices when it was posted."""
    eth = batches.bytes * cfg.gas_per_byte * gas_gwei * 1e-9
    return np.rint(eth * eth_usd * 1e6).astype(np.int64)
