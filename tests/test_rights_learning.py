"""Rights-auction bidders learn what epochs realise and do not keep losing."""
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

from seqlab.cluster import make_world
from seqlab.protocols.perps import PPM
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.auction import AuctionPolicy, Valuation
from seqlab.seqmarket.learning import Learners
from seqlab.seqmarket.policies import State
from seqlab.seqmarket.rights import RightsBook
from seqlab.units import S

SERVICES = [Service(name="tb", offer="timeboost"), Service(name="prio", offer="central-priority"),
            Service(name="l1", offer="based")]


def _sell(policy, k, vol):
    """Ask the policy for epoch ``k`` at volatility ``vol``; returns its sale."""
    up = {s.name: True for s in SERVICES}
    policy.choose(State(k * 12 * S, None, 0, up, tuple(SERVICES), 10 * S, vol))
    return policy.sales[k]


def _policy(capital=100_000.0, seed=1, fees=0.5):
    policy = AuctionPolicy(SequencingMarket(services=SERVICES, auction_capital_usd=capital))
    policy.bind(Valuation(fees), seed)
    return policy


@settings(max_examples=30, deadline=None)
@given(capital=st.floats(1.0, 2_000.0), share=st.floats(-1.0, 1.5),
       seed=st.integers(0, 10_000))
def test_a_bidder_loses_at_most_its_capital_and_its_worst_epoch(capital, share, seed):
    """Whatever epochs realise, a bidder's payments exceed what it realised by no more
    than its capital plus its single worst epoch: no bid goes beyond what it can lose."""
    policy, rng = _policy(capital, seed), np.random.default_rng(seed)
    paid, got, worst = {}, {}, {}
    for k in range(150):
        sale = _sell(policy, k, rng.uniform(0.5, 6.0))
        realised = share * sale.forecast_usd * rng.lognormal(0.0, 1.0) - rng.exponential(20.0)
        if sale.winner == "l1":
            realised = 0.0
        policy.book(k, realised, True)
        paid[sale.winner] = paid.get(sale.winner, 0.0) + sale.price_usd
        got[sale.winner] = got.get(sale.winner, 0.0) + realised
        worst[sale.winner] = max(worst.get(sale.winner, 0.0), -realised)
    for name in paid:
        assert paid[name] - got[name] <= capital + worst[name] + 1e-6
    books = policy.learners
    for k, name in enumerate(books.names):
        assert abs(books.pnl[k] - (got.get(name, 0.0) - paid.get(name, 0.0))) < 1e-6


def test_bids_follow_what_epochs_realise():
    """Epochs realise a tenth of the design's forecast, then all of it: the bidder's
    estimate and its bids fall, then recover, and it pays less than it realises. The
    priority sequencer, worth the order flow's 6 USD of fees an epoch, is its rival."""
    policy, rng = _policy(fees=0.5), np.random.default_rng(7)
    level = np.r_[np.full(300, 0.1), np.full(300, 1.0)]
    bids, realised, estimate = [], [], []
    for k in range(600):
        sale = _sell(policy, k, 3.0)
        if not k:
            prior = policy.learners.mean[0]  # the design's forecast of an epoch
        assert sale.winner == "tb"
        value = level[k] * prior * rng.lognormal(-0.125, 0.5)
        policy.book(k, value, True)
        bids.append(max(sale.bids))
        realised.append(value)
        estimate.append(policy.learners.estimate()[0])
    estimate = np.array(estimate) / prior
    # the long view holds about the last twenty minutes of epochs; the risk discount
    # (the epochs' spread, 0.5 in log terms) takes about a fifth off
    assert 0.05 < estimate[250:300].mean() < 0.15
    assert 0.6 < estimate[550:600].mean() < 1.0
    bids, realised = np.array(bids), np.array(realised)
    assert bids[250:300].mean() < 0.3 * bids[550:600].mean()
    assert bids[400:].sum() < realised[400:].sum()


