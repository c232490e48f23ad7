"""Key release delays drawn a window of ticks at a time equal those drawn one commit at a
time, whatever the commit times (on the tick grid, off it, repeated, going back)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.sequencing.encrypted_config import Encrypted
from seqlab.sequencing.key_release import WINDOW, KeyRelease
from seqlab.scenario.schema import Latency


def one_commit(seed: int, enc: Encrypted, commit_us: int) -> int:
    """The threshold-th fastest keyper's release, drawn keyper by keyper."""
    release = sorted(int(latency_from_normals(enc.key_latency, keyed_normals(
        seed, "encrypted.keyper", np.array([k]), np.array([commit_us])))[0])
        for k in range(enc.keypers))
    return release[enc.threshold - 1]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 12), st.data(), st.integers(0, 2**31), st.integers(1, 2_000_000),
       st.lists(st.tuples(st.integers(0, 3 * WINDOW), st.integers(-1, 1)), min_size=1,
                max_size=40),
       st.sampled_from([0.0, 0.5, 1.2]))
def test_windowed_delays_equal_one_commit_at_a_time(keypers, data, seed, step, moves, sigma):
    threshold = data.draw(st.integers(1, keypers))
    enc = Encrypted(keypers=keypers, threshold=threshold,
                    key_latency=Latency(median="500ms", sigma=sigma))
    release = KeyRelease(enc, step)
    t = data.draw(st.integers(0, 10**9))
    seeds = (seed, seed + 1)
    for i, (ticks, jitter) in enumerate(moves):
        t = max(0, t + ticks * step + jitter)  # mostly on the grid, sometimes off it
        s = seeds[i % 7 == 6]  # now and then another seed: nothing stale is reused
        assert release.delay(s, t) == one_commit(s, enc, t)
