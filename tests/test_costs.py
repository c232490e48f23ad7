"""Ordering costs: penalties from the journal, execution against the baseline's fills."""
import numpy as np

from seqlab.ledger import Ledger
from seqlab.metrics.costs import execution_cost, penalties_paid, trade_fills
from seqlab.txs import Kind, Status


def test_penalties_are_read_per_owner_from_the_journal():
    led = Ledger()
    margin, wallet = led.open_many("margin", 3), led.open_many("wallet", 3)
    bot, seq = led.open("bot"), led.open("sequencer")
    for acct in (*margin, *wallet):
        led.transfer(0, int(acct), 1_000_000_000, "deposit")
    led.transfer(int(margin[0]), bot, 5_000_000, "liquidation_bonus")
    led.transfer(int(margin[0]), bot, 1_000_000, "liquidation_fee")
    led.transfer(int(wallet[0]), seq, 250_000, "priority_fee")
    led.transfer(int(margin[1]), bot, 7_000_000, "pnl")        # not an ordering cost
    led.transfer_many(wallet[1:], seq, np.array([10_000, 20_000]), "priority_fee")
    assert penalties_paid(led, margin, wallet).tolist() == [6.25, 0.01, 0.02]
    assert penalties_paid(led, margin).tolist() == [6.0, 0.0, 0.0]


def _fills(ids, senders, a, submit, fill):
    return {"id": np.array(ids), "sender": np.array(senders), "a": np.array(a),
            "submit_us": np.array(submit), "fill": np.array(fill)}


def test_execution_cost_compares_the_same_orders_only():
    base = _fills([1, 2, 3, 4], [0, 1, 1, 2], [10_000_000_000, -5_000_000_000, 1, 1],
                  [10, 20, 30, 40], [2_000_000_000] * 4)
    # order 1 (a $10k buy) fills 1 % dearer; order 2 (a $5k sell) 2 % cheaper;
    # order 3 was a different order in this run (other submit time); order 4 not executed
    run = _fills([1, 2, 3], [0, 1, 1], [10_000_000_000, -5_000_000_000, 1],
                 [10, 20, 31], [2_020_000_000, 1_960_000_000, 9_000_000_000])
    cost = execution_cost(run, base, 3)
    np.testing.assert_allclose(cost, [100.0, 100.0, 0.0])
    np.testing.assert_allclose(execution_cost(base, base, 3), 0.0)


def test_trade_fills_keep_executed_trades_and_number_rollups_apart():
    txs = {"id": np.arange(6), "kind": np.array([Kind.TRADE] * 5 + [Kind.TOPUP]),
           "status": np.array([Status.OK, Status.OK, Status.FAILED, Status.OK, Status.OK,
                               Status.OK]),
           "sender": np.array([0, 1, 0, 0, 5, 0]), "a": np.ones(6, np.int64),
           "submit_us": np.zeros(6, np.int64), "fill": np.full(6, 7),
           "rollup": np.array([0, 0, 0, 1, 1, 1])}
    accounts = {"rollup": np.array([0, 0, 1, 1])}
    f = trade_fills(txs, accounts)
    assert f["sender"].tolist() == [0, 1, 2, -1]      # rollup b's user 0 is account 2
    assert len(set(f["id"].tolist())) == 4            # ids unique across rollups
