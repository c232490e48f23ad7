"""The options protocol: premiums at the Black-Scholes mark, margin, liquidation of
writers, cash settlement at expiry, and exact accounting throughout."""
import numpy as np

import seqlab
from seqlab.market import ReferencePrice
from seqlab.pricing import black_scholes
from seqlab.protocols.options import OptionsProtocol
from seqlab.protocols.port import RunEnd
from seqlab.rollup.fees import Capabilities, FeeMarket, SequencerAccounts
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Options
from seqlab.txs import Kind
from tests.test_perps import OK, FAILED, bal, make, oracle, tx, usd

HOUR = 3_600_000_000


def market(writers=2, collateral=10_000.0, **cfg):
    p = make()
    opt = OptionsProtocol(Options(enabled=True, expiries=["1h"], moneyness=[1.0],
                                  writers=writers, buyers=2, vol=0.8, **cfg),
                          p.ledger, p.txs, p, spot_usd=2000.0)
    opt.fund(np.full(writers, collateral), np.full(writers, 5_000.0), np.full(2, 50_000.0))
    p.attach(opt)
    oracle(p, 2000.0)
    return p, opt


def test_buy_pays_the_mark_to_the_writer_with_most_free_margin():
    p, opt = market()
    call = 0  # series: (call, put) for the one strike and expiry
    t = 1_000
    mark = black_scholes("call", 2000.0, 2000.0, (HOUR - t) / 31_536e9, 0.0, 0.8)
    before = bal(p, opt.wallet[0])
    assert tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=call, t=t) == OK
    premium = int(1_000_000 * mark)
    assert before - bal(p, opt.wallet[0]) == premium
    assert bal(p, opt.margin[0]) == usd(10_000.0) + premium
    assert opt.short[0, call] == opt.long[0, call] == 1_000_000
    assert p.ledger.check() == 0


def test_initial_margin_limits_what_a_writer_can_sell():
    p, opt = market(writers=1, collateral=1_000.0)
    # 15 % of 2000 plus the mark per ETH: 1,000 USD cannot back 5 ETH of calls
    assert tx(p, Kind.OPT_BUY, 0, a=5_000_000, b=0) == FAILED
    assert tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=0) == OK


def test_settlement_pays_buyers_from_writers_at_the_oracle_price():
    p, opt = market()
    tx(p, Kind.OPT_BUY, 0, a=2_000_000, b=0, t=1_000)        # 2 ETH of calls
    tx(p, Kind.OPT_BUY, 1, a=1_000_000, b=1, t=1_000)        # 1 ETH of puts
    oracle(p, 2100.0, block=2)
    wallet0, wallet1 = bal(p, opt.wallet[0]), bal(p, opt.wallet[1])
    writer = bal(p, opt.margin[0])
    tx(p, Kind.ORACLE, 0, a=usd(2100.0), block=3, t=HOUR)     # expiry reached
    assert opt.settled.all() and not opt.short.any() and not opt.long.any()
    assert bal(p, opt.wallet[0]) - wallet0 == usd(200.0)     # (2100 − 2000) × 2
    assert bal(p, opt.wallet[1]) == wallet1                  # the put expires worthless
    assert writer - bal(p, opt.margin[0]) == usd(200.0)
    assert p.ledger.check() == 0


def test_a_writer_under_maintenance_is_liquidated_by_the_pool():
    p, opt = market(writers=1, collateral=700.0)
    assert tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=0, t=1_000) == OK
    assert tx(p, Kind.OPT_LIQUIDATE, 0, b=0, t=2_000) == FAILED   # healthy
    oracle(p, 2600.0, block=2)
    assert 0 in opt.liquidatable(3_000).tolist()
    margin = bal(p, opt.margin[0])
    assert tx(p, Kind.OPT_LIQUIDATE, 1, b=0, block=3, t=3_000) == OK
    assert not opt.short.any() and opt.pool_short[0] == 1_000_000
    assert bal(p, p.liquidator_account[1]) > 0
    assert bal(p, opt.margin[0]) < margin
    assert p.ledger.check() == 0


