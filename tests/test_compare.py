"""Paired comparison of designs, and the operator strategies one by one."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from seqlab.cli import app
from seqlab.errors import SeqlabError
from seqlab.experiments.compare import compare
from seqlab.experiments.pairing import Pairing
from seqlab.experiments.stats import mean_ci
from seqlab.txs import Kind, Status
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.world import World

runner = CliRunner()


def tiny(**changes) -> object:
    """The tiny scenario with nested changes, e.g. tiny(sequencer={"design": "x"})."""
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    for section, values in changes.items():
        if isinstance(values, dict):
            target = data
            for part in section.split("."):
                target = target[part]
            target.update(values)
        else:
            data[section] = values
    return parse_scenario(data, "tiny-variant")


# A first-come liquidation bonus (2 %, a 0.5 % fee: below the 3 % maintenance margin),
# the prize the backrun strategy is built to take; the default dYdX-style fillable price
# pays almost nothing at the first block an account is liquidatable.
BONUS = {"protocol.perps": {"liquidation": "fixed", "liquidation_bonus": 0.02,
                            "liquidation_fee": 0.005, "initial_margin": 0.05,
                            "maintenance_margin": 0.03}}


def run_world(scenario, design, seed=None):
    data = scenario.scenario.model_dump(mode="python")
    data["sequencer"]["design"] = design
    world = World(parse_scenario(data), seed)
    result = world.run()
    assert result.summary["ledger_residual"] == 0
    return world, result


def profits(scenario, design, seed=None):
    _, result = run_world(scenario, design, seed)
    return result.summary["operator_profit_by_strategy"], result


def test_honest_against_itself_is_exactly_zero():
    res = compare("tiny", ["honest", "fcfs"], seeds=2).summary
    same = res["designs"]["fcfs"]
    assert same["ordering_cost_usd"] == 0 and same["forced_liquidations"] == 0
    assert same["final_value_difference_usd"] == 0 and same["ordering_cost_bps"] == 0
    for payer in same["who_pays"].values():  # exactly zero, with a zero-width interval
        for fig in payer.values():
            assert fig["mean_usd"] == 0 and fig["ci95_usd"] == [0, 0]
            assert fig["significant"] is False
    assert same["digests"] == res["designs"]["honest"]["digests"]
    assert same["operator_profit_usd"] == 0


def test_extractive_takes_value_and_harms_users():
    res = compare(tiny(**BONUS), ["honest", "extractive"], seeds=3).summary["designs"]
    ext, hon = res["extractive"], res["honest"]
    assert ext["operator_profit_usd"] > 0
    assert ext["ordering_cost_usd"] > 0
    assert ext["operator_bonus_share"] > 0.8
    assert ext["same_block_liquidation_share"] > 0.5
    assert hon["same_block_liquidation_share"] <= 0.03  # only speculators land there
    # most land in the update's block (the mean is not: censored accounts wait long)
    assert ext["liquidation_gap_p50_s"] < hon["liquidation_gap_p50_s"]
    assert ext["max_censorship_delay_ms"] > 0 and hon["max_censorship_delay_ms"] == 0
    assert ext["forced_liquidations"] > 0


def test_backrun_alone():
    got, result = profits(tiny(**BONUS), "extractive-backrun")
    assert got["backrun"] > 0
    assert got["censor"] == got["stale_oracle"] == got["sandwich"] == 0
    liq = result.tables["liquidations"]
    ops = liq["liquidator"] == "operator-backrun"
    assert ops.mean() > 0.6
    assert (liq["blocks_after_oracle"][ops] == 0).mean() > 0.6
    # without liquidatable accounts there is nothing to take
    calm = tiny(market={"volatility": 0.0, "jump_intensity": 0.0}, **BONUS)
    assert profits(calm, "extractive-backrun")[0]["backrun"] == 0


def test_censorship_alone():
    got, result = profits(tiny(**BONUS), "extractive-censor")
    assert got["censor"] > 0 and got["backrun"] == 0
    assert result.summary["held_txs"] > 0
    assert result.summary["max_censorship_delay_ms"] <= 600_000 + 250  # max_censor_delay
    # nobody tops up: nothing to censor, nothing to gain
    unmanaged = tiny(**{"agents.margin_managers": {"share": 0.0}}, **BONUS)
    got, result = profits(unmanaged, "extractive-censor")
    assert got["censor"] == 0 and result.summary["held_txs"] == 0


def test_stale_oracle_alone():
    got, _ = profits(load_scenario("tiny"), "extractive-stale-oracle")
    assert got["stale_oracle"] > 0 and got["backrun"] == 0
    calm = tiny(market={"volatility": 0.0, "jump_intensity": 0.0})
    assert profits(calm, "extractive-stale-oracle")[0]["stale_oracle"] == 0


def test_stale_oracle_delay_holds_updates():
    delayed = tiny(**{"sequencer.strategy": {"oracle_delay": "3s"}})
    got, result = profits(delayed, "extractive-stale-oracle")
    assert got["stale_oracle"] > 0
    upd = result.tables["oracle_updates"]
    assert (upd["included_s"] - upd["submit_s"]).max() >= 3.0


SANDWICH = {"protocol.perps": {"skew_scale": 2_000.0, "taker_fee_bps": 1.0},
            "agents.traders": {"collateral_median_usd": 50_000.0, "collateral_sigma": 0.2}}


def test_sandwich_alone_needs_price_impact():
    got, result = profits(tiny(**SANDWICH), "extractive-sandwich")
    assert got["sandwich"] > 0
    assert got["backrun"] == got["censor"] == got["stale_oracle"] == 0
    no_impact = tiny(**{**SANDWICH, "protocol.perps": {"skew_scale": 0.0}})
    world, result = run_world(no_impact, "extractive-sandwich")
    assert result.summary["operator_profit_by_strategy"]["sandwich"] == 0
    txs = result.tables["txs"]
    sandwich_account = world.users + 1
    assert not ((txs["kind"] == 1) & (txs["sender"] == sandwich_account)).any()


def test_the_operator_only_wraps_trades_that_fill():
    """A sandwich whose victim fails pays two fees for nothing, so the operator checks the
    victim's limit and margin behind its own front-run. It checks the state the block
    starts from (earlier trades of the block can still change it), so nearly every victim
    it wraps (the trade between its open and its close) executes; without the check about
    a quarter did."""
    world, result = run_world(tiny(**SANDWICH), "extractive-sandwich")
    order = world.rollup.executed_order()
    kind, sender = world.txs.kind[order], world.txs.sender[order]
    mine = np.flatnonzero((sender == world.operator_accounts.sandwich)
                          & (kind == Kind.TRADE))
    assert len(mine) > 0
    victims = order[mine + 1]
    assert (world.txs.status[victims] == Status.OK).mean() > 0.9
    assert (world.txs.kind[order[mine + 2]] == Kind.CLOSE).all()


def test_sandwich_victims_pay():
    res = compare(tiny(**SANDWICH), ["honest", "extractive-sandwich"]).summary["designs"]
    who = res["extractive-sandwich"]["who_pays"]
    assert who["traders"]["direct"]["mean_usd"] + who["margin users"]["direct"]["mean_usd"] > 0


def test_priority_orders_by_tip_and_extracts_nothing_else():
    world, result = run_world(load_scenario("tiny"), "priority")
    got = result.summary["operator_profit_by_strategy"]
    assert got["priority_fees"] > 0
    assert got["backrun"] == got["censor"] == got["stale_oracle"] == got["sandwich"] == 0
    order = world.rollup.executed_order()
    block, tip = world.txs.block[order], world.txs.tip[order]
    same_block = block[1:] == block[:-1]
    assert (tip[1:][same_block] <= tip[:-1][same_block]).all()
    assert same_block.any() and (tip[1:][same_block] < tip[:-1][same_block]).any()


@pytest.mark.parametrize("design", ["extractive", "priority"])
def test_ledger_balances_with_block_limits(design):
    limited = tiny(sequencer={"max_txs_per_block": 3})
    got, result = profits(limited, design)
    assert result.summary["ledger_residual"] == 0


def test_mean_ci_is_student_t():
    mean, (lo, hi) = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and hi - mean == pytest.approx(4.302652729911275 / np.sqrt(3))
    assert mean_ci([5.0]) == (5.0, [5.0, 5.0])


def test_mean_ci_respects_the_domain():
    from seqlab.experiments.stats import NON_NEGATIVE, SHARE, domain_of

    mean, (lo, hi) = mean_ci([0.9, 1.0, 1.0], SHARE)
    assert mean == pytest.approx(29 / 30) and hi == 1.0 and 0.0 <= lo < mean
    mean, (lo, hi) = mean_ci([0.0, 0.0, 3.0], NON_NEGATIVE)
    assert mean == 1.0 and lo == 0.0 and hi > 1.0
    assert mean_ci([0.0, 0.0, 3.0])[1][0] < 0  # unbounded: the plain t-interval
    assert domain_of("operator_bonus_share") == SHARE
    assert domain_of("forced_liquidations") == domain_of("latency_ms.p99") == NON_NEGATIVE
    assert domain_of("ordering_cost_usd")[0] == float("-inf")


def test_compare_cli_json(tmp_path):
    res = runner.invoke(app, ["compare", "tiny", "--designs", "honest,extractive",
                              "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["baseline"] == "honest"
    for name in ("honest", "extractive"):
        d = data["designs"][name]
        for key in ("operator_profit_usd", "ordering_cost_usd", "final_value_difference_usd",
                    "who_pays", "forced_liquidations",
                    "operator_bonus_share", "same_block_liquidation_share",
                    "max_censorship_delay_ms", "digest"):
            assert key in d
        assert set(d["latency_ms"]) >= {"p50", "p99"}
    assert (tmp_path / "compare.duckdb").exists() and (tmp_path / "compare.json").exists()
    res = runner.invoke(app, ["compare", "tiny", "--designs", "honest,magic"])
    assert res.exit_code == 2 and "magic" in res.output and "extractive" in res.output


def test_rows_can_change_scenario_settings_paired_by_seed():
    """``DESIGN@dotted.key=value`` rows: the same world with one setting changed, so the
    harm the grace period avoids is a paired difference."""
    from seqlab.experiments.compare import variant

    assert variant("fcfs@shared@protocol.perps.grace_period=1h") == (
        "fcfs", {"rollups.sequencing": "shared", "protocol.perps.grace_period": "1h"})
    data = load_scenario("outage").scenario.model_dump(mode="python")
    data["duration"] = "100min"
    data["sequencer"]["outages"] = [{"start": "20min", "duration": "30min"}]
    data["agents"]["traders"]["accounts"] = 500
    res = compare(parse_scenario(data), ["fcfs", "fcfs@protocol.perps.grace_period=30min"])
    d = res.summary["designs"]
    grace = d["fcfs@protocol.perps.grace_period=30min"]
    assert grace["liquidations"] < d["fcfs"]["liquidations"]
    assert grace["ordering_cost_usd"] != 0.0
    with pytest.raises(SeqlabError, match="grace_perio"):
        compare(parse_scenario(data), ["fcfs", "fcfs@protocol.perps.grace_perio=1h"])


def test_compare_executors_give_identical_results():
    """A comparison is the same on the process pool and on Ray as inline: same digests,
    same figures, whatever order the runs finish in."""
    designs = ["honest", "extractive", "priority"]
    inline = compare("tiny", designs, seeds=2).summary
    pool = compare("tiny", designs, seeds=2, backend="process", workers=2).summary
    assert pool == inline
    pytest.importorskip("ray")
    ray = compare("tiny", designs, seeds=2, backend="ray", workers=2).summary
    assert ray == inline


def test_compare_run_error_names_the_run():
    """A run that fails with a user error stops the comparison with its reason."""
    with pytest.raises(SeqlabError, match="unknown design"):
        compare("tiny", ["honest", "nope"])
    with pytest.raises(SeqlabError, match="backend"):
        compare("tiny", ["honest"], backend="threads")


def test_each_seed_runs_its_baseline_first_then_the_costliest_designs():
    """Seed by seed: the baseline first (the seed's pairs are then made as the others
    finish), then builders (the costliest) before priority, whatever order the designs
    were named in."""
    done = []
    compare("tiny", ["honest", "priority", "builders"], seeds=2, report=False,
            progress=lambda n, total, what: done.append(what) if n else None)
    assert done == ["honest seed 3", "builders seed 3", "priority seed 3",
                    "honest seed 4", "builders seed 4", "priority seed 4"]


def test_a_run_is_let_go_once_paired_with_its_seeds_baseline():
    """Whatever order runs finish in, each is paired with its own seed's baseline, and
    at the end no full run is held: memory follows the seeds in flight, not the whole
    experiment (here the baseline of seed 2 comes last, so seed 2's runs wait for it)."""
    designs, order = ["base", "a", "b"], [("a", 2), ("base", 1), ("b", 1), ("b", 2),
                                          ("a", 1), ("base", 2)]
    pairing = Pairing(designs, "base", [1, 2], lambda run, base: (run, base))
    held = []
    for design, seed in order:
        pairing.add(design, seed, f"{design}{seed}")
        held.append(pairing.held)
    assert held == [1, 2, 2, 3, 2, 0]  # base 1 stays until a 1 is paired
    assert pairing.pairs == {(d, s): (f"{d}{s}", f"base{s}") for d in designs for s in (1, 2)}


def test_a_long_comparison_holds_only_the_seeds_in_flight():
    pairing = Pairing(["base", "a", "b"], "base", range(50),
                      lambda run, base: None)
    for seed in range(50):
        for design in ("base", "b", "a"):
            pairing.add(design, seed, object())
    assert pairing.most_held == 2 and pairing.held == 0 and len(pairing.pairs) == 150
