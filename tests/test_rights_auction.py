"""The auction policy: sequencing rights sold per epoch, based sequencing below the reserve."""
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, strategies as st

from seqlab.cluster import make_world
from seqlab.errors import SeqlabError
from seqlab.protocols.perps import PPM
from seqlab.report.html import render_html
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import SequencingMarket, Service
from seqlab.seqmarket.auction import (EXTRACTION, ORDERING_TAKE_USD, AuctionPolicy, Valuation,
                                     first_price, first_price_bids)
from seqlab.seqmarket.policies import State
from seqlab.units import S


@given(values=st.lists(st.floats(0, 1e6), min_size=1, max_size=8),
       reserve=st.floats(0, 1e4))
def test_bids_lie_between_the_reserve_and_the_value(values, reserve):
    v = np.array(values)
    bids = first_price_bids(v, reserve, len(v))
    bidding = (v >= reserve) & (v > 0)
    assert (bids[~bidding] == 0).all()
    assert (bids[bidding] >= reserve - 1e-9).all() and (bids[bidding] <= v[bidding] + 1e-9).all()
    # a higher value never bids less
    order = np.argsort(v[bidding], kind="stable")
    assert (np.diff(bids[bidding][order]) >= -1e-9).all()


def test_a_lone_bidder_bids_the_reserve_and_more_bidders_bid_more():
    assert first_price_bids(np.array([10.0]), 2.5, 1)[0] == pytest.approx(2.5)
    two, five = (first_price_bids(np.array([10.0]), 2.5, n)[0] for n in (2, 5))
    assert 2.5 < two < five < 10.0


def test_first_price_winner_pays_its_bid_and_below_the_reserve_nobody_wins():
    assert first_price(np.array([3.0, 7.0, 5.0]), 2.5) == (1, 7.0)
    assert first_price(np.array([1.0, 2.0]), 2.5) == (None, 0.0)
    assert first_price(np.array([0.0, 0.0]), 0.0) == (None, 0.0)


def _state(services, now=0, vol=1.0, current=None):
    return State(now, current, 0, {s.name: True for s in services}, tuple(services),
                 10 * S, vol)


def test_epochs_worth_less_than_the_reserve_go_to_based_others_are_sold():
    """A priority sequencer whose order flow pays 1.2 USD of tips an epoch (below the
    2.5 USD reserve) does not bid: the epoch falls back to based sequencing. A Timeboost
    service, whose design forecasts a share of the ordering value, buys the epoch."""
    services = [Service(name="prio", offer="central-priority"), Service(name="l1", offer="based")]
    policy = AuctionPolicy(SequencingMarket(services=services))
    policy.bind(Valuation(0.1), 1)
    assert policy.choose(_state(services, vol=3.0)) == "l1"
    assert policy.sales[0].price_usd == 0 and policy.sales[0].bids == (0.0,)
    services = [Service(name="tb", offer="timeboost"), Service(name="fcfs", offer="central-fcfs"),
                Service(name="l1", offer="based")]
    policy = AuctionPolicy(SequencingMarket(services=services))
    policy.bind(Valuation(0.1), 1)
    assert policy.choose(_state(services, vol=0.1)) == "tb"
    rush = policy.sales[0]
    assert rush.price_usd >= 2.5
    assert rush.bids[1] == 0  # honest FCFS takes nothing: it does not bid


def _auction_world(services):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencing_market"] = {"enabled": True, "policy": "auction", "services": services}
    return make_world(parse_scenario(data, "<test>"), 3)


def test_an_auction_run_balances_and_books_every_epoch():
    world = _auction_world([{"name": "tb", "offer": "timeboost"},
                            {"name": "prio", "offer": "central-priority"},
                            {"name": "l1", "offer": "based"}])
    s = world.run().summary
    a = s["market"]["auction"]
    assert s["ledger_residual"] == 0
    assert a["epochs"] == 50 and sum(a["won"].values()) == 50  # ten minutes of 12 s slots
    sales = world.design.rights.sales
    paid = sum(int(round(x.price_usd * PPM)) for x in sales)
    rights = world.ledger.names.index("sequencing rights")
    assert world.ledger.balances[rights] == paid
    assert a["proceeds_usd"] == pytest.approx(paid / PPM, abs=0.005)  # reported in cents
    assert all(x.price_usd == 0 for x in sales if x.winner == "l1")
    starts = world.design.schedule.starts
    assert (starts % (12 * S) == 0).all()  # winners start on time: no switch delay