def test_runs_with_options_balance_and_pair_exactly():
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["protocol"]["options"].update(enabled=True, expiries=["4min", "8min"],
                                       buy_rate_per_s=3.0, writers=8,
                                       writer_collateral_usd=8000.0)
    s = seqlab.run(parse_scenario(data)).summary
    assert s["ledger_residual"] == 0 and s["option_premiums_usd"] > 0
    assert s["option_liquidations"] > 0
    cmp = seqlab.compare(parse_scenario(data), ["honest", "fcfs"]).summary
    who = cmp["designs"]["fcfs"]["who_pays"]
    assert who["option writers"]["direct"]["mean_usd"] == 0
    assert who["option buyers"]["direct"]["mean_usd"] == 0


def test_expired_unsettled_series_are_valued_at_their_payoff():
    p, opt = market()
    tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=1, t=1_000)        # 1 ETH of puts, strike 2000
    oracle(p, 1900.0, block=2)
    writers, buyers = opt.values(HOUR, usd(1900.0))          # expired, no block since
    assert not opt.settled.any()
    assert buyers[0] - bal(p, opt.wallet[0]) == usd(100.0)
    assert bal(p, opt.margin[0]) + bal(p, opt.writer_wallet[0]) - writers[0] == usd(100.0)
    tx(p, Kind.ORACLE, 0, a=usd(1900.0), block=3, t=HOUR)     # settling moves no value
    after_w, after_b = opt.values(HOUR, usd(1900.0))
    assert after_w.tolist() == writers.tolist() and after_b.tolist() == buyers.tolist()


def test_priority_fees_on_option_transactions_come_from_their_own_payers():
    """A writer's top-up tip from the writer's wallet, a buyer's from the buyer's, a bot's
    from the bot: never from the perps account that happens to share the index."""
    p, opt = market()
    fees = FeeMarket(p.ledger, p.txs, SequencerAccounts.open(p.ledger), p.payer)
    fees.capabilities = Capabilities(tips=True)
    p.ledger.transfer(0, p.liquidator_account[0], usd(10), "deposit")
    perps_wallet = [bal(p, int(w)) for w in p.wallet[:2]]
    before = {k: bal(p, int(a)) for k, a in (("writer", opt.writer_wallet[0]),
                                              ("buyer", opt.wallet[1]),
                                              ("bot", p.liquidator_account[0]))}
    ids = p.txs.add_many(np.array([Kind.OPT_TOPUP, Kind.OPT_BUY, Kind.OPT_LIQUIDATE]),
                         np.array([0, 1, 0]), np.zeros(3, np.int64), np.zeros(3, np.int64),
                         np.array([usd(100), 1_000, 0]), np.array([0, 0, 1]),
                         np.array([usd(1), usd(2), usd(3)]))
    p.execute(ids, np.zeros(3, np.int64), np.full(3, 1_000, np.int64))
    fees.after_block(ids)
    assert bal(p, int(opt.writer_wallet[0])) == before["writer"] - usd(100) - usd(1)
    assert bal(p, int(p.liquidator_account[0])) == before["bot"] - usd(3)
    assert bal(p, int(opt.wallet[1])) < before["buyer"] - usd(2) + 1  # tip plus premium
    assert [bal(p, int(w)) for w in p.wallet[:2]] == perps_wallet
    assert bal(p, fees.accounts.sequencer) == usd(6)


