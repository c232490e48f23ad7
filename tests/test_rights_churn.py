"""Rights auctions do not churn: valuation errors persist, and a losing bidder comes back."""
import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.auction import AuctionPolicy, Valuation
from seqlab.seqmarket.learning import RISK_AVERSION, Learners
from seqlab.seqmarket.policies import State
from seqlab.units import S

SERVICES = [Service(name="prio", offer="central-priority"), Service(name="l1", offer="based")]


def _winners(fees: float, vols, seed: int = 1) -> list[str]:
    """Sell one epoch per volatility reading to a priority sequencer worth ``fees`` a
    second; every epoch realises those fees, whoever sequences it (based keeps them too),
    so what it learns leaves its estimate where it started."""
    policy = AuctionPolicy(SequencingMarket(services=SERVICES))
    policy.bind(Valuation(fees), seed)
    current = None
    for k, vol in enumerate(vols):
        current = policy.choose(State(k * 12 * S, current, 0, {"prio": True, "l1": True},
                                      tuple(SERVICES), 10 * S, float(vol)))
        policy.book(k, fees * 12, True)  # the fees, whoever keeps them
    return [s.winner for s in policy.sales]


def _switches(winners: list[str]) -> int:
    return sum(a != b for a, b in zip(winners, winners[1:]))


def test_a_value_at_the_reserve_does_not_flip_the_rollup_every_other_slot():
    """Worth a few percent above the reserve, the priority sequencer wins about two
    epochs in three; with a fresh error each slot the rollup would move about every
    other slot (a switch in four to five of ten epochs). Its error persists, so it wins
    and loses in runs."""
    winners = _winners(2.6 / 12, np.ones(600))
    share = winners.count("prio") / len(winners)
    assert 0.3 < share < 0.95
    assert _switches(winners) < 0.2 * len(winners)
    assert _switches(winners) > 4  # it still comes and goes


@settings(max_examples=25, deadline=None)
@given(fees=st.floats(0.0, 2.0), seed=st.integers(0, 10_000),
       vols=st.lists(st.floats(0.0, 6.0), min_size=1, max_size=120))
def test_switches_never_exceed_the_epochs(fees, seed, vols):
    winners = _winners(fees, vols, seed)
    assert len(winners) == len(vols)
    assert _switches(winners) <= len(vols) - 1


def test_a_bidder_that_stops_winning_returns_to_its_record():
    """Bidder b's long record says an epoch realises 2; then it has four bad epochs
    and another design wins every epoch after. Its estimate does not freeze at the bad
    epochs: it climbs back towards its record, so it bids again."""
    books = Learners(["a", "b"], ["x", "y"], np.array([10.0, 2.0]), 1e5, 12.0)
    for _ in range(200):
        books.observe({"y": 2.0})
    for _ in range(4):
        books.observe({"y": 0.0})
    low = books.estimate()[1]
    assert low < 0.8 * books.mean[1]
    path = []
    for _ in range(100):
        books.observe({"x": 0.0})
        path.append(books.estimate()[1])
    assert (np.diff(path) >= -1e-12).all()
    assert path[-1] > 0.95 * books.mean[1] / (1 + RISK_AVERSION * books.variation()[1])
    assert path[-1] > low + 0.1
    assert books.estimate()[0] < 0.5 * 10.0  # a's own evidence is not touched by b's record
