"""Oracle kinds and the price rules that bound stale-price trading.

A pull feed publishes on a clock and its prices ride in the orders; the protocol keeps
the newest publication and refuses a trade on a price older than ``max_age``; delayed
orders settle at the first price published ``min_delay`` after their commit; an
open-interest cap bounds a side; the operator's stale-price trade is sized by what the
market leaves. End to end: under a pull oracle with delayed orders the stale-oracle
strategy earns nothing, under a push feed it earns from every large enough update.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.errors import SeqlabError
from seqlab.oracle import make_feed
from seqlab.oracle.pull import carried
from seqlab.protocols.price_rule import PriceRule
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Oracle, Strategy
from seqlab.sequencing.stale_size import known_fill, stale_trade_usd
from seqlab.txs import Kind, Status
from seqlab.world import World
from tests.test_perps import OK, FAILED, make, oracle, tx, usd

S = 1_000_000


def test_pull_publishes_on_its_clock_near_the_market():
    feed = make_feed(Oracle(kind="pull", noise_bps=0.0))
    pubs = feed.publications(lambda t: 2000.0 + t / 1e6, 10 * S, np.random.default_rng(1))
    assert pubs.submit_us.tolist() == list(range(0, 10 * S, 400_000))
    assert pubs.price_micro.tolist() == [round((2000.0 + t / 1e6) * 1e6)
                                         for t in pubs.submit_us.tolist()]
    assert feed.attached and feed.deviation == 0.0 and feed.interval == 400_000
    push = make_feed(Oracle())
    assert not push.attached and push.deviation == 0.0005 and push.interval == S


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 5 * S), min_size=1, max_size=30),
       st.lists(st.integers(0, 6 * S), min_size=0, max_size=60))
def test_each_publication_rides_in_the_first_order_after_it(pub_times, submits):
    pubs = np.unique(np.array(pub_times, dtype=np.int64))
    submit = np.array(submits, dtype=np.int64)
    orders, seqs = carried(pubs, submit)
    assert len(np.unique(seqs)) == len(seqs) == len(orders)
    for order, k in zip(orders.tolist(), seqs.tolist()):
        # the latest publication when the order was sent…
        assert pubs[k] <= submit[order] and (k + 1 == len(pubs) or pubs[k + 1] > submit[order])
        # …and no earlier order was sent after that publication
        assert not ((submit >= pubs[k]) & (submit < submit[order])).any()
    # every publication some order was sent after (before the next) is carried once
    latest = np.searchsorted(pubs, submit, side="right") - 1
    assert set(seqs.tolist()) == set(latest[latest >= 0].tolist())


def ruled(publish_s, **rule) -> object:
    """A perps market whose updates ``seq`` were published at ``publish_s[seq]`` s."""
    p = make(accounts=3, margin=100_000.0)
    p.set_price_rule(PriceRule(np.array([round(x * S) for x in publish_s], np.int64), **rule))
    return p


def update(p, seq: int, price: float, t_s: float) -> None:
    assert tx(p, Kind.ORACLE, 0, a=usd(price), b=seq, t=round(t_s * S)) == OK


def test_pull_keeps_the_newest_price_and_refuses_stale_trades():
    p = ruled([1.0, 0.5, 3.0], max_age=60 * S, keep_newest=True)
    assert tx(p, Kind.TRADE, 0, a=usd(1000), t=S) == FAILED  # no price yet
    update(p, 0, 2000.0, 1.2)
    update(p, 1, 1900.0, 1.3)  # published before the stored one: ignored
    assert p.price == usd(2000.0)
    assert tx(p, Kind.TRADE, 0, a=usd(1000), t=61 * S) == OK  # 60 s old: still fresh
    assert tx(p, Kind.TRADE, 1, a=usd(1000), t=61 * S + 1) == FAILED  # too old
    update(p, 2, 2100.0, 62.0)
    assert tx(p, Kind.TRADE, 1, a=usd(1000), t=62 * S) == OK
    assert p.ledger.check() == 0


def test_delayed_order_settles_at_the_first_price_published_after_its_delay():
    # updates published at 0 s (stale when the order commits at 1 s), 2 s (too early:
    # min_delay 2 s from the commit), 3.5 s (the first it may use)
    p = ruled([0.0, 2.0, 3.5], delayed=True, min_delay=2 * S, max_delay=60 * S)
    update(p, 0, 2000.0, 0.1)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000), t=S) == OK  # committed, not filled
    assert p.size[0] == 0 and 0 in p.price_rule.pending
    assert tx(p, Kind.TRADE, 0, a=usd(20_000), t=S + 1) == FAILED  # one pending order
    update(p, 1, 2500.0, 2.1)
    assert p.size[0] == 0
    update(p, 2, 3000.0, 3.6)
    units = usd(20_000) * S // usd(3000.0)
    assert p.size[0] == units and p.basis[0] == units * usd(3000.0) // S
    assert p.price_rule.settled == [(0, S, round(3.6 * S), round(3.5 * S), 1)]
    assert p.ledger.check() == 0


def test_delayed_order_nobody_settles_in_time_is_cancelled():
    p = ruled([0.0, 70.0], delayed=True, min_delay=2 * S, max_delay=60 * S)
    update(p, 0, 2000.0, 0.1)
    assert tx(p, Kind.TRADE, 0, a=usd(20_000), t=S) == OK
    update(p, 1, 2100.0, 70.1)
    assert p.size[0] == 0 and not p.price_rule.pending and p.price_rule.cancelled == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 40 * S), min_size=1, max_size=25, unique=True),
       st.integers(0, 10 * S), st.integers(0, 5 * S))
def test_a_delayed_order_never_fills_at_a_price_published_before_its_window(
        gaps, commit, min_delay):
    """Whatever the publication times, an order settles at the first one at or after
    commit + min_delay if that one is within max_delay, and is cancelled otherwise."""
    publish = np.cumsum(np.array(gaps, dtype=np.int64))
    p = ruled((publish / S).tolist(), delayed=True, min_delay=min_delay, max_delay=60 * S)
    p.price = usd(2000.0)  # a stored price to commit against
    assert tx(p, Kind.TRADE, 0, a=usd(10_000), t=commit) == OK
    for seq, pub in enumerate(publish.tolist()):
        update(p, seq, 2000.0 + seq, max(pub, commit) / S)
    first = publish[publish >= commit + min_delay]
    if len(first) and first[0] <= commit + 60 * S:
        assert [row[3] for row in p.price_rule.settled] == [int(first[0])]
        seq = int(np.flatnonzero(publish == first[0])[0])
        assert p.basis[0] == p.size[0] * usd(2000.0 + seq) // S > 0
    else:
        assert not p.price_rule.settled and p.size[0] == 0
    assert p.ledger.check() == 0


def test_open_interest_cap_bounds_each_side():
    p = make(accounts=3, margin=1_000_000.0, max_open_interest_usd=100_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    assert tx(p, Kind.TRADE, 0, a=usd(80_000)) == OK
    assert p.open_interest_room(1) == usd(20_000)
    assert tx(p, Kind.TRADE, 1, a=usd(30_000)) == FAILED  # longs would pass 100k
    assert tx(p, Kind.TRADE, 1, a=-usd(90_000)) == OK  # the short side is its own
    assert tx(p, Kind.TRADE, 0, a=-usd(150_000)) == FAILED  # flipping to a 70k short: 160k
    assert tx(p, Kind.TRADE, 0, a=-usd(80_000)) == OK  # closing is always allowed
    assert p.open_interest_room(1) == usd(100_000) and p.open_interest_room(-1) == usd(10_000)
    assert make().open_interest_room(1) == -1  # no cap
    assert p.ledger.check() == 0


_OI_STEP = st.one_of(
    st.tuples(st.just(Kind.TRADE), st.integers(0, 3), st.integers(-60_000, 60_000)),
    st.tuples(st.just(Kind.CLOSE), st.integers(0, 3), st.just(0)),
    st.tuples(st.just(Kind.REDUCE), st.integers(0, 3), st.integers(1, 10_000)),
    st.tuples(st.just(Kind.LIQUIDATE), st.integers(0, 3), st.just(0)),
    st.tuples(st.just(Kind.ORACLE), st.just(0), st.integers(1_500, 2_500)))


@settings(max_examples=60, deadline=None)
@given(st.lists(_OI_STEP, max_size=30))
def test_open_interest_kept_per_side_equals_the_positions(steps):
    """Each side's open interest is kept as positions change (no pass over accounts per
    trade): after any trades, closes, reduces and liquidations it equals the positions'."""
    p = make(accounts=4, margin=5_000.0, max_open_interest_usd=150_000.0)
    oracle(p, 2000.0)
    for n, (kind, who, a) in enumerate(steps, start=2):
        if kind == Kind.TRADE:
            tx(p, kind, who, a=usd(a), block=n)
        elif kind == Kind.LIQUIDATE:
            tx(p, kind, 0, b=who, block=n)
        elif kind == Kind.ORACLE:
            oracle(p, float(a), block=n)
        else:
            tx(p, kind, who, a=a, block=n)
        for side in (1, -1):
            held = p.size * side
            assert p.open_interest_room(side) == max(
                0, usd(150_000.0) - int(held[held > 0].sum()) * p.price // S)
    assert p.ledger.check() == 0


def test_stale_trade_takes_what_the_market_leaves():
    p = make(accounts=3, margin=1_000_000.0, max_open_interest_usd=300_000.0)
    assert tx(p, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    up = usd(2010.0)  # a 0.5 % move: above the two 5 bps fees

    def sized(market, coming, most):  # a bound is kept a millionth short of (rounding)
        prm = Strategy(stale_trade_usd=most, capital_usd=1e9)  # the account's equity binds
        return stale_trade_usd(market, 2, coming, known_fill(market), prm) / usd(1)

    assert sized(p, up, 100_000.0) == pytest.approx(100_000, rel=2e-6)  # its own limit
    assert sized(p, up, 0.0) == pytest.approx(300_000, rel=2e-6)  # the cap
    assert sized(p, usd(1990.0), 0.0) == pytest.approx(-300_000, rel=2e-6)
    assert sized(p, usd(2001.0), 0.0) == 0  # fees eat it
    small = make(accounts=3, margin=10_000.0)
    assert tx(small, Kind.ORACLE, 0, a=usd(2000.0)) == OK
    # 10k of equity covers 5 % initial margin and the 5 bps entry fee on about 198k
    assert sized(small, up, 0.0) == pytest.approx(10_000 / 0.0505, rel=2e-6)
    delayed = ruled([0.0], delayed=True, min_delay=0, max_delay=S)
    update(delayed, 0, 2000.0, 0.0)
    assert known_fill(delayed) == 0 and stale_trade_usd(delayed, 2, up, 0, Strategy()) == 0


def test_bad_settings_are_one_clear_error():
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["oracle"]["kind"] = "chainlink"
    with pytest.raises(SeqlabError, match="kind"):
        parse_scenario(data, "bad")
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["protocol"]["perps"].update(min_delay="90s", max_delay="60s")
    with pytest.raises(SeqlabError, match="min_delay"):
        parse_scenario(data, "bad")


def stale_profit(oracle: dict, perps: dict, seed: int | None = None) -> tuple[float, object]:
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["design"] = "extractive-stale-oracle"
    data["oracle"].update(oracle)
    data["protocol"]["perps"].update(perps)
    world = World(parse_scenario(data, "oracle-kinds"), seed)
    result = world.run()
    assert result.summary["ledger_residual"] == 0
    return result.summary["operator_profit_by_strategy"]["stale_oracle"], result


def test_pull_with_delayed_orders_leaves_stale_trading_nothing():
    push, _ = stale_profit({}, {})
    pull, _ = stale_profit({"kind": "pull"}, {})
    delayed, result = stale_profit({"kind": "pull"}, {"order_execution": "delayed"})
    summary = result.summary
    assert push > 10_000 and pull > 10_000  # trading ahead of updates pays at once
    assert abs(delayed) < 0.01 * push
    assert summary["oracle_updates"] > 1_000  # the orders carried prices all along
    assert summary["delayed_orders_settled"] > 1_000
    # every order committed (a successful trade, close or reduce) is accounted for once
    txs = result.tables["txs"]
    committed = np.isin(txs["kind"], [Kind.TRADE, Kind.CLOSE, Kind.REDUCE]) \
        & (txs["status"] == Status.OK)
    assert summary["delayed_orders_settled"] + summary["delayed_orders_failed"] \
        + summary["delayed_orders_cancelled"] + summary["delayed_orders_pending"] \
        == committed.sum()
