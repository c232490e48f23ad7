"""Proof delay: when a ZK rollup's batches are proven, verified on L1 and final.

On an optimistic rollup a posted batch is final on L1 once its L1 block is (the poster's
``finality``), but a withdrawal waits out the challenge period in which anyone may
dispute the state. A ZK rollup has no challenge period: its state on L1 advances only
when a validity proof of the batch is verified there. A prover network starts proving a
batch when the batch is sealed; each attempt takes a lognormal time and fails with some
probability (a crashed or slashed prover, an unfulfillable request), and a failed
attempt is started again. The L1 contract verifies batches in order, so a batch's proof
lands in the first L1 block after its own proof, its posting and every earlier batch's
proof; the batch is final (and withdrawals from it possible) once that L1 block is.
Drawn from the prover's own random stream, after the run, so nothing the kernel did
depends on it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqlab.network import sample_latency
from seqlab.rollup.poster import Batches
from seqlab.scenario.schema import Rollup


@dataclass(frozen=True)
class Proofs:
    """Per batch: proving attempts, when its proof was ready and when it was verified on
    L1 (µs); per block: when it was final and when a withdrawal from it could complete."""

    attempts: np.ndarray
    ready_us: np.ndarray
    verified_us: np.ndarray
    block_final_us: np.ndarray
    block_withdraw_us: np.ndarray


def attempts_per_batch(failure: float, batches: int, rng: np.random.Generator) -> np.ndarray:
    """Attempts until a proof succeeds (geometric: each fails with ``failure``)."""
    if failure <= 0:
        return np.ones(batches, dtype=np.int64)
    return rng.geometric(1.0 - failure, batches).astype(np.int64)


def prove(batches: Batches, cfg: Rollup, l1_block_us: int, finality_us: int,
          rng: np.random.Generator) -> Proofs:
    """Prove every batch: attempts, proof times, in-order verification on L1."""
    n = len(batches.posted_us)
    attempts = attempts_per_batch(cfg.proof_failure, n, rng)
    draws = sample_latency(rng, cfg.proof_time, int(attempts.sum()))
    starts = np.r_[0, np.cumsum(attempts)[:-1]].astype(np.int64)
    proving = np.add.reduceat(draws, starts) if n else np.empty(0, dtype=np.int64)
    ready = batches.sealed_us + proving
    due = np.maximum.accumulate(np.maximum(ready, batches.posted_us)) if n else ready
    verified = (due // l1_block_us + 1) * l1_block_us
    final = verified[batches.block_batch] + finality_us
    return Proofs(attempts, ready, verified, final, final)


def optimistic_withdrawals(batches: Batches, challenge_us: int) -> np.ndarray:
    """When a withdrawal from each block can complete on an optimistic rollup: the
    batch's posting plus the challenge period."""
    return batches.block_posted_us + challenge_us


def proof_summary(proofs: Proofs, batches: Batches) -> dict:
    """Proving time (sealed to proof ready) and time to verification on L1 (sealed to
    the verifying L1 block), per batch in ms, and the attempts proving took."""
    if not len(proofs.ready_us):
        return {"proof_ms": {}, "proof_attempts": 0, "proof_retries": 0}
    stats = {}
    for name, t in (("proving", proofs.ready_us), ("verified", proofs.verified_us)):
        p50, p99 = np.percentile((t - batches.sealed_us) / 1000.0, [50, 99])
        stats[f"{name}_p50"], stats[f"{name}_p99"] = round(float(p50), 3), round(float(p99), 3)
    return {"proof_ms": stats, "proof_attempts": int(proofs.attempts.sum()),
            "proof_retries": int((proofs.attempts - 1).sum())}
