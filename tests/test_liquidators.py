"""The liquidator population: delays measured from the update that enabled each
liquidation, costs paid through the ledger, thresholds, loss limits and downtime."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.agents.liquidators import down_windows, is_down
from seqlab.metrics.liquidation_gap import liquidation_gap, liquidator_profit
from seqlab.scenario.loader import load_scenario, parse_scenario
from seqlab.scenario.schema import Liquidator
from seqlab.txs import Kind
from seqlab.world import World
from tests.test_perps import OK, make, oracle, tx, usd

PPM = 1_000_000


def run(name: str = "tiny", design: str = "honest", seed: int | None = None,
        liquidators: list[dict] | None = None, accounts: int | None = None):
    """Run a built-in scenario with ``design``, optionally replacing its liquidators or
    its number of accounts."""
    data = load_scenario(name).scenario.model_dump(mode="json")
    data["sequencer"]["design"] = design
    if liquidators is not None:
        data["agents"]["liquidators"] = liquidators
    if accounts is not None:
        data["agents"]["traders"]["accounts"] = accounts
    world = World(parse_scenario(data), seed)
    return world, world.run()


# the metric -----------------------------------------------------------------------------
def test_gap_shares_and_percentiles_on_a_hand_built_case():
    # 10 liquidations: one in the update's block, seven within 1 s, one at 5 s, one at 20 s
    blocks = np.array([0, 1, 1, 1, 2, 2, 3, 4, 20, 80])
    us = np.array([0, 250, 250, 250, 500, 500, 750, 1_000, 5_000, 20_000]) * 1_000
    g = liquidation_gap(blocks, us)
    assert g["count"] == 10
    assert g["same_block_share"] == 0.1
    assert g["within_1s_share"] == 0.8  # 1 s exactly counts as within
    assert g["within_12s_share"] == 0.9
    assert g["p50_s"] == 0.5 and g["p50_blocks"] == 2.0
    assert g["p90_s"] == round(float(np.percentile(us / 1e6, 90)), 3)
    assert g["p90_blocks"] == round(float(np.percentile(blocks, 90)), 2)


def test_gap_of_no_liquidations_is_all_zero():
    g = liquidation_gap(np.empty(0, np.int64), np.empty(0, np.int64))
    assert g["count"] == 0 and g["within_1s_share"] == 0.0 and g["p90_s"] == 0.0


def test_profit_is_summed_by_strategy_net_of_capital():
    got = liquidator_profit(["reactive", "bidder", "reactive"],
                            np.array([12 * PPM, 3 * PPM, 9 * PPM]),
                            np.array([10 * PPM, 5 * PPM, 10 * PPM]))
    assert got == {"bidder": -2.0, "reactive": 1.0}


def _levered_long():
    """Account 0: 1000 margin, long 9 ETH at 2000; liquidatable below about 1943."""
    p = make(margin=1_000, taker_fee_bps=5.0)
    oracle(p, 2_000, block=1)
    assert tx(p, Kind.TRADE, 0, a=usd(18_000), block=1) == OK
    return p


def test_delay_counts_from_the_update_that_made_the_account_liquidatable():
    p = _levered_long()
    tx(p, Kind.ORACLE, 0, a=usd(1_990), block=3, t=3_000)       # still healthy
    tx(p, Kind.ORACLE, 0, a=usd(1_930), block=5, t=5_000)       # this one enables it
    tx(p, Kind.ORACLE, 0, a=usd(1_925), block=8, t=8_000)       # it stays liquidatable
    assert tx(p, Kind.LIQUIDATE, 1, b=0, block=9, t=9_000) == OK
    row = p.log.liquidations[0]
    assert row[6] == 9 - 5 and row[7] == 9_000 - 5_000  # not 1 block after the last update


def test_a_new_episode_starts_at_the_update_that_enables_it_again():
    p = _levered_long()
    tx(p, Kind.ORACLE, 0, a=usd(1_930), block=2, t=2_000)
    assert tx(p, Kind.TOPUP, 0, a=usd(500), block=3, t=3_000) == OK  # healthy again
    assert not p.is_liquidatable(0)
    tx(p, Kind.ORACLE, 0, a=usd(1_880), block=6, t=6_000)  # liquidatable once more
    assert tx(p, Kind.LIQUIDATE, 1, b=0, block=6, t=6_000) == OK
    assert p.log.liquidations[0][6:] == (0, 0)  # in the enabling update's own block


# the population in a run ----------------------------------------------------------------
def test_honest_fcfs_has_a_tail_and_few_same_block_liquidations():
    """A crash burst is more than the fast bots take at once: the rest wait blocks or
    seconds for them or for the pollers, as on Arbitrum (Torres et al.: about 87 % within
    1 s, 1 % in the update's block). The default scenario's figures are in the README."""
    _, result = run("tiny", "honest", accounts=1_500)
    g = result.summary["liquidation_gap"]
    assert g["count"] > 50  # episodes: each account's first liquidation after its update
    assert g["same_block_share"] <= 0.03
    assert g["within_12s_share"] >= 0.9
    blocks = result.tables["liquidations"]["blocks_after_oracle"]
    assert (blocks > 1).any() and g["p90_blocks"] > 1  # not everything in the next block


def test_reactive_bots_never_land_in_the_update_block():
    """Bots reacting to the feed see an update only once its block is executed."""
    world, result = run("tiny", "honest")
    liq = result.tables["liquidations"]
    reactive = [c.name for c in world.sc.agents.liquidators if c.strategy == "reactive"]
    mine = np.isin(liq["liquidator"], reactive)
    assert mine.any() and (liq["blocks_after_oracle"][mine] >= 1).all()


def test_extractive_backrun_takes_most_liquidations_in_the_update_block():
    _, result = run("tiny", "extractive-backrun")
    assert result.summary["liquidation_gap"]["same_block_share"] > 0.5


def test_a_threshold_above_every_reward_never_attempts():
    bots = [{"name": "picky", "min_profit_usd": 1e8}]
    world, result = run("tiny", "honest", liquidators=bots)
    s = result.summary
    assert s["liquidator_attempts"] == 0 and s["liquidations"] == 0
    assert (world.txs.column("kind") != Kind.LIQUIDATE).all()
    assert world.protocol.liquidatable().size > 0  # there was something to liquidate


def test_costs_go_through_the_ledger():
    """Every attempt that reaches a block pays gas, won or lost: each bot's balance is
    its capital plus its bonuses less its gas, to the micro-dollar."""
    bots = [{"name": "fast", "gas_usd": 0.25, "capital_usd": 1_000.0},
            {"name": "slow", "gas_usd": 0.5, "capital_usd": 1_000.0,
             "feed_latency": {"median": "300ms", "sigma": 0.2}}]
    world, result = run("tiny", "honest", liquidators=bots)
    s, txs, p = result.summary, world.txs, world.protocol
    assert s["ledger_residual"] == 0 and world.ledger.check() == 0
    sender = txs.column("sender")
    tried = (txs.column("kind") == Kind.LIQUIDATE) & (sender < 2) & (txs.column("block") >= 0)
    assert s["liquidator_attempts"] == int(tried.sum()) > 0
    liq = np.asarray(p.log.liquidations, dtype=np.int64)
    for j, gas in enumerate((250_000, 500_000)):
        bonus = int(liq[liq[:, 3] == j, 5].sum())
        attempts = int((tried & (sender == j)).sum())
        balance = int(world.ledger.balances[p.liquidator_account[j]])
        assert balance == 1_000 * PPM + bonus - gas * attempts
    assert s["liquidator_gas_usd"] == round((tried & (sender == 0)).sum() * 0.25
                                            + (tried & (sender == 1)).sum() * 0.5, 2)


@settings(max_examples=6, deadline=None)
@given(gas=st.sampled_from([0.5, 1.0, 2.0]), limit=st.sampled_from([0.5, 1.5]))
def test_a_losing_bot_stops_at_its_loss_limit(gas, limit):
    """A bot that loses every race (far slower than its rival, it only gets the worthless
    rest of accounts already liquidated) pays gas for each attempt until its realised
    loss passes its limit; then it stops. It can overshoot the limit only by the
    attempts already in flight when it crossed it."""
    bots = [{"name": "fast", "gas_usd": 0.0, "min_profit_usd": 0.0},
            {"name": "loser", "gas_usd": gas, "max_loss_usd": limit, "max_pending": 2,
             "min_profit_usd": 0.0, "feed_latency": {"median": "400ms", "sigma": 0.0},
             "latency": {"median": "100ms", "sigma": 0.0}}]
    world, _ = run("tiny", "honest", liquidators=bots, accounts=1_500)
    loser = world.protocol.liquidator_account[1]
    lost = (1_000_000 * PPM - int(world.ledger.balances[loser])) / PPM  # default capital
    assert world.liquidators.stopped[1]
    assert limit < lost <= limit + 2 * gas  # 2: its max_pending


@settings(max_examples=25, deadline=None)
@given(uptime=st.floats(0.05, 0.95), seed=st.integers(0, 10_000))
def test_down_windows_are_disjoint_and_near_the_uptime(uptime, seed):
    cfg = Liquidator(name="x", uptime=uptime, outage="1min")
    horizon = 2_000 * 60_000_000  # 2,000 mean outages long
    w = down_windows(cfg, horizon, np.random.default_rng(seed))
    assert (w[:, 1] > w[:, 0]).all() and (w[1:, 0] >= w[:-1, 1]).all()
    assert w.min() >= 0 and w.max() <= horizon
    down = float((w[:, 1] - w[:, 0]).sum()) / horizon
    assert abs((1 - down) - uptime) < 0.1
    start, end = (int(x) for x in w[len(w) // 2])
    assert is_down(w, start) and not is_down(w, end)


def test_an_always_up_bot_has_no_windows():
    assert down_windows(Liquidator(name="x"), 10**9, np.random.default_rng(0)).shape == (0, 2)


def test_under_priority_a_bidder_lands_right_after_the_update_a_speculator_before_it():
    """Timed for the update's block: under FCFS both land after it (they arrive later);
    under priority ordering the speculator's tip (a share of the reward) outbids the
    update's and puts it first, where it fails and pays;
    the bidder tips just below the update and lands right behind it."""
    def lone(strategy: str, design: str) -> dict:
        bots = [{"name": "timed", "strategy": strategy, "min_profit_usd": 0.0,
                 "aim": {"median": "60ms", "sigma": 0.0}}]
        return run("tiny", design, liquidators=bots, accounts=1_500)[1].summary

    for strategy in ("speculative", "bidder"):
        assert lone(strategy, "honest")["liquidation_gap"]["same_block_share"] > 0.5
    bidder = lone("bidder", "priority")
    assert bidder["liquidation_gap"]["same_block_share"] > 0.5
    assert bidder["liquidator_profit_by_strategy"]["bidder"] > 0
    spec = lone("speculative", "priority")  # alone, it still wins what the feed shows later
    assert spec["liquidation_gap"]["same_block_share"] == 0.0  # never right behind it
    assert spec["liquidator_failed_attempts"] > 0.3 * spec["liquidator_attempts"] > 0


# the protocol's own keeper ------------------------------------------------------------
def test_episode_keeps_only_its_first_liquidation():
    from seqlab.metrics.liquidation_gap import first_of_episode

    # account 3 enabled at t=100: liquidated at 350, 600, 850 (a per-block cap); account 4
    # enabled at t=100 and, a second episode, at t=2000
    t = np.array([350, 600, 850, 350, 2250])
    acct = np.array([3, 3, 3, 4, 4])
    us = np.array([250, 500, 750, 250, 250])
    assert first_of_episode(t, acct, us).tolist() == [0, 3, 4]


def test_unpaid_mechanisms_bring_the_protocols_own_keeper():
    from seqlab.agents.liquidators import PROTOCOL_KEEPER, population
    from seqlab.scenario.schema import Perps

    bots = [Liquidator(name="bot")]
    assert population(bots, Perps(preset="dydx-v4"))[-1] == PROTOCOL_KEEPER
    assert population(bots, Perps(preset="synthetix-v2")) == bots  # keepers are paid
    assert population(bots, Perps(preset="gmx-v2"))[-1] == PROTOCOL_KEEPER


def test_dydx_accounts_are_liquidated_next_block_by_the_protocol_keeper():
    """dYdX v4 pays no bonus at the maintenance line: rational bots leave such accounts
    alone, and the protocol liquidates them itself, in the next block."""
    data = load_scenario("tiny").scenario.model_dump(mode="json")
    perps = data["protocol"]["perps"]
    for key in list(perps):  # the bare defaults: dYdX v4
        if key not in ("dutch",):
            perps.pop(key)
    data["agents"]["traders"]["accounts"] = 1_500
    world = World(parse_scenario(data))
    s = world.run().summary
    g = s["liquidation_gap"]
    assert g["count"] > 20 and g["p90_blocks"] <= 2
    assert s["liquidator_profit_by_strategy"].get("protocol", 0.0) >= 0.0
    assert world.bots[-1].name == "protocol-keeper" and s["ledger_residual"] == 0
