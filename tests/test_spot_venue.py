"""The live spot venue: constant-product maths, exact ledger, and liquidation selling
moving its price inside the run."""
from __future__ import annotations

import math
from fractions import Fraction
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from seqlab.errors import SeqlabError
from seqlab.ledger import Ledger
from seqlab.market.reserves import dai_reserves, venue_depth_usd
from seqlab.protocols import attached
from seqlab.protocols.cpmm import FEE_SCALE, Pool
from seqlab.protocols.spot_venue import SpotVenue
from seqlab.report.html import render_html
from seqlab.scenario.loader import builtin_path, load_scenario, parse_scenario
from seqlab.scenario.schema import Market, Venue
from seqlab.txs import TxStore
from seqlab.units import MICRO_USD as PPM
from seqlab.world import World

reserves = st.integers(10**6, 10**12)          # 1 to a million units
usd_reserves = st.integers(10**9, 10**15)      # 1 thousand to a billion USD
fees = st.sampled_from([0, 500, 3000, 10_000])  # Uniswap's tiers, in millionths


@settings(max_examples=300, deadline=None)
@given(reserves, usd_reserves, fees, st.floats(1e-6, 10.0))
def test_a_sale_pays_and_moves_the_price_by_the_constant_product_formula(x, y, fee, share):
    pool = Pool(x, y, fee)
    q = max(1, int(x * share))
    out = pool.sell(q)
    net = q * (1 - fee / FEE_SCALE)
    exact = y * net / (x + net)
    assert exact - 1 - 1e-9 * exact <= out <= exact + 1e-9 * exact  # rounded down, never up
    assert pool.units == x + q and pool.usd == y - out
    assert pool.units * pool.usd >= x * y  # the fee (and rounding) only adds to the product
    if fee == 0:  # marginal price after: p·(x/(x+q))², within the integer rounding
        expected = y / x * (x / (x + q)) ** 2
        assert pool.price / PPM == pytest.approx(expected, rel=1e-6, abs=2e-6)


@settings(max_examples=300, deadline=None)
@given(reserves, usd_reserves, fees, st.floats(1e-6, 0.5))
def test_a_buy_costs_the_constant_product_formula_rounded_up(x, y, fee, share):
    pool = Pool(x, y, fee)
    q = max(1, int(x * share))
    cost = pool.buy(q)
    exact = Fraction(y * q * FEE_SCALE, (x - q) * (FEE_SCALE - fee))  # y·q / ((x − q)(1 − f))
    assert exact <= cost < exact + 1  # rounded up, by less than one micro-USD
    assert pool.units * pool.usd >= x * y


@settings(max_examples=200, deadline=None)
@given(reserves, usd_reserves, st.floats(0.2, 5.0))
def test_arbitrage_reaches_its_target_along_the_invariant(x, y, move):
    pool = Pool(x, y, 3000)
    target = max(1, int(pool.price * move))
    into = pool.rebalance(target)
    assert pool.units * pool.usd >= x * y
    assert pool.usd - y == into
    assert pool.price == pytest.approx(target, rel=1e-4, abs=2)


def flat_venue(depth_usd: float = 2_000_000.0, fee: float = 0.003, half_life: str = "10s",
               price: float = 2000.0) -> tuple[SpotVenue, Ledger, "Perps"]:
    class Perps:  # what the venue reads of the perps market
        def __init__(self, ledger: Ledger) -> None:
            self.pool = ledger.open("perps.pool")
            ledger.transfer(0, self.pool, 10**12, "deposit")
            self.price = int(price * PPM)

    ledger = Ledger()
    perps = Perps(ledger)
    venue = SpotVenue(Venue(live=True, fee=fee), depth_usd, Market(arb_half_life=half_life)
                      .arb_half_life, ledger, TxStore(), perps, lambda t: np.full(len(t), price))
    venue.mark(perps.price)
    return venue, ledger, perps


def test_a_hedge_loses_exactly_the_impact_and_fee_and_the_ledger_stays_exact():
    venue, ledger, perps = flat_venue()
    before = int(ledger.balances[perps.pool])
    quoted = venue.impact(100 * PPM, perps.price, 1_000_000)
    venue.hedge(perps.pool, 100 * PPM, perps.price, 1_000_000)
    # 100 units into 500 units / 1 M USD: 1 M × 99.7 / 599.7 out, against 200 k at the oracle
    net = 100 * PPM * 997_000
    out = 1_000_000 * PPM * net // (500 * PPM * FEE_SCALE + net)
    assert before - int(ledger.balances[perps.pool]) == quoted == 200_000 * PPM - out
    assert venue.pool.price / PPM == pytest.approx(2000 * (500 / 600) ** 2, rel=1e-3)
    assert ledger.check() == 0


