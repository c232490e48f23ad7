"""Fair ordering sold as a service: its nodes gossip pending transactions only while the
rollup buys from it."""
import pytest

from seqlab.cluster import make_world
from seqlab.report.html import render_html
from seqlab.scenario import load_scenario
from seqlab.scenario.loader import parse_scenario
from seqlab.units import MINUTE, S


def _world(services, seed=3, **market):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencing_market"] = {"enabled": True, "services": services, **market}
    return make_world(parse_scenario(data, "<test>"), seed)


FAIR_DOWN = [{"name": "fair", "design": "fair-ordering", "nodes": 7, "faulty": 1,
              "outages": [{"start": "3min", "duration": "4min"}]},
             {"name": "fcfs", "offer": "central-fcfs"}]


def test_a_fair_ordering_service_runs_and_gossips_only_while_in_use():
    world = _world(FAIR_DOWN, policy="failover", order=["fair", "fcfs"])
    design = world.design
    assert design.public_mempool  # the bots are wired to watch
    s = world.run().summary
    assert s["ledger_residual"] == 0
    assert design.schedule.services == ["fair", "fcfs"]
    moved = int(design.schedule.starts[1])
    assert 3 * MINUTE < moved < 4 * MINUTE
    assert design.gossips(MINUTE) and design.gossips(moved - S)
    assert not design.gossips(moved) and not design.gossips(9 * MINUTE)
    assert s["market"]["service_blocks"]["fair"] > 0


def test_a_market_of_one_fair_service_orders_as_fair_ordering_alone():
    """Bought from a market whose only service runs it, fair ordering sequences as it
    does as the rollup's own design: the same blocks, to the digest."""
    alone = load_scenario("tiny").scenario.model_dump(mode="python")
    alone["sequencer"]["design"] = "fair-ordering"
    plain = make_world(parse_scenario(alone, "<test>"), 3).run().summary
    bought = _world([{"name": "fair", "design": "fair-ordering"}], policy="static").run()
    assert bought.summary["ledger_residual"] == 0
    assert bought.summary["digest"] == plain["digest"]


def test_a_builders_service_runs_on_accounts_the_world_opened_for_it():
    """A proposer-builder service beside a centralized one: the world opens its builders'
    accounts, its builders build while it is in use, and whatever they hold when the
    rollup moves away is closed; the ledger balances."""
    services = [{"name": "pbs", "design": "builders",
                 "outages": [{"start": "3min", "duration": "4min"}]},
                {"name": "fcfs", "offer": "central-fcfs"}]
    world = _world(services, policy="failover", order=["pbs", "fcfs"])
    assert world.design.builders > 0
    assert len(world.operator_accounts.builders) == world.design.builders
    s = world.run().summary
    assert s["ledger_residual"] == 0
    assert world.design.schedule.services == ["pbs", "fcfs"]
    assert s["market"]["service_blocks"]["pbs"] > 0 and s["market"]["service_blocks"]["fcfs"] > 0
    p = world.protocol
    held = [a for b in world.operator_accounts.builders for a in (b.stale, b.sandwich)
            if p.size[a] != 0]
    assert not held


def test_a_market_of_one_builders_service_reports_each_builders_books():
    """Bought from a market whose only service runs it, the builders' auction runs as the
    design alone, and the market's summary has the same per-builder books: blocks won,
    blocks with something held, paid to the proposer, what each made."""
    alone = load_scenario("tiny").scenario.model_dump(mode="python")
    alone["sequencer"]["design"] = "builders"
    plain = make_world(parse_scenario(alone, "<test>"), 3).run().summary["design_metrics"]
    bought = _world([{"name": "pbs", "design": "builders"}], policy="static").run().summary
    b = bought["market"]["builders"]
    assert b["blocks"] == plain["blocks"] and b["local_blocks"] == plain["local_blocks"]
    assert b["proposer_paid_usd"] == pytest.approx(plain["proposer_paid_usd"], abs=0.01)
    for mine, theirs in zip(b["per_builder"], plain["per_builder"], strict=True):
        for key in ("builder", "kind", "wins", "held_blocks", "paid_usd"):
            assert mine[key] == theirs[key]
        assert mine["gross_usd"] == pytest.approx(theirs["gross_usd"], abs=0.05)
        assert mine["net_usd"] == pytest.approx(mine["gross_usd"] - mine["paid_usd"], abs=0.02)


def test_a_builders_service_used_twice_sums_its_builders_books():
    """The rollup leaves the builders service during its outage and comes back: the
    builders' books cover both stretches, and their blocks are the service's."""
    services = [{"name": "pbs", "design": "builders",
                 "outages": [{"start": "3min", "duration": "2min"}]},
                {"name": "fcfs", "offer": "central-fcfs",
                 "outages": [{"start": "6min", "duration": "4min"}]}]
    world = _world(services, policy="failover", order=["pbs", "fcfs"])
    result = world.run()
    s = result.summary
    assert world.design.schedule.services == ["pbs", "fcfs", "pbs"]
    b = s["market"]["builders"]
    assert b["segments"] == 2
    # an auction: a block, unless nothing was there to build (no bid, nothing public)
    blocks = s["market"]["service_blocks"]["pbs"]
    assert blocks <= b["blocks"] <= blocks + 3
    assert b["blocks"] == b["local_blocks"] + sum(r["wins"] for r in b["per_builder"])
    assert b["proposer_paid_usd"] == pytest.approx(
        sum(r["paid_usd"] for r in b["per_builder"]), abs=0.01)
    page = render_html(result)  # the report page has the builders' table
    top = max(b["per_builder"], key=lambda r: r["wins"])
    assert "<h3>Builders</h3>" in page and f"<td class=\"num\">{top['wins']:,}</td>" in page
    assert "builders" not in _world(FAIR_DOWN, policy="failover",
                                    order=["fair", "fcfs"]).run().summary["market"]
