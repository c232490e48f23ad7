"""Cross-rollup arbitrageurs: they buy the cheap rollup's perp and sell the dear one's.

Each arbitrageur watches every rollup's feed at the end of a sequencing round. When the
cheapest and dearest live market differ by more than the two taker fees plus
``min_gap_bps``, every idle arbitrageur sends a pair of legs of equal size in units:
a buy on the cheap rollup and a sell on the dear one. The size closes the gap (with
Synthetix-style skew pricing the fill is the mean of the price before and after, so
closing the whole gap is what maximises the profit), capped at ``max_trade_usd``.

Each leg carries a limit price, as a real cross-rollup bundle carries slippage limits:
at most ``slippage_bps`` past its quote, and never so far that the pair could lose. The
two limits share what the quotes leave over the two taker fees, so a buy filled at its
limit and a sell filled at its own still pay both fees (``pair_limits``). This is what
protects an arbitrageur from its rivals: every idle one acts on the same gap, the
shared sequencer places one bundle per rollup a round, and by the time a later bundle
comes up the first has closed the gap; with a limit only ``slippage_bps`` from its quote
that later bundle would fill past the closed gap, a loss on every such pair. With the
pair's limits it fails instead (under atomic execution, whole).

How the legs travel is the sequencing mode's business: under isolated sequencers each leg
goes over the network to its own sequencer and may fail alone (its limit is crossed
first, or its sequencer is down). Under a shared sequencer both legs go in one bundle
(``seqlab.bundles``): included together, and either executed each on its own rollup,
where one may revert alone, or, under atomic execution, whole or not at all. When one leg
filled and the other did not, the arbitrageur holds a naked position (leg risk) and sells
it back at market; it stays busy until that unwind has executed, and books the round
trip's loss (fees included) as the attempt's unwind cost.

The arbitrageurs are rational about that risk: each learns from its own finished attempts
the share that left one leg filled and the mean unwind cost per dollar of such a leg, and
asks the gap to pay that expected loss on top of ``min_gap_bps``. After every finished
attempt it marks its accounts at each rollup's price; once it has lost ``max_loss_share``
of its capital it stops for the rest of the run (a kill switch).
A rollup whose feed has shown no block for ``stale_after`` is left alone: a halted
rollup's price is not a price anyone can trade at.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from seqlab.agents.leg_risk import LegRisk, round_trip_cost_usd
from seqlab.agents.reactive import KeyedDelays
from seqlab.protocols.perps import PPM
from seqlab.scenario.schema import Arbitrageurs as ArbitrageursCfg
from seqlab.txs import Kind, Status

# (arrival time, [(rollup, tx), (rollup, tx)]) handed to a shared sequencer
BundleSink = Callable[[int, list[tuple[int, int]]], None]

COLUMNS = ("t_us", "arbitrageur", "buy_rollup", "sell_rollup", "gap_bps", "size_usd",
           "outcome", "reverted_rollup", "unhedged_usd", "unwind_cost_usd")
OUTCOMES = ("filled", "failed_leg", "both_failed", "reverted")


@dataclass
class ArbLog:
    """Outcomes of every attempt, for the Result: one row per attempt, ``COLUMNS``
    (``reverted_rollup`` -1 unless one leg failed alone; then the naked leg's size and,
    once unwound, the round trip's cost)."""

    rows: list[list[float]] = field(default_factory=list)


@dataclass
class Attempt:
    """An arbitrageur's attempt in flight; ``unwind`` (rollup, naked leg, unwind tx, log
    row) once one leg filled alone."""

    t_us: int
    legs: list[tuple[int, int]]
    gap_bps: float
    usd: float
    unwind: tuple[int, int, int, int] | None = None


def pair_limits(buy_quote: int, sell_quote: int, fees: int, slippage_ppm: int
                ) -> tuple[int, int] | None:
    """Limit prices (micro-USD per unit) of a pair's buy and sell legs, or None where the
    quotes leave nothing over ``fees`` (both legs' taker fees per unit).

    Each limit is at most ``slippage_ppm`` past its quote and takes at most half of what
    the quotes leave over the fees, so that ``sell - buy >= fees`` at the limits: any two
    fills within them pay both fees. Why not just the slippage: the fills move away from
    the quotes because other arbitrageurs' bundles, placed first, close the same gap; a
    fixed slippage lets a pair fill after the gap has gone.
    """
    spare = sell_quote - buy_quote - fees
    if spare <= 0:
        return None
    half = spare // 2
    return (buy_quote + min(half, buy_quote * slippage_ppm // 1_000_000),
            sell_quote - min(half, sell_quote * slippage_ppm // 1_000_000))


class Arbitrageurs:
    """``count`` arbitrageurs, each with an account ``account0 + j`` on every rollup."""

    def __init__(self, cfg: ArbitrageursCfg, seed: int, chains: list, account0: int,
                 bundle: BundleSink | None, stale_after: int) -> None:
        self.cfg, self.chains, self.account0 = cfg, chains, account0
        self.bundle, self.stale_after = bundle, stale_after
        self.delays = KeyedDelays(seed, "arbitrage", cfg.count)
        self.pending: list[Attempt | None] = [None] * cfg.count
        self.log = ArbLog()
        self.risk = LegRisk(cfg.count)
        self.stopped = np.zeros(cfg.count, dtype=bool)
        self.capital = int(round(cfg.capital_usd * PPM)) * len(chains)

    # deciding -------------------------------------------------------------------------
    def observe(self, t_us: int) -> None:
        """After a sequencing round: settle finished attempts, then act on the gap."""
        self._settle()
        live = [k for k, c in enumerate(self.chains)
                if c.protocol.price and t_us - c.rollup.last_tick <= self.stale_after]
        if len(live) < 2:
            return
        mids = np.array([self.chains[k].protocol.mid() for k in live])
        lo, hi = live[int(np.argmin(mids))], live[int(np.argmax(mids))]
        p_lo, p_hi = self.chains[lo].protocol, self.chains[hi].protocol
        gap_bps = (p_hi.mid() - p_lo.mid()) / p_lo.mid() * 1e4
        edge_bps = gap_bps - p_lo.cfg.taker_fee_bps - p_hi.cfg.taker_fee_bps
        idle = [j for j, p in enumerate(self.pending) if p is None and not self.stopped[j]]
        if edge_bps <= self.cfg.min_gap_bps or not idle:
            return
        units = self._units(p_lo, p_hi, edge_bps)
        if units <= 0:
            return
        legs = self._legs(lo, hi, units)
        if legs is None:
            return
        for j in idle:
            if edge_bps - self.risk.expected_loss_bps(j) > self.cfg.min_gap_bps:
                self._send(j, t_us, legs, units, gap_bps)

    def _units(self, p_lo, p_hi, edge_bps: float) -> int:
        """Micro-units that close the gap net of fees, capped by ``max_trade_usd``."""
        cap = self.cfg.max_trade_usd / (p_lo.price / PPM)
        if not p_lo.scale_units:
            return int(cap * PPM)
        scale = p_lo.scale_units / PPM
        close = edge_bps / 1e4 * p_lo.mid() * scale / (p_lo.price / PPM + p_hi.price / PPM)
        return int(min(close, cap) * PPM)

    def _legs(self, lo: int, hi: int, units: int) -> list[tuple[int, int, int]] | None:
        """(rollup, USD notional, limit price) of the buy on ``lo`` and the sell on ``hi``
        for ``units`` micro-units, or None where the quotes do not cover both fees."""
        p_lo, p_hi = self.chains[lo].protocol, self.chains[hi].protocol
        buy_usd, sell_usd = units * p_lo.price // PPM, -(units * p_hi.price // PPM)
        fees = -(-(p_lo.price * p_lo.fee_ppm + p_hi.price * p_hi.fee_ppm) // PPM)  # per unit
        limits = pair_limits(p_lo.quote(buy_usd), p_hi.quote(sell_usd), fees,
                             int(round(self.cfg.slippage_bps * 100)))
        if limits is None:
            return None
        return [(lo, buy_usd, limits[0]), (hi, sell_usd, limits[1])]

    def _send(self, j: int, t_us: int, legs: list[tuple[int, int, int]], units: int,
              gap_bps: float) -> None:
        cfg = self.cfg
        reaction, lat_lo, lat_hi = self.delays.draw(np.array([j]), cfg.reaction, cfg.latency,
                                                    cfg.latency)
        submit = t_us + int(reaction[0])
        sent = []
        for (k, usd, limit), lat in zip(legs, (lat_lo, lat_hi)):
            arrival = submit + int((lat_lo if self.bundle else lat)[0])
            tx = int(self.chains[k].txs.add_many(Kind.TRADE, self.account0 + j,
                                                 np.array([submit]), np.array([arrival]),
                                                 usd, limit)[0])
            if self.bundle is None:
                self.chains[k].network.send(np.array([tx]), np.array([arrival]))
            sent.append((k, tx))
        if self.bundle is not None:
            self.bundle(submit + int(lat_lo[0]), sent)
        lo = legs[0][0]
        self.pending[j] = Attempt(t_us, sent, gap_bps,
                                  units * self.chains[lo].protocol.price / PPM / PPM)

    # settling -------------------------------------------------------------------------
    def _settle(self) -> None:
        for j, attempt in enumerate(self.pending):
            if attempt is None:
                continue
            if attempt.unwind is not None:
                self._settle_unwind(j, attempt)
                continue
            legs = attempt.legs
            status = [int(self.chains[k].txs.status[tx]) for k, tx in legs]
            if Status.PENDING in status:
                continue
            ok = [s == Status.OK for s in status]
            included = [self.chains[k].txs.included_us[tx] >= 0 for k, tx in legs]
            row = [attempt.t_us, j, legs[0][0], legs[1][0], attempt.gap_bps, attempt.usd,
                   0, -1, 0.0, 0.0]
            if all(ok):
                row[6] = 0
            elif any(ok):
                row[6] = 1
                k, tx = legs[ok.index(True)]
                row[7] = legs[ok.index(False)][0]
                row[8] = abs(int(self.chains[k].txs.a[tx])) / PPM
                attempt.unwind = (k, tx, self._unwind(j, k, tx, -int(self.chains[k].txs.a[tx]),
                                                      int(self.chains[k].txs.included_us[tx])),
                                  len(self.log.rows))
            else:
                row[6] = 2 if any(included) else 3
            self.log.rows.append(row)
            self.risk.attempt(j, row[6] == 1)
            if attempt.unwind is None:
                self._done(j)

    def _settle_unwind(self, j: int, attempt: Attempt) -> None:
        """A naked leg's unwind: booked once it executed, sent again if it failed."""
        k, leg, unwind, row = attempt.unwind
        txs = self.chains[k].txs
        status = int(txs.status[unwind])
        if status == Status.PENDING:
            return
        if status == Status.FAILED:
            seen = max(int(txs.included_us[unwind]), int(txs.arrival_us[unwind]))
            attempt.unwind = (k, leg, self._unwind(j, k, leg, int(txs.a[unwind]), seen), row)
            return
        cost = round_trip_cost_usd(txs, leg, unwind, self.chains[k].protocol.fee_ppm)
        self.log.rows[row][9] = cost
        self.risk.unwound(j, self.log.rows[row][8], cost)
        self._done(j)

    def _unwind(self, j: int, k: int, leg: int, usd: int, now: int) -> int:
        """Leg risk: the filled leg alone is a naked position; trade ``usd`` back at market,
        reacting from ``now``. Returns the unwind tx."""
        chain = self.chains[k]
        delay, net = self.delays.draw(np.array([j]), self.cfg.reaction, self.cfg.latency)
        submit = now + int(delay[0])
        arrival = submit + int(net[0])
        ids = chain.txs.add_many(Kind.TRADE, self.account0 + j, np.array([submit]),
                                 np.array([arrival]), usd, 0)
        chain.network.send(ids, np.array([arrival]))
        return int(ids[0])

    def _done(self, j: int) -> None:
        """Attempt over: idle again, unless its losses reached the kill switch."""
        self.pending[j] = None
        value = 0
        for chain in self.chains:
            p, i = chain.protocol, self.account0 + j
            value += p.equity(i) + int(p.ledger.balances[p.wallet[i]])
        if value - self.capital < -self.cfg.max_loss_share * self.capital:
            self.stopped[j] = True

    # results --------------------------------------------------------------------------
    def table(self) -> dict[str, np.ndarray]:
        rows = np.array(self.log.rows, dtype=np.float64).reshape(-1, len(COLUMNS))
        out = {c: rows[:, n] for n, c in enumerate(COLUMNS)}
        out["t_s"] = out.pop("t_us") / 1e6
        for c in ("arbitrageur", "buy_rollup", "sell_rollup", "reverted_rollup"):
            out[c] = out[c].astype(np.int64)
        out["outcome"] = np.asarray(OUTCOMES, dtype=object)[rows[:, 6].astype(np.int64)] \
            if len(rows) else np.empty(0, dtype=object)
        return {"t_s": out.pop("t_s"), **out}