def test_an_auction_needs_a_based_service():
    with pytest.raises(SeqlabError) as err:
        _auction_world([{"name": "tb", "offer": "timeboost"}])
    text = str(err.value)
    assert "\n" not in text and "sequencing_market.services" in text and "based" in text


def test_services_that_never_bid_are_not_counted_as_rivals():
    """Honest FCFS and a committee keep nothing and never bid: Timeboost, the only
    service that values the epoch, bids as a lone bidder does (the reserve), not as one
    of three; the summary's counts say who bid."""
    services = [Service(name="tb", offer="timeboost"), Service(name="fcfs", offer="central-fcfs"),
                Service(name="bft", offer="committee"), Service(name="l1", offer="based")]
    policy = AuctionPolicy(SequencingMarket(services=services))
    policy.bind(Valuation(0.0), 1)
    assert policy.choose(_state(services, vol=3.0)) == "tb"
    sale = policy.sales[0]
    assert sale.asked == ("tb", "fcfs", "bft") and sale.values[0] > 10 * 2.5
    assert sale.bids == (pytest.approx(2.5), 0.0, 0.0)


def test_the_summary_counts_the_bids_of_each_service_and_epoch():
    world = _auction_world([{"name": "tb", "offer": "timeboost"},
                            {"name": "fcfs", "offer": "central-fcfs"},
                            {"name": "prio", "offer": "central-priority"},
                            {"name": "l1", "offer": "based"}])
    result = world.run()
    a = result.summary["market"]["auction"]
    sales = world.design.rights.sales
    assert "fcfs" not in a["bid_epochs"] and "l1" not in a["bid_epochs"]
    assert sum(a["epochs_by_bids"].values()) == a["epochs"] == len(sales)
    placed = sum(int(k) * v for k, v in a["epochs_by_bids"].items())
    assert placed == sum(a["bid_epochs"].values()) == sum(b >= 2.5 for x in sales for b in x.bids)
    assert a["epochs_by_bids"].get("0", 0) == sum(x.winner == "l1" for x in sales)
    for name, won in a["won"].items():
        assert name == "l1" or a["bid_epochs"][name] >= won
        assert a["net_usd"][name] == pytest.approx(a["realised_usd"][name] - a["paid_usd"][name],
                                                   abs=0.011)
    page = render_html(result)  # the report page: paid against realised per service
    assert "Sequencing rights sold" in page
    payer = max(a["paid_usd"], key=a["paid_usd"].get)
    assert a["paid_usd"][payer] >= 2.5 and f"<td class=\"num\">{a['paid_usd'][payer]:,.2f}</td>" in page


def _readme_take(design: str) -> float:
    """What ``design``'s operator took on ``default`` (USD), from the README's design
    table (its last column starts with the figure: ``1.24 M``, ``515 k``)."""
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines()
               if line.startswith(f"| [`{design}`]"))
    figure = re.match(r"([\d.]+) (M|k)\b", row.rstrip(" |").rsplit(" | ", 1)[1])
    return float(figure[1]) * (1e6 if figure[2] == "M" else 1e3)


def test_the_ordering_value_prior_is_the_current_measurement():
    """The bidders' prior is what ``extractive`` takes on ``default`` as the README's
    design table measures it now, and each design's share its own row over that: a
    prior measured under older feed settings (110 k, ten times low) fails here."""
    extractive = _readme_take("extractive")
    assert ORDERING_TAKE_USD == pytest.approx(extractive, rel=0.005)
    for design in ("timeboost", "fair-ordering", "batch-auction", "extractive-stale-oracle",
                   "extractive-backrun"):
        assert EXTRACTION[design] == pytest.approx(_readme_take(design) / extractive,
                                                   rel=0.05, abs=0.001), design