def test_a_windfall_that_does_not_carry_over_is_not_paid_for_again():
    """The run that had Timeboost pay its capital and its gains for one epoch: an epoch
    in which a price jump lands realises 600 k; the trailing volatility jumps and the
    epochs after it realise nothing. The
    bidder pays for the spike only by its weight in the long view, discounted for the
    spread it adds, and less as the epochs without one come in: over the next hundred
    epochs less than half of it, the last fifty less than a tenth."""
    policy = _policy(capital=100_000.0, fees=0.5)
    sale = _sell(policy, 0, 3.0)
    assert sale.winner == "tb"
    policy.book(0, 600_000.0, True)
    paid = 0.0
    for k in range(1, 101):
        sale = _sell(policy, k, 12.7)
        paid += sale.price_usd if sale.winner == "tb" else 0.0
        policy.book(k, 0.0 if sale.winner == "tb" else 6.0, True)
    assert paid < 300_000.0
    late = sum(s.price_usd for s in policy.sales[51:] if s.winner == "tb")
    assert late < 60_000.0


def test_a_bidder_out_of_capital_stops_bidding():
    policy = _policy(capital=10.0)
    sale = _sell(policy, 0, 3.0)
    assert sale.winner == "tb" and sale.price_usd <= 10.0 + 1e-9
    policy.book(0, -500.0, True)
    later = [_sell(policy, k, 3.0) for k in range(1, 20)]
    assert all(s.bids[0] == 0 for s in later)  # Timeboost is out
    assert policy.learners.budget()[0] == 0


def test_a_bidder_learns_from_epochs_its_own_design_won_and_no_others():
    """What a Timeboost service took is on the public chain: another Timeboost service
    learns from it; a priority sequencer, whose fees are other value, does not."""
    services = [Service(name="tb", offer="timeboost"), Service(name="tb2", offer="timeboost"),
                Service(name="prio", offer="central-priority"), Service(name="l1", offer="based")]
    policy = AuctionPolicy(SequencingMarket(services=services))
    policy.bind(Valuation(0.5), 3)
    up = {s.name: True for s in services}
    policy.choose(State(0, None, 0, up, tuple(services), 10 * S, 3.0))
    assert policy.sales[0].winner in ("tb", "tb2")
    before = dict(zip(policy.learners.names, policy.learners.estimate()))
    policy.book(0, 0.0, True)  # it realised nothing
    after = dict(zip(policy.learners.names, policy.learners.estimate()))
    assert after["tb"] == after["tb2"] < before["tb"] and after["prio"] == before["prio"]
    books = dict(zip(policy.learners.names, policy.learners.pnl))
    loser = "tb2" if policy.sales[0].winner == "tb" else "tb"
    assert books[loser] == 0 and books[policy.sales[0].winner] == -policy.sales[0].price_usd


def _view(size, equity, seq):
    """A stand-in for the operator's view: one party, its stale-price account 0."""
    party = SimpleNamespace(stale=0, sandwich=1, backrun=0, censor=1)
    protocol = SimpleNamespace(
        size=size, liquidator_account=[10, 11],
        balance=lambda a: seq[0] if a == "seq" else 0,
        equity=lambda a: equity[a])
    side = SimpleNamespace(sequencer="seq", treasury="tre", searchers="sea")
    return SimpleNamespace(protocol=protocol, sequencer_side=side,
                           accounts=SimpleNamespace(parties=[party]))


def test_a_position_is_booked_to_the_epoch_that_opened_it():
    """Epoch 0's operator opens a trade; it loses 40 in epoch 1 and closes there, while
    epoch 1's operator takes 7 in fees: epoch 0 gets the loss, epoch 1 the fees."""
    size, equity, seq = np.array([0, 0]), [1_000 * PPM, 0], [0]
    view = _view(size, equity, seq)
    booked = []
    book = RightsBook([object(), object()], lambda e, usd, ended: booked.append((e, usd, ended)))
    book.begin(view)
    size[0], equity[0] = 5, 1_030 * PPM  # opened, 30 up at the epoch's end
    book.end_epoch(view)
    equity[0] = 990 * PPM                 # the market turns against it
    book.watch(view)                      # still open: nothing booked yet
    assert booked == [(0, 30.0, True)]
    size[0] = 0                           # closed on the next service
    book.watch(view)
    seq[0] = 7 * PPM
    book.end_epoch(view)
    assert book.values == [-10 * PPM, 7 * PPM]
    assert booked == [(0, 30.0, True), (0, -40.0, False), (1, 7.0, True)]