def test_dutch_auction_of_a_writer_kicks_locks_and_pays_the_discount():
    """Kick: nothing moves but the keeper incentive, and the writer is seized (its top-up
    fails); a take: the pool takes the shorts over at the mark and the taker is paid
    (oracle − auction price) per unit of underlying from the writer's margin."""
    from seqlab.protocols.auction import keeper_incentive
    from seqlab.protocols.dutch import make_curve

    p, opt = market(writers=1, collateral=700.0, liquidation="dutch")
    assert tx(p, Kind.OPT_BUY, 0, a=1_000_000, b=0, t=1_000) == OK
    oracle(p, 2600.0, block=2)
    insurance = bal(p, p.insurance)
    assert tx(p, Kind.OPT_LIQUIDATE, 0, b=0, block=3, t=3_000) == OK      # kick
    d = p.cfg.dutch
    tab = 1_000_000 * usd(2600.0) // 1_000_000
    assert insurance - bal(p, p.insurance) == keeper_incentive(tab, usd(d.tip_usd), d.chip)
    assert opt.short[0, 0] == 1_000_000 and opt.auctions.locks(0)
    assert tx(p, Kind.OPT_TOPUP, 0, a=usd(100), block=4, t=4_000) == FAILED
    # at kick the price is oracle × buf: a keeper bidding the oracle price cannot take yet
    assert tx(p, Kind.OPT_LIQUIDATE, 1, b=0, block=5, t=5_000) == FAILED
    later = 3_000 + 60_000_000                                             # a minute on
    price = make_curve(d).price(int(usd(2600.0) * d.buf), later - 3_000)
    assert price < usd(2600.0)
    margin, keeper = bal(p, opt.margin[0]), bal(p, p.liquidator_account[1])
    assert tx(p, Kind.OPT_LIQUIDATE, 1, b=0, block=6, t=later) == OK       # take
    assert not opt.short.any() and opt.pool_short[0] == 1_000_000
    reward = bal(p, p.liquidator_account[1]) - keeper
    assert reward == min(1_000_000 * (usd(2600.0) - price) // 1_000_000, margin)
    assert not opt.auctions.locks(0)
    assert p.ledger.check() == 0


def test_runs_with_dutch_option_liquidations_balance():
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["protocol"]["options"].update(enabled=True, expiries=["4min", "8min"],
                                       buy_rate_per_s=3.0, writers=8, liquidation="dutch",
                                       writer_collateral_usd=8000.0)
    s = seqlab.run(parse_scenario(data)).summary
    assert s["ledger_residual"] == 0 and s["option_liquidations"] > 0


def test_the_operators_buyer_is_named_after_the_users_and_its_gain_is_its_own():
    p = make()
    opt = OptionsProtocol(Options(enabled=True, expiries=["1h"], moneyness=[1.0], writers=2,
                                  buyers=3, vol=0.8), p.ledger, p.txs, p, spot_usd=2000.0)
    opt.fund(np.full(2, 10_000.0), np.full(2, 5_000.0), np.full(3, 50_000.0), 7_000.0)
    p.attach(opt)
    oracle(p, 2000.0)
    acc = opt.buyer_accounts
    assert (acc.users, acc.operator, acc.count) == (3, 3, 4) and len(opt.wallet) == 4
    assert bal(p, opt.wallet[acc.operator]) == usd(7_000.0) == opt.operator_deposit
    assert [bal(p, w) for w in opt.wallet[: acc.users]] == [usd(50_000.0)] * 3
    flat = ReferencePrice(np.array([0, HOUR]), np.array([2000.0, 2000.0]))
    end = RunEnd(HOUR // 2, flat)
    assert opt.sequencer_gains(end) == {"stale_oracle": 0}  # bought nothing: no gain
    assert tx(p, Kind.OPT_BUY, acc.operator, a=1_000_000, b=0, t=1_000) == OK
    paid = usd(7_000.0) - bal(p, opt.wallet[acc.operator])
    value = opt.values(end.t_us, usd(2000.0))[1][acc.operator]
    assert paid > 0 and opt.sequencer_gains(end) == {"stale_oracle": int(value) - usd(7_000.0)}
    summary, _ = opt.report(end)  # the users' figures leave the operator's buyer out
    users = opt.values(end.t_us, usd(2000.0))[1][: acc.users]
    assert summary["option_buyer_value_usd"] == round(float(users.sum()) / 1e6, 2)
