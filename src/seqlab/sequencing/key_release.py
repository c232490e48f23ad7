"""When a threshold-encrypted batch's key is out: drawn for a window of ticks at once.

The ``encrypted`` design commits a batch at (almost) every tick and needs, for each, the
delay until the threshold-th of its keypers has released a share. The draws are keyed by
(keyper, commit time), so they do not depend on when or in what groups they are made;
drawing them for a window of upcoming ticks in one array call gives the same delays as
drawing them one commit at a time, for a fraction of the per-call cost.
"""
from __future__ import annotations

import numpy as np

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.sequencing.encrypted_config import Encrypted

WINDOW = 64  # ticks drawn ahead: commits are tick-spaced, so most commits hit the window


def release_delays(seed: int, enc: Encrypted, commit_us: np.ndarray) -> np.ndarray:
    """For each commit time, when (µs after it) the threshold-th keyper has released."""
    m, n = len(commit_us), enc.keypers
    z = keyed_normals(seed, "encrypted.keyper", np.tile(np.arange(n, dtype=np.int64), m),
                      np.repeat(np.asarray(commit_us, dtype=np.int64), n))
    delays = latency_from_normals(enc.key_latency, z).reshape(m, n)
    return np.sort(delays, axis=1)[:, enc.threshold - 1]


class KeyRelease:
    """``release_delays`` of commits ``step`` apart, drawn ``WINDOW`` at a time from the
    first commit outside the current window."""

    def __init__(self, enc: Encrypted, step: int) -> None:
        self.enc, self.step = enc, max(1, int(step))
        self._seed: int | None = None
        self._start = 0
        self._delays: list[int] = []

    def delay(self, seed: int, commit_us: int) -> int:
        """The key release delay of the batch committed at ``commit_us``."""
        k, off = divmod(commit_us - self._start, self.step)
        if seed != self._seed or off or not 0 <= k < len(self._delays):
            self._seed, self._start, k = seed, commit_us, 0
            ahead = commit_us + self.step * np.arange(WINDOW, dtype=np.int64)
            self._delays = release_delays(seed, self.enc, ahead).tolist()
        return self._delays[k]
