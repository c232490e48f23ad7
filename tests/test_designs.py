"""Designs that limit the sequencer: each enforces its own guarantee."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.scenario import load_scenario, parse_scenario
from seqlab.sequencing.batch_auction import hash_order
from seqlab.sequencing.timeboost import second_price_auction
from seqlab.txs import Kind, Status
from seqlab.world import World


def world(design, seed=None, **changes):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = design
    for section, values in changes.items():
        target = data
        for part in section.split("."):
            target = target[part]
        target.update(values)
    w = World(parse_scenario(data), seed)
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result


SANDWICH = {"protocol.perps": {"skew_scale": 2_000.0, "taker_fee_bps": 1.0},
            "agents.traders": {"collateral_median_usd": 50_000.0, "collateral_sigma": 0.2}}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), max_size=8), st.floats(0, 1e6))
def test_second_price_rule_and_reserve(bids, reserve):
    winner, price = second_price_auction(np.array(bids), reserve)
    above = [b for b in bids if b >= reserve]
    if not above:
        assert winner is None and price == 0.0
        return
    assert bids[winner] == max(bids)
    others = sorted(bids[:winner] + bids[winner + 1:], reverse=True)
    assert price == max(others[0] if others else reserve, reserve)
    assert reserve <= price <= bids[winner]


def test_single_bid_pays_reserve():
    assert second_price_auction(np.array([500.0]), 100.0) == (0, 100.0)
    assert second_price_auction(np.array([500.0, 50.0]), 100.0) == (0, 100.0)
    assert second_price_auction(np.array([500.0, 300.0]), 100.0) == (0, 300.0)


@pytest.mark.parametrize("operator", [False, True])
def test_non_express_delay_is_exactly_200ms(operator):
    w, result = world("timeboost", **{"sequencer.strategy": {"operator": operator}})
    txs = result.tables["txs"]
    outside = (txs["included_us"] >= 0) & ~np.isin(txs["id"], w.design.view.txs.inserted_since(0))
    arrival, included = txs["arrival_us"][outside], txs["included_us"][outside]
    first_tick = -(-(arrival + 200_000) // 250_000) * 250_000
    assert (included == first_tick).all()
    if operator:
        assert result.summary["auction_revenue_usd"] > 0
        assert result.summary["operator_profit_by_strategy"]["auction"] < 0
    else:
        assert result.summary["auction_revenue_usd"] == 0


def test_express_lane_controller_goes_first():
    w, result = world("timeboost")
    liq = result.tables["liquidations"]
    assert (liq["liquidator"] == "operator-backrun").any()
    won = [r for r in w.design.rounds if r[1] is not None]
    reserve = w.sc.sequencer.timeboost.reserve_usd
    assert won and all(price >= reserve for _, _, price in won)


@pytest.mark.parametrize("changes", [{}, SANDWICH])
def test_encryption_leaves_content_strategies_nothing(changes):
    w, result = world("encrypted", **changes)
    got = result.summary["operator_profit_by_strategy"]
    assert got["backrun"] == got["stale_oracle"] == got["sandwich"] == 0
    inserted = w.design.operator.view.txs.inserted_since(0).tolist()
    kinds = w.txs.kind[inserted] if inserted else np.empty(0)
    assert not np.isin(kinds, [Kind.TRADE, Kind.CLOSE]).any()


def test_encryption_costs_the_key_release_and_hides_whom_to_censor():
    _, honest = world("honest")
    _, enc = world("encrypted")
    extra = enc.summary["latency_ms"]["p50"] - honest.summary["latency_ms"]["p50"]
    assert 300 < extra < 1500  # about the 4th-fastest of 7 keypers at median 500 ms
    assert enc.summary["operator_profit_by_strategy"]["censor"] == 0
    assert enc.summary["held_txs"] == 0  # it cannot tell whose ciphertext is whose


def test_linkable_senders_are_censored_only_as_long_as_the_inclusion_rule_allows():
    linked = {"sequencer.encrypted": {"sender_linkable": True, "inclusion": "none"}}
    _, free = world("encrypted", **linked)
    assert free.summary["operator_profit_by_strategy"]["censor"] > 0
    assert free.summary["held_txs"] > 0
    bounded = {"sequencer.encrypted": {"sender_linkable": True, "inclusion": "committee"}}
    _, committee = world("encrypted", **bounded)
    assert committee.summary["held_txs"] > 0  # it still tries …
    assert committee.summary["operator_profit_by_strategy"]["censor"] \
        < 0.1 * free.summary["operator_profit_by_strategy"]["censor"]  # … to little effect
    assert committee.summary["latency_ms"]["max"] < 0.1 * free.summary["latency_ms"]["max"]


def test_batch_fills_share_one_price_and_ignore_arrival_order():
    w, result = world("batch-auction", **SANDWICH)
    txs = result.tables["txs"]
    filled = (txs["status"] == Status.OK) & np.isin(txs["kind"], [Kind.TRADE, Kind.CLOSE,
                                                                  Kind.REDUCE])
    fills = np.c_[txs["block"][filled], txs["fill"][filled]]
    assert len(fills)
    for block in np.unique(fills[:, 0]):
        assert len(np.unique(fills[fills[:, 0] == block, 1])) == 1
    assert result.summary["operator_profit_by_strategy"]["sandwich"] <= 0
    order = w.rollup.executed_order()
    block = w.txs.block[order]
    for b in np.unique(block)[:50]:
        ids = order[block == b]
        rest = ids[w.txs.kind[ids] != Kind.ORACLE]
        assert np.array_equal(rest, hash_order(w.seed, rest))
        assert (w.txs.kind[ids][: len(ids) - len(rest)] == Kind.ORACLE).all()


def test_batches_close_on_the_interval():
    w, result = world("batch-auction", **{"sequencer.batch_auction": {"interval": "2s"}})
    assert (result.tables["blocks"]["t_us"] % 2_000_000 == 0).all()


@pytest.mark.parametrize("design", ["timeboost", "encrypted", "batch-auction"])
def test_ledger_balances_with_block_limits(design):
    world(design, sequencer={"max_txs_per_block": 4})


def test_fair_ordering_keeps_its_guarantee_in_a_run():
    """Over a whole run: never b before a in another batch when ≥ γ·n nodes saw a first."""
    from seqlab.sequencing.fair import precedence_counts

    w, result = world("fair-ordering")
    d = w.design
    ids, matrix = d.reported.ids, d.reported.matrix
    batch_of = {tx: k for k, batch in enumerate(d.batches) for tx in batch.tolist()}
    batch = np.array([batch_of[t] for t in ids.tolist()])
    counts = precedence_counts(matrix)
    a, b = np.nonzero(counts >= d.threshold)
    cross = batch[a] != batch[b]
    assert cross.any()
    assert (batch[a][cross] < batch[b][cross]).all()


def test_fair_ordering_turns_backruns_into_a_public_race():
    # a first-come 2 % bonus (0.5 % fee): the prize a backrun races for
    bonus = {"protocol.perps": {"liquidation": "fixed", "liquidation_bonus": 0.02,
                                "liquidation_fee": 0.005, "initial_margin": 0.05,
                                "maintenance_margin": 0.03}}
    _, fair = world("fair-ordering", **bonus)
    _, central = world("extractive", **bonus)
    assert central.summary["operator_profit_by_strategy"]["backrun"] > 0
    got = fair.summary["operator_profit_by_strategy"]

    def right_behind(result) -> float:
        """Share of the operator's backrun liquidations in the update's own block."""
        liq = result.tables["liquidations"]
        ops = liq["liquidator"] == "operator-backrun"
        return float((liq["blocks_after_oracle"][ops] == 0).mean()) if ops.any() else 0.0

    # the operator still liquidates (it pays no gas and needs no profit, so it takes what
    # the bots' thresholds leave), but no longer from a place right behind the update
    assert right_behind(central) > 0.6
    assert right_behind(fair) < 0.5 * right_behind(central)
    assert got["censor"] == 0 and fair.summary["held_txs"] == 0
    # the committee orders the operator's trades too: no place ahead of an update or
    # around a victim, so no such trade is opened at all
    assert got["stale_oracle"] == 0 and got["sandwich"] == 0
    _, fair_sandwiches = world("fair-ordering", **SANDWICH)
    assert fair_sandwiches.summary["operator_profit_by_strategy"]["sandwich"] == 0
    assert fair_sandwiches.summary["operator_profit_usd"] >= 0
    assert fair.summary["latency_ms"]["p50"] > central.summary["latency_ms"]["p50"]