def test_an_auction_run_books_each_bidders_epochs_exactly():
    """A ten-minute run: the ledger balances, every epoch is booked, and each bidder's
    books (realised less paid) are the run's, within its capital and worst epoch."""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencing_market"] = {
        "enabled": True, "policy": "auction", "auction_capital_usd": 50.0,
        "services": [{"name": "tb", "offer": "timeboost"},
                     {"name": "prio", "offer": "central-priority"},
                     {"name": "l1", "offer": "based"}]}
    world = make_world(parse_scenario(data, "<test>"), 2)
    s = world.run().summary
    assert s["ledger_residual"] == 0
    rights, books = world.design.rights, world.design.planner.policy.learners
    assert len(rights.values) == len(rights.sales) == 50
    a = s["market"]["auction"]
    for name in books.names:
        if name not in a["won"]:
            continue
        mine = [v / PPM for v, x in zip(rights.values, rights.sales) if x.winner == name]
        net = a["realised_usd"][name] - a["paid_usd"][name]
        assert abs(books.pnl[books.names.index(name)] - net) < 0.02
        assert -net <= 50.0 + max(0.0, -min(mine)) + 0.02
    # winners start on time, and the rollup's down windows are those of the winners
    assert (world.design.schedule.starts % (12 * S) == 0).all()
    assert np.array_equal(world.outages, world.design.schedule.down)


def test_a_winner_that_goes_down_hands_the_rollup_to_based_sequencing():
    """The winner goes down 5 s into its epoch for four minutes: the next epoch is sold
    to a producing service (here based sequencing), so the rollup is down for seven
    seconds, not four minutes, though each epoch is sold only as the run reaches it."""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencing_market"] = {
        "enabled": True, "policy": "auction", "auction_reserve_usd": 0.01,
        "services": [{"name": "tb", "offer": "timeboost", "outage_rate_per_day": 0.0,
                      "outages": [{"start": "125s", "duration": "4min"}]},
                     {"name": "l1", "offer": "based"}]}
    world = make_world(parse_scenario(data, "<test>"), 1)
    world.run()
    sales = world.design.rights.sales
    assert sales[10].winner == "tb" and all(x.winner == "l1" for x in sales[11:30])
    down = world.outages[(world.outages[:, 1] > 125 * S) & (world.outages[:, 0] < 365 * S)]
    assert down.tolist() == [[125 * S, 132 * S]]  # to the next epoch's start
    included = world.txs.included_us
    assert ((included > 140 * S) & (included < 360 * S)).sum() > 0


def test_no_bidder_pays_more_than_it_realises_over_seeds():
    """``tiny``'s crash jumps, seeds 1-3: summed over the seeds, every service pays for
    its epochs less than they realise. Before bidders learnt the value per epoch itself
    (a ratio to a forecast that moved with the trailing volatility), a jump's windfall
    had Timeboost pay its capital and gains for the epoch after it: 503 k paid for
    401 k realised."""
    paid, realised = {}, {}
    for seed in (1, 2, 3):
        data = load_scenario("tiny").scenario.model_dump(mode="python")
        data["sequencing_market"] = {"enabled": True, "policy": "auction", "services": [
            {"name": "tb", "offer": "timeboost"}, {"name": "prio", "offer": "central-priority"},
            {"name": "fcfs", "offer": "central-fcfs"}, {"name": "l1", "offer": "based"}]}
        a = make_world(parse_scenario(data, "<test>"), seed).run().summary["market"]["auction"]
        for name, usd in a["paid_usd"].items():
            paid[name] = paid.get(name, 0.0) + usd
            realised[name] = realised.get(name, 0.0) + a["realised_usd"][name]
    assert sum(paid.values()) > 1_000  # the rights were sold
    for name in paid:
        assert paid[name] <= realised[name], name


@settings(max_examples=60, deadline=None)
@given(prior=st.floats(0.0, 1e4),
       epochs=st.lists(st.tuples(st.booleans(), st.floats(-1e5, 1e6)), min_size=1,
                       max_size=200))
def test_no_bidder_values_an_epoch_above_the_best_it_has_seen(prior, epochs):
    """Whatever epochs realise, in whatever order, a bidder's estimate lies between 0
    and the best of its prior and the epochs it learnt from: every view is a weighted
    average of them and the estimate lies between two views, so no windfall is ever
    multiplied (as a ratio to a volatility-scaled forecast multiplied it)."""
    books = Learners(["a", "b"], ["x", "y"], np.array([prior, prior]), 1e5, 12.0)
    best = prior
    for own, usd in epochs:
        books.observe({"x" if own else "y": usd})
        best = max(best, usd) if own else best
        value = books.estimate()[0]
        assert -1e-9 <= value <= best * (1 + 1e-9) + 1e-9
