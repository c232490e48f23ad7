"""The extractive operator's stale-oracle option buys, and what they cost writers."""
import numpy as np
import pytest

import seqlab
from seqlab.experiments.compare import with_design
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.txs import Kind, Status
from seqlab.world import World


@pytest.fixture(scope="module")
def worlds():
    data = load_scenario("options").scenario.model_dump(mode="python")
    data["duration"] = "40min"
    data["protocol"]["options"].update(expiries=["20min", "40min"], writers=30, buyers=100)
    data["agents"]["traders"]["accounts"] = 300
    # Ethereum's 0.5 % feed: on the L2 feed's 0.05 % steps, forty minutes seldom bring a
    # pending update past the operator's stale_min_move, so it would seldom buy at all
    data["oracle"].update(deviation=0.005, heartbeat="1h")
    loaded = parse_scenario(data)
    out = {}
    for design in ("honest", "extractive-stale-oracle"):
        w = World(with_design(loaded, design), 1)
        out[design] = (w, w.run())
    return out


def test_the_operator_buys_options_at_the_stale_mark_ahead_of_the_update(worlds):
    w, result = worlds["extractive-stale-oracle"]
    opt, txs = w.options, w.txs
    mine = np.flatnonzero((txs.column("kind") == Kind.OPT_BUY)
                          & (txs.column("sender") == opt.buyer_accounts.operator))
    assert len(mine) > 0 and (txs.status[mine] == Status.OK).all()
    sales = np.asarray(opt.sales, dtype=np.int64)
    ours = sales[sales[:, 2] == opt.buyer_accounts.operator]
    fair = opt.fair_premiums(w.reference.at)[sales[:, 2] == opt.buyer_accounts.operator]
    assert (fair > ours[:, 5]).mean() > 0.5  # mostly bought below their value
    # the gain is the operator's stale-oracle profit, and the ledger still balances
    assert result.summary["ledger_residual"] == 0
    assert result.summary["operator_profit_by_strategy"]["stale_oracle"] != 0


def test_writers_pay_for_it_in_execution_cost_and_buyers_do_not(worlds):
    _, honest = worlds["honest"]
    _, ext = worlds["extractive-stale-oracle"]
    hw, ew = honest.tables["option_writers"], ext.tables["option_writers"]
    assert ew["execution_cost_usd"].sum() > hw["execution_cost_usd"].sum()
    # the operator is not one of the buyers the tables report
    assert len(ext.tables["option_buyers"]["account"]) == 100


def test_no_options_market_means_no_option_buys():
    w = World(with_design(load_scenario("tiny"), "extractive"), 1)
    w.run()
    assert not (w.txs.column("kind") == Kind.OPT_BUY).any()