def test_arbitrage_halves_the_gap_every_half_life():
    venue, ledger, perps = flat_venue(half_life="10s")
    venue.hedge(perps.pool, 50 * PPM, perps.price, 0)
    gap0 = math.log(venue.pool.price / perps.price)
    venue.begin_block(10_000_000)
    assert math.log(venue.pool.price / perps.price) == pytest.approx(gap0 / 2, rel=1e-3)
    venue.begin_block(20_000_000)
    assert math.log(venue.pool.price / perps.price) == pytest.approx(gap0 / 4, rel=2e-3)
    assert ledger.check() == 0


def test_the_mark_blends_oracle_and_venue():
    venue, _, perps = flat_venue()
    venue.mark_weight = PPM // 4
    venue.hedge(perps.pool, 50 * PPM, perps.price, 0)
    v = venue.pool.price
    assert venue.mark(perps.price) == perps.price + (v - perps.price) // 4
    venue.mark_weight = 0
    assert venue.mark(perps.price) == perps.price
    venue.mark_weight = PPM  # marked to the venue: each block starts at its price
    venue.begin_block(1_000_000)
    assert perps.price == venue.pool.price != venue.oracle


def test_the_venue_is_off_by_default_and_refuses_bad_settings():
    assert attached("perps", load_scenario("default").scenario) == []
    base = {"name": "x", "protocol": {"venue": {"live": True}}}
    assert attached("perps", parse_scenario(base).scenario) == ["spot-venue"]
    for bad, field in (({"protocol": {"venue": {"mark_weight": 0.5}}}, "mark_weight"),
                       ({"protocol": {"venue": {"fee": 0.5}}}, "fee"),
                       ({"protocol": {"venue": {"live": True}},
                         "market": {"venue_depth_usd": 0}}, "venue_depth_usd")):
        with pytest.raises(SeqlabError, match=field):
            parse_scenario({"name": "x", **bad})


def crash(live: bool, sell: bool = True, **venue) -> World:
    """The 2024-08-05 crash replay, shrunk to its first steep hour and 300 accounts."""
    path = builtin_path("aug-2024-crash")
    data = tomllib.loads(path.read_text())
    data["duration"] = "1h"
    data["agents"]["traders"].update(accounts=300, rate_per_s=2.0)
    data["market"]["venue_depth_usd"] = 20_000_000.0
    data["protocol"]["venue"] = {"live": live, **venue}
    world = World(parse_scenario(data, "aug-2024-crash", path.parent))
    if live and not sell:  # the same venue, but nobody unloads liquidated exposure on it
        world.rollup.hooks.remove(world.attached["spot-venue"].on_block)
    return world


def test_liquidation_selling_moves_the_live_venue_on_a_crash_replay():
    result = crash(True).run()
    quiet = crash(True, sell=False).run()
    assert result.summary["ledger_residual"] == 0 and quiet.summary["ledger_residual"] == 0
    assert result.summary["liquidations"] > 0 and result.summary["venue_swaps"] > 0
    assert quiet.summary["venue_swaps"] == 0
    # without sellers the venue tracks the reference within the arbitrage lag; with them
    # it sits well below it after the liquidations
    assert result.summary["venue_max_discount_bps"] > quiet.summary["venue_max_discount_bps"] + 50
    prices = result.tables["prices"]
    assert np.isfinite(prices["venue"]).all() and "oracle" in prices
    swaps = result.tables["venue_swaps"]
    assert (swaps["units"] > 0).any()
    assert len(swaps["t_us"]) == result.summary["venue_swaps"]
    # the report draws the live venue beside the reference and the oracle
    page = render_html(result)
    assert all(f'"name":"{line}"' in page for line in ("reference", "oracle", "L2 venue"))


def test_marking_to_the_venue_changes_the_run_and_keeps_the_ledger_exact():
    oracle = crash(True).run().summary
    marked = crash(True, mark_weight=1.0).run().summary
    assert marked["ledger_residual"] == 0
    assert marked["digest"] != oracle["digest"]
    assert marked["liquidations"] >= oracle["liquidations"]


def test_off_by_default_the_run_is_unchanged():
    off = crash(False).run()
    assert "venue_swaps" not in off.summary
    assert off.summary["digest"] == crash(False).run().summary["digest"]


def test_a_replayed_day_with_shipped_reserves_starts_the_venue_as_deep_as_uniswap_was():
    replay = {"model": "replay", "series": "eth-2020-09-05", "start": "0h"}
    market = parse_scenario({"name": "x", "market": replay}).scenario.market
    assert venue_depth_usd(market) == pytest.approx(2 * 99_965_810.0, rel=1e-6)
    later = parse_scenario({"name": "x", "market": {**replay, "start": "12h"}}).scenario.market
    assert venue_depth_usd(later) == pytest.approx(2 * dai_reserves("eth-2020-09-05")[72])
    chosen = parse_scenario({"name": "x", "market": {**replay, "venue_depth_usd": 5e6}})
    assert venue_depth_usd(chosen.scenario.market) == 5e6  # the scenario's own depth wins
    other = parse_scenario({"name": "x", "market": {"model": "replay",
                                                    "series": "eth-2020-03-12"}})
    assert venue_depth_usd(other.scenario.market) == 200_000_000.0  # no reserves that day
