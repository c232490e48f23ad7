"""Fair ordering sold as a service: its nodes gossip pending transactions only while the
rollup buys from it."""
from seqlab.cluster import make_world
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
