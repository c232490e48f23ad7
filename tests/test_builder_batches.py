"""The builder market's batched paths give bit for bit what builder-by-builder code gives:
each builder's block value, its delay behind the sequencer, the tie-breaking draws and
the auction's winner and price."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import seqlab.sequencing.builders as builders_module
from seqlab.kernel import keyed_normals
from seqlab.network import latency_from_normals
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Latency
from seqlab.sequencing.block_values import block_values
from seqlab.sequencing.builder_draws import TIE_TICKS, BuilderLatencies, TieDraws
from seqlab.txs import Kind
from seqlab.world import World

EVERY_KIND = ["extractive", "censor", "backrun", "stale_oracle", "sandwich", "honest", "censor",
              "extractive"]  # each kind, two builders of some: they share a valuation


def world(seed: int = 3) -> World:
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = "builders"
    data["sequencer"]["builders"].update(count=len(EVERY_KIND), mix=EVERY_KIND)
    # price impact deep enough for sandwiches of tiny's trades to pay
    data["protocol"]["perps"]["skew_scale"] = 20_000.0
    return World(parse_scenario(data), seed)


def one_by_one(members, eligible: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """The reference: each builder values what it has seen on its own."""
    return np.array([m.value(eligible[seen[:, i]]) for i, m in enumerate(members)])


@pytest.mark.parametrize("seed", [2, 3])
def test_block_values_equal_each_builders_own_value_at_every_block(seed, monkeypatch):
    """Through a whole run, at every block, in the protocol's state of the moment."""
    calls, parts = [], set()

    def checked(members, eligible, seen):
        fast, ref = block_values(members, eligible, seen), one_by_one(members, eligible, seen)
        assert fast.tobytes() == ref.tobytes(), (fast, ref)
        calls.append(1)
        parts.update(m.kind for m, v, tips in zip(
            members, ref, members[0].view.txs.tip(eligible) @ seen) if v != tips / 1e6)
        return fast

    monkeypatch.setattr(builders_module, "block_values", checked)
    assert world(seed).run().summary["ledger_residual"] == 0
    assert len(calls) > 500
    # the runs reach every strategy's part of a value, not only the tips
    assert {"extractive", "backrun", "stale_oracle", "sandwich"} <= parts


@pytest.fixture(scope="module")
def finished():
    """The design at the end of a run, with pending transactions added that give every
    strategy something to value: updates to lower prices, at which users' accounts are
    liquidatable, and top-ups from some of those accounts and from others."""
    w = world()
    w.run()
    design = w.design
    view, p = design.view, design.view.protocol
    extra = []
    for share in (0.99, 0.97, 0.92, 1.1):
        price = int(p.price * share)
        extra.append(view.insert(Kind.ORACLE, 0, 0, a=price))
        at_risk = view.user_accounts(p.liquidatable(price))
        extra += [view.insert(Kind.TOPUP, int(a), 0, a=1_000_000) for a in at_risk[:6]]
    extra += [view.insert(Kind.TOPUP, a, 0, a=1_000_000) for a in range(5)]
    return design, extra


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_block_values_equal_each_builders_own_value_on_random_views(finished, data):
    """Any eligible set (oracle updates at many prices, top-ups, large trades) and any
    split of it among the builders, at the end state of a run."""
    design, extra = finished
    members = design.members
    ids = st.one_of(st.integers(0, design.view.txs.count - 1), st.sampled_from(extra))
    eligible = np.array(data.draw(st.lists(ids, min_size=1, max_size=40, unique=True)),
                        dtype=np.int64)
    bits = data.draw(st.lists(st.booleans(), min_size=len(eligible) * len(members),
                              max_size=len(eligible) * len(members)))
    seen = np.array(bits, dtype=bool).reshape(len(eligible), len(members))
    fast, ref = block_values(members, eligible, seen), one_by_one(members, eligible, seen)
    assert fast.tobytes() == ref.tobytes()


LATENCIES = [Latency(median="5ms", sigma=0.3), Latency(median="40ms", sigma=1.1),
             Latency(median="7ms", sigma=0.0)]


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), batches=st.lists(
    st.lists(st.integers(0, 20_000), min_size=1, max_size=30), min_size=1, max_size=8))
def test_the_delay_table_draws_what_each_builder_draws_per_batch(seed, batches):
    """Ids in any order and any batch size, across the table's growth."""
    table = BuilderLatencies(seed, LATENCIES)
    for batch in batches:
        ids = np.array(batch, dtype=np.int64)
        arrival = np.arange(len(ids), dtype=np.int64) * 1_000 + 7
        ref = np.stack([arrival + latency_from_normals(lat, keyed_normals(
            seed, f"builders.{i}", ids, 0)) for i, lat in enumerate(LATENCIES)], axis=1)
        assert np.array_equal(table.seen(ids, arrival), ref)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), builders=st.integers(1, 8), steps=st.lists(
    st.tuples(st.integers(1, 3 * TIE_TICKS), st.integers(0, 249_999)), max_size=20))
def test_tie_draws_are_the_draws_of_each_tick(seed, builders, steps):
    """Ticks on the block-time grid and off it, forward in time."""
    ties, now = TieDraws(seed, builders, 250_000), 250_000
    for ticks, off in steps:
        now += ticks * 250_000 + off
        ref = keyed_normals(seed, "builders.ties", np.arange(builders), now)
        assert ties.at(now).tobytes() == ref.tobytes()


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(bids=st.lists(st.sampled_from([0.0, 1.5, 2.25, 7.0, 7.0 + 2**-40]),
                     min_size=len(EVERY_KIND), max_size=len(EVERY_KIND)).filter(
                         lambda b: max(b) > 0),
       tick=st.integers(1, 10_000))
def test_the_auction_picks_what_sorting_the_bids_picks(finished, bids, tick):
    """The winner and the price, with and without equal top bids."""
    design, _ = finished
    now = tick * design.block_time
    b = np.array(bids)
    ranked = np.argsort(-b, kind="stable")
    if b[ranked[0]] == b[ranked[1]]:
        ties = keyed_normals(design.view.seed, "builders.ties",
                             np.arange(design.builders), now)
        ranked = np.lexsort((ties, -b))
    assert design._auction(bids, max(bids), now) == (int(ranked[0]), b[ranked[1]])
