"""Timeboost with rational, unequal searchers: the auction, the lane and their figures."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from seqlab.experiments.compare import compare
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.sequencing.reserve_pricer import ReservePricer
from seqlab.sequencing.searchers import Bidders, expected_max_normal
from seqlab.sequencing.timeboost import second_price_auction
from seqlab.sequencing.timeboost_config import Timeboost
from seqlab.txs import Kind, Status
from seqlab.world import World

SEEDS = (1, 2, 3)


def tiny(duration="30min", skew_scale=None, **timeboost):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["duration"] = duration
    if skew_scale is not None:
        data["protocol"]["perps"]["skew_scale"] = skew_scale
    data["sequencer"]["design"] = "timeboost"
    data["sequencer"]["timeboost"].update(timeboost)
    return parse_scenario(data)


def run(seed, duration="30min", skew_scale=None, **timeboost):
    w = World(tiny(duration, skew_scale, **timeboost), seed)
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result.summary


@pytest.fixture(scope="module")
def runs():
    return {seed: run(seed) for seed in SEEDS}


def test_controllers_realise_at_least_what_they_pay(runs):
    """No systematic overpayment: in every run the lane's value to its controllers (after
    gas) covers the auction prices they paid, and so it does over the seeds for every
    searcher that won often enough to average over. (A searcher's few wins can fall on
    quiet minutes: the property test below checks the guarantee over many rounds.)"""
    paid, net, wins = {}, {}, {}
    for _, s in runs.values():
        m = s["design_metrics"]
        assert m["rounds_won"] > 0 and m["auction_paid_usd"] > 0
        assert m["controller_gross_usd"] - m["express_gas_usd"] >= m["auction_paid_usd"]
        for name, d in m["by_searcher"].items():
            paid[name] = paid.get(name, 0.0) + d["paid_usd"]
            net[name] = net.get(name, 0.0) + d["gross_usd"] - d["gas_usd"]
            wins[name] = wins.get(name, 0) + d["wins"]
    often = [name for name in wins if wins[name] >= 10]
    assert len(often) >= 2
    # together the frequent winners realise what they pay; one of them alone may still be
    # learning (over three short runs the runner-up can pay ~10 % more than it realises)
    assert sum(net[n] for n in often) >= sum(paid[n] for n in often)
    for name in often:
        assert net[name] >= 0.8 * paid[name], name


def test_the_two_strongest_searchers_win_most_rounds(runs):
    for _, s in runs.values():
        m = s["design_metrics"]
        assert m["top2_win_share"] >= 0.9
        wins = {n: d["wins"] for n, d in m["by_searcher"].items()}
        assert wins["leader"] + wins["runner-up"] == max(
            wins[a] + wins[b] for a in wins for b in wins if a != b)


def test_bids_track_the_value_realised_just_before(runs):
    for _, s in runs.values():
        assert s["design_metrics"]["bid_prev_value_correlation"] > 0


def test_every_express_transaction_pays_gas_reverted_or_not(runs):
    for w, s in runs.values():
        m = s["design_metrics"]
        assert 0 <= m["express_revert_share"] < 1 and m["express_txs"] > 0
        gas = w.ledger.totals_by_reason()["express_gas"] / 1e6
        assert gas == pytest.approx(m["express_gas_usd"], abs=0.01)
        assert gas == pytest.approx(m["express_txs"] * 0.03, abs=1e-6)


def test_the_controller_sends_no_liquidation_it_knows_will_fail(runs):
    """A revert costs gas, so the controller sends one try per account and block (the
    rest of a partial close waits a block, the lane keeps it first) and tries ahead of an
    oracle update only once a feed poll has triggered one: its liquidations land, many
    right behind the update in the update's own block. Its stale-price trades race the
    update and revert when it lands first (their limit allows for the skew premium, so
    they do not revert on that alone)."""
    behind = 0
    for w, s in runs.values():
        own = w.design.view.txs.inserted_since(0)
        liq = own[w.txs.kind[own] == Kind.LIQUIDATE]
        assert len(set(zip(w.txs.block[liq].tolist(), w.txs.b[liq].tolist()))) == len(liq)
        by_kind = s["design_metrics"]["express_revert_share_by_kind"]
        assert by_kind["liquidate"] < 0.1 and by_kind["trade"] < 0.9
        update_blocks = {row[1] for row in w.protocol.log.oracle}
        behind += sum(b in update_blocks for b in w.txs.block[liq].tolist())
    assert behind > 0


def test_no_guess_at_an_update_no_poll_has_triggered():
    """With a feed that posts only on its heartbeat, the reference drifting away from the
    on-chain price announces no update: the controller tries nothing ahead, so none of
    its liquidations reverts (it used to guess, and most guesses reverted)."""
    data = tiny().scenario.model_dump(mode="python")
    data["oracle"]["deviation"] = 1.0
    w = World(parse_scenario(data), 1)
    assert w.run().summary["ledger_residual"] == 0
    own = w.design.view.txs.inserted_since(0)
    liq = own[w.txs.kind[own] == Kind.LIQUIDATE]
    assert not (w.txs.status[liq] == Status.FAILED).any()
    assert len(w.protocol.log.oracle) <= 2  # the first post and at most one heartbeat


def test_bookkeeping_matches_the_ledger(runs):
    """What the book says was paid is what moved to the treasury, never below the reserve."""
    for w, s in runs.values():
        m = s["design_metrics"]
        assert s["auction_revenue_usd"] == pytest.approx(m["auction_paid_usd"], abs=0.01)
        won = [r for r in w.design.rounds if r[1] is not None]
        assert all(price >= 2.5 for _, _, price in won)


def test_same_seed_same_auction():
    a, b = run(5, "10min")[1], run(5, "10min")[1]
    assert a["design_metrics"] == b["design_metrics"] and a["digest"] == b["digest"]


def test_trailing_reserve_pricer_raises_the_reserve():
    w, s = run(2, reserve_pricer="trailing", reserve_share=0.8)
    m = s["design_metrics"]
    assert m["mean_reserve_usd"] > 2.5
    book = w.design.book
    for k, won in enumerate(book.winner):
        if won >= 0:
            assert book.price[k] >= book.reserve[k]
    _, plain = run(2)
    assert plain["design_metrics"]["mean_reserve_usd"] == 2.5


def test_reserve_pricer_follows_the_median_paid():
    pricer = ReservePricer(Timeboost(reserve_pricer="trailing", reserve_share=0.5,
                                     reserve_usd=10.0))
    assert pricer.price() == 10.0
    for paid in (100.0, 300.0, 5.0):
        pricer.record(paid)
    assert pricer.price() == 50.0
    assert ReservePricer(Timeboost(reserve_usd=7.0)).price() == 7.0


def test_compare_json_carries_design_metrics():
    res = compare(tiny("10min"), ["honest", "timeboost"], seeds=2).summary
    tb = res["designs"]["timeboost"]
    per_seed = tb["design_metrics"]  # the design's own figures, by seed
    assert len(per_seed) == 2 and all("top2_win_share" in m for m in per_seed.values())
    assert "design_metrics" not in res["designs"]["honest"]


def test_expected_max_normal():
    assert expected_max_normal(1) == 0.0
    assert expected_max_normal(2) == pytest.approx(1 / np.sqrt(np.pi), abs=1e-6)
    assert expected_max_normal(3) == pytest.approx(1.5 / np.sqrt(np.pi), abs=1e-6)
    assert all(expected_max_normal(n) < expected_max_normal(n + 1) for n in range(1, 20))


def test_searchers_setting_is_checked():
    with pytest.raises(ValidationError, match="names must differ"):
        Timeboost(searchers=[{"name": "a", "skill": 0.5}, {"name": "a", "skill": 0.6}])
    with pytest.raises(ValidationError, match="skill"):
        Timeboost(searchers=[{"name": "a", "skill": 1.5}])
    with pytest.raises(ValidationError, match="searchers"):
        Timeboost(searchers=[])


searcher = st.tuples(st.floats(0.05, 1.0), st.floats(0.1, 2.0))


@settings(max_examples=40, deadline=None)
@given(st.lists(searcher, min_size=1, max_size=5), st.floats(0.0, 1.0),
       st.floats(0.1, 2.0), st.integers(0, 2 ** 16))
def test_no_systematic_overpayment(profiles, sigma, tail, seed):
    """Whatever the searchers' skills, risk aversions and signal noise, and however
    heavy-tailed the lane's value: over many rounds the controllers' realised value is
    at least what they paid (shading undoes the winner's curse)."""
    cfg = Timeboost(valuation_noise=sigma, searchers=[
        {"name": f"s{i}", "skill": skill, "risk_aversion": risk}
        for i, (skill, risk) in enumerate(profiles)])
    bidders = Bidders(cfg)
    values = 1000.0 * np.random.default_rng(seed).lognormal(0.0, tail, 300)
    gross = paid = 0.0
    for r, value in enumerate(values):
        bids = bidders.bids(seed, r)
        assert (bids >= 0).all() and (bids <= bidders.capital).all()
        winner, price = second_price_auction(bids, cfg.reserve_usd)
        got = None
        if winner is not None:
            got = bidders.skill[winner] * value
            gross, paid = gross + got, paid + price
            bidders.settle(winner, got, price, r, r)
        bidders.observe(0.8 * value, got, winner)
    assert gross >= paid


def test_a_searcher_that_keeps_losing_steps_back():
    """Paying 500 for 10, round after round, where rounds vary by about 1000: after
    enough of them the loss is beyond luck, and the searcher sits out, then returns."""
    cfg = Timeboost(searchers=[{"name": "a", "skill": 0.9}, {"name": "b", "skill": 0.8}])
    bidders = Bidders(cfg)
    bidders.recent, bidders.moments = 1000.0, [1000.0, 2e6, 1.5e6]
    before = bidders.bids(1, 10)
    for r in range(10, 30):
        bidders.settle(0, 10.0, 500.0, r, r)
    after = bidders.bids(1, 30)
    assert before[0] > 0 and after[0] == 0.0 and after[1] > 0
    assert bidders.bids(1, 45)[0] > 0  # back after sitting out


def test_one_good_minute_among_quiet_ones_is_not_a_losing_record():
    """Twenty-five quiet minutes at 500 each and one that brought 20,000: the record is
    a win, and bids go on; the quiet minutes alone are a loss beyond luck."""
    cfg = Timeboost(searchers=[{"name": "a", "skill": 0.9}])
    bidders = Bidders(cfg)
    bidders.record[0] = [(r, 10.0, 500.0) for r in range(10, 35)]
    assert bidders.ratio(35)[0] == pytest.approx(0.05)  # 10 / 500, at the floor
    bidders.record[0].append((35, 20_000.0, 500.0))
    assert bidders.ratio(36)[0] == 1.0


def test_the_capture_share_starts_at_one_half_and_follows_held_minutes():
    """Before any held minute a minute nobody held counts at half its liquidation
    rewards (a uniform prior on the share); once held minutes show controllers taking a
    tenth of the public opportunity, a tenth."""
    b = Bidders(Timeboost(searchers=[{"name": "a", "skill": 1.0}]))
    assert b.share == 0.5
    for _ in range(20):
        b.observe(1_000.0, 100.0, 0)
    assert b.share == pytest.approx(0.1, abs=0.01)


def bursty_run(capture, burst_p, tail, seed, rounds=720):
    """Twelve hours of rounds whose public opportunity comes in rare bursts (crash
    jumps), of which a controller realises ``capture`` (others' keepers take the rest
    when nobody holds the lane): the controllers' realised value and the prices paid."""
    cfg = Timeboost()
    b = Bidders(cfg)
    rng = np.random.default_rng(seed)
    burst = rng.random(rounds) < burst_p
    public = np.where(burst, 5_000.0 * rng.lognormal(0.0, tail, rounds),
                      rng.exponential(2.0, rounds))
    gross = paid = 0.0
    for r, value in enumerate(public):
        winner, price = second_price_auction(b.bids(seed, r), cfg.reserve_usd)
        got = None
        if winner is not None:
            got = b.skill[winner] * capture * value
            gross, paid = gross + got, paid + price
            b.settle(winner, got, price, r, r)
        b.observe(value, got, winner)
    return gross, paid


@settings(max_examples=8, deadline=None, derandomize=True)  # a claim about averages
@given(st.floats(0.1, 1.0), st.floats(0.02, 0.2), st.floats(0.5, 1.5),
       st.integers(0, 2 ** 16))
def test_no_overpayment_for_bursts_a_controller_takes_only_part_of(capture, burst_p, tail,
                                                                    seed):
    """Where the lane's value comes in bursts (at least one in fifty minutes) and a
    controller realises only part of the liquidation rewards paid in a minute nobody
    held, bidders value such a minute at the share held minutes have shown, and over
    eight twelve-hour runs the controllers realise at least what they pay. (Searchers
    that took every reward paid in a minute nobody held as what a controller would have
    realised, and averaged bursts over twenty minutes, paid more than they realised.)

    One run alone may lose: a price paid for a burst that does not come is a bet lost.
    Over 200 runs each, controllers realised 2.0-2.8 times what they paid, and 1-6 % of
    single runs lost where bursts are rarest (one in fifty minutes, capture 0.1-0.125,
    the heaviest tail); so the claim is on eight runs together, for fixed examples."""
    runs = [bursty_run(capture, burst_p, tail, seed + k) for k in range(8)]
    gross, paid = (sum(x) for x in zip(*runs))
    assert gross >= paid


def test_a_slow_controller_loses_races_to_the_oracle():
    """A controller whose transactions take 2 s to arrive sends stale-price trades on
    what it saw 2 s ago: some arrive after the oracle update and revert on their limit,
    and it realises less than a 5 ms one."""
    out = {}
    for latency in ("5ms", "2s"):
        # no price impact: a trade fills at the on-chain price it was sent on, unless
        # the update has landed in between
        w, s = run(1, skew_scale=0.0,
                   searchers=[{"name": "solo", "skill": 0.9, "latency": latency}])
        own = w.design.view.txs.inserted_since(0)
        trades = own[w.txs.kind[own] == Kind.TRADE]
        out[latency] = (int((w.txs.status[trades] == Status.FAILED).sum()),
                        s["design_metrics"]["controller_gross_usd"])
    assert out["5ms"][0] == 0 < out["2s"][0]
    assert out["5ms"][1] > out["2s"][1]


def test_a_stale_price_trade_nobody_made_is_not_paid_for_afterwards():
    """A crash jump in a round nobody won is value no one took: bids do not chase it
    (else searchers pay on through the quiet minutes after it), while liquidation
    rewards someone was paid in such a minute do count, and so does what a controller
    realised."""
    b = Bidders(Timeboost())
    quiet = b.bids(1, 0).max()
    b.observe(0.0, None, None, untaken_usd=800_000.0)
    assert b.bids(1, 1).max() <= quiet
    b.observe(50_000.0, None, None)
    assert b.bids(1, 2).max() > 10 * quiet


def _sampled_gap(reference, onchain, min_move, start, end):
    """``_first_gap`` by sampling alone (no range pre-check): the reference definition."""
    from seqlab.sequencing.express_lane import GAP_STEP_US, PPM

    if end <= start:
        return None
    t = np.arange(end, start, -GAP_STEP_US)[::-1]
    ref = np.asarray(reference.at(t), dtype=np.float64) * PPM
    away = (np.abs(ref - onchain) > min_move * onchain).nonzero()[0]
    return None if not len(away) else (int(t[away[0]]), float(ref[away[0]]))


paths = st.lists(st.floats(1500.0, 3500.0), min_size=2, max_size=12)


@settings(max_examples=300, deadline=None)
@given(paths, st.integers(0, 12_000_000), st.integers(0, 2_000_000),
       st.floats(-0.01, 0.01), st.sampled_from([0.0, 0.0005, 0.002, 0.01]))
def test_first_gap_with_its_range_check_equals_sampling(prices, start, span, off, move):
    """The path's range between two times brackets every sample of it, and the gap search
    that skips a block whose range stays inside the threshold finds exactly what sampling
    every 10 ms finds (fails if ``bounds`` misses a point of the path or the skip's
    margin is on the wrong side)."""
    from seqlab.market import ReferencePrice
    from seqlab.sequencing.express_lane import PPM, _first_gap

    t = np.arange(len(prices), dtype=np.int64) * 1_000_000
    ref = ReferencePrice(t, np.array(prices))
    end = start + span
    lo, hi = ref.bounds(start, end)
    grid = np.arange(end, start, -10_000)
    if len(grid):
        seen = ref.at(grid)
        assert lo - 1e-9 <= seen.min() and seen.max() <= hi + 1e-9
    onchain = int(round(float(ref.at(start)) * (1 + off) * PPM))
    assert _first_gap(ref, onchain, move, start, end) == \
        _sampled_gap(ref, onchain, move, start, end)
