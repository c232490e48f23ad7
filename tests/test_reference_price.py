"""One reference price read in Python floats equals numpy's interpolation bit for bit."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.market import ReferencePrice

prices = st.floats(1e-6, 1e7, allow_nan=False, allow_infinity=False)


@st.composite
def paths(draw):
    times = sorted(draw(st.sets(st.integers(0, 10**12), min_size=1, max_size=30)))
    return ReferencePrice(np.array(times, dtype=np.int64),
                          np.array(draw(st.lists(prices, min_size=len(times),
                                                 max_size=len(times)))))


@settings(max_examples=300, deadline=None)
@given(paths(), st.data())
def test_at_one_is_at(ref, data):
    t = ref.t_us.tolist()
    asked = data.draw(st.lists(st.one_of(st.sampled_from(t), st.integers(-10, 10**12 + 10),
                                         st.integers(t[0], t[-1])), min_size=1, max_size=20))
    for x in asked:
        want = float(ref.at(np.array([x], dtype=np.int64))[0])
        assert ref.at_one(x) == want, (x, ref.at_one(x), want)


def test_at_one_on_a_model_path():
    from seqlab.kernel import Simulation
    from seqlab.market import build_reference
    from seqlab.scenario.loader import load_scenario

    sc = load_scenario("default").scenario
    ref = build_reference(sc.market, 3_600_000_000, Simulation(seed=7))
    times = np.random.default_rng(3).integers(-5, 3_600_000_100, 5_000)
    assert [ref.at_one(x) for x in times.tolist()] == ref.at(times).tolist()
