"""The scenario schema: what a user may write in a scenario TOML file.

Every model forbids unknown keys, so a typo is an error naming the field rather than a
silently ignored setting. Durations are written ``"250ms"``/``"6h"`` and become integer
microseconds; money is written in USD. Defaults come from real systems (see the README's
"Defaults" section and ARCHITECTURE.md).
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      model_validator)

from seqlab.units import parse_duration

# Dumped as "<n>us" so a dumped scenario loads back to the same microseconds.
_as_text = PlainSerializer(lambda us: f"{us}us", return_type=str)
Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=0), _as_text]
PositiveDuration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0), _as_text]
Usd = Annotated[float, Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


class Model(BaseModel):
    """Base: unknown keys are errors, models are immutable once loaded."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class Latency(Model):
    """A lognormal delay: ``median`` and log-space ``sigma`` (0 means a fixed delay)."""

    median: Duration = "50ms"
    sigma: Annotated[float, Field(ge=0, le=5)] = 0.5


class Market(Model):
    """Reference price: GBM with Merton jumps, or replay of a historical series."""

    model: Literal["gbm", "replay"] = "gbm"
    initial_price: Annotated[float, Field(gt=0)] = 2500.0
    volatility: Annotated[float, Field(ge=0, le=20)] = 0.8
    drift: float = 0.0
    jump_intensity: Annotated[float, Field(ge=0)] = 0.0
    jump_mean: float = 0.0
    jump_std: Annotated[float, Field(ge=0)] = 0.0
    step: PositiveDuration = "1s"
    series: str | None = None
    start: Duration = "0h"
    venue_depth_usd: Annotated[float, Field(ge=0)] = 200_000_000.0
    arb_half_life: PositiveDuration = "10s"

    @model_validator(mode="after")
    def _replay_needs_series(self) -> "Market":
        if self.model == "replay" and not self.series:
            raise ValueError("market.model = 'replay' needs market.series (a built-in "
                             "series name or a file path)")
        return self


class Oracle(Model):
    """Push feed: ``nodes`` observe the price with noise; the median is posted on-chain
    when it moves more than ``deviation`` or ``heartbeat`` expires (Chainlink-style)."""

    enabled: bool = True
    nodes: Annotated[int, Field(ge=1, le=101)] = 7
    noise_bps: Annotated[float, Field(ge=0)] = 2.0
    poll: PositiveDuration = "1s"
    deviation: Annotated[float, Field(ge=0, le=1)] = 0.005
    heartbeat: PositiveDuration = "1h"
    latency: Latency = Latency(median="30ms", sigma=0.3)


class Strategy(Model):
    """What an extractive operator does with its power (used by the ``extractive`` designs).

    Switches are composable; ``extractive`` with every switch off turns all of them on.
    """

    operator: bool = True  # the constrained designs host an extractive operator
    backrun: bool = False
    censor: bool = False
    stale_oracle: bool = False
    sandwich: bool = False
    capital_usd: Annotated[float, Field(gt=0)] = 1_000_000.0
    max_censor_delay: Duration = "10min"
    censor_trigger: Annotated[float, Field(ge=1)] = 1.5
    oracle_delay: Duration = "0s"
    stale_min_move: Annotated[float, Field(ge=0, le=1)] = 0.002
    stale_trade_usd: Annotated[float, Field(gt=0)] = 500_000.0
    stale_option_usd: Annotated[float, Field(ge=0)] = 50_000.0
    sandwich_min_usd: Annotated[float, Field(ge=0)] = 50_000.0
    sandwich_size_usd: Annotated[float, Field(gt=0)] = 500_000.0

    def enabled(self) -> tuple[str, ...]:
        """Names of the strategies switched on."""
        return tuple(n for n in ("backrun", "censor", "stale_oracle", "sandwich")
                     if getattr(self, n))


class Fair(Model):
    """Aequitas-style batch-order fairness over a committee of ``nodes``."""

    nodes: Annotated[int, Field(ge=1, le=64)] = 7
    faulty: Annotated[int, Field(ge=0)] = 1
    gamma: Annotated[float, Field(gt=0.5, le=1)] = 0.9
    node_latency: Latency = Latency(median="15ms", sigma=0.5)
    fault_delay: Duration = "100ms"

    @model_validator(mode="after")
    def _aequitas_bound(self) -> "Fair":
        if self.nodes <= 4 * self.faulty / (2 * self.gamma - 1):
            raise ValueError(f"Aequitas needs nodes > 4·faulty/(2·gamma − 1) "
                             f"= {4 * self.faulty / (2 * self.gamma - 1):.2f}")
        return self


class Encrypted(Model):
    """Threshold-encrypted mempool (Shutter-style): ``threshold`` of ``keypers`` release
    the key after the order is committed."""

    keypers: Annotated[int, Field(ge=1, le=64)] = 7
    threshold: Annotated[int, Field(ge=1)] = 4
    key_latency: Latency = Latency(median="500ms", sigma=0.5)

    @model_validator(mode="after")
    def _threshold_fits(self) -> "Encrypted":
        if self.threshold > self.keypers:
            raise ValueError("threshold must not exceed keypers")
        return self


class BatchAuction(Model):
    """Frequent batch auctions: orders collected over ``interval`` clear at one price."""

    interval: PositiveDuration = "1s"


class Timeboost(Model):
    """Arbitrum Timeboost express lane."""

    round: PositiveDuration = "60s"
    auction_closing: PositiveDuration = "15s"
    reserve_usd: Annotated[float, Field(ge=0)] = 100.0
    delay: Duration = "200ms"
    searchers: Annotated[int, Field(ge=1, le=50)] = 3
    valuation_noise: Annotated[float, Field(ge=0, le=3)] = 0.3
    prior_round_value_usd: Annotated[float, Field(ge=0)] = 200.0
    stale_min_move: Annotated[float, Field(ge=0, le=1)] = 0.002

    @model_validator(mode="after")
    def _closing_inside_round(self) -> "Timeboost":
        if self.auction_closing >= self.round:
            raise ValueError("auction_closing must be shorter than round")
        return self


class Partition(Model):
    """During ``[start, end)`` messages between different ``groups`` are lost."""

    start: Duration
    end: Duration
    groups: list[list[Annotated[int, Field(ge=0)]]]


class Committee(Model):
    """A BFT committee of sequencer nodes (Tendermint/HotStuff family)."""

    nodes: Annotated[int, Field(ge=1, le=1024)] = 4
    regions: list[str] = ["us-east", "us-west", "eu-west", "ap-northeast", "sa-east"]
    jitter_sigma: Annotated[float, Field(ge=0, le=3)] = 0.2
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0
    timeout: PositiveDuration = "1s"
    list_interval: PositiveDuration = "250ms"
    list_age: Duration = "250ms"
    ordering: Literal["deterministic", "leader"] = "deterministic"
    crashed: Annotated[int, Field(ge=0)] = 0
    crash_at: Duration = "0s"
    byzantine: Annotated[int, Field(ge=0)] = 0
    byzantine_vote_delay: Duration = "0s"
    tx_bytes: Annotated[int, Field(ge=1)] = 250
    bandwidth_mbps: Annotated[float, Field(gt=0)] = 1000.0
    partitions: list[Partition] = []

    @model_validator(mode="after")
    def _counts_fit(self) -> "Committee":
        from seqlab.consensus import REGIONS

        if self.crashed + self.byzantine > self.nodes:
            raise ValueError("crashed + byzantine must not exceed nodes")
        unknown = [r for r in self.regions if r not in REGIONS]
        if unknown or not self.regions:
            raise ValueError(f"unknown regions {unknown} (allowed: {', '.join(REGIONS)})")
        for part in self.partitions:
            if any(i >= self.nodes for g in part.groups for i in g):
                raise ValueError("partition groups name nodes beyond committee.nodes")
        return self


class Builders(Model):
    """Proposer-builder separation: ``count`` builders bid for each block."""

    count: Annotated[int, Field(ge=1, le=64)] = 3
    latency: list[Latency] = []
    private_share: Share = 0.0


class Outage(Model):
    """The sequencer produces no blocks during ``[start, start + duration)``."""

    start: Duration
    duration: PositiveDuration


class BatchPoster(Model):
    """Posting batches to L1 (Arbitrum-style): sealed by size or by delay."""

    max_batch_bytes: Annotated[int, Field(ge=1)] = 100_000
    max_delay: PositiveDuration = "1h"
    poll: PositiveDuration = "10s"
    tx_bytes: Annotated[int, Field(ge=1)] = 150
    finality: Duration = "13min"
    gas_per_byte: Annotated[float, Field(ge=0)] = 16.0
    gas_price_gwei: Annotated[float, Field(ge=0)] = 20.0
    gas_series: str | None = None
    gas_percentile: Literal["30", "60", "90", "avg"] = "60"


class Sequencer(Model):
    """The sequencer design and its block production."""

    design: str = "fcfs"
    block_time: PositiveDuration = "250ms"
    max_txs_per_block: Annotated[int, Field(ge=0)] = 0
    feed_latency: Latency = Latency(median="10ms", sigma=0.3)
    strategy: Strategy = Strategy()
    outages: list[Outage] = []
    force_inclusion_window: Duration = "24h"
    batch_poster: BatchPoster = BatchPoster()
    l1_block_time: PositiveDuration = "12s"
    outage_rate_per_day: Annotated[float, Field(ge=0, le=100)] = 0.0
    fair: Fair = Fair()
    encrypted: Encrypted = Encrypted()
    batch_auction: BatchAuction = BatchAuction()
    timeboost: Timeboost = Timeboost()
    committee: Committee = Committee()
    builders: Builders = Builders()


class Dutch(Model):
    """MakerDAO Liquidations 2.0 (Clipper) parameters for ``liquidation = "dutch"``."""

    curve: Literal["linear", "stairstep", "exponential"] = "stairstep"
    buf: Annotated[float, Field(ge=1, le=2)] = 1.05
    tau: PositiveDuration = "10min"
    cut: Annotated[float, Field(gt=0, le=1)] = 0.99
    step: PositiveDuration = "10s"
    tail: PositiveDuration = "30min"
    cusp: Annotated[float, Field(ge=0, lt=1)] = 0.6
    tip_usd: Usd = 10.0
    chip: Annotated[float, Field(ge=0, le=0.1)] = 0.001


class Perps(Model):
    """A perpetual futures market priced by the on-chain oracle, with a pool as counterparty."""

    liquidation: Literal["fixed", "dutch", "partial"] = "fixed"
    dutch: Dutch = Dutch()
    partial_cap: Annotated[float, Field(gt=0, le=1)] = 0.1
    liquidation_fee: Annotated[float, Field(ge=0, le=0.1)] = 0.015

    taker_fee_bps: Annotated[float, Field(ge=0, le=1000)] = 5.0
    initial_margin: Annotated[float, Field(gt=0, le=1)] = 0.05
    maintenance_margin: Annotated[float, Field(gt=0, le=1)] = 0.03
    liquidation_bonus: Annotated[float, Field(ge=0, le=0.5)] = 0.05
    close_factor: Annotated[float, Field(gt=0, le=1)] = 0.5
    funding_interval: PositiveDuration = "1h"
    funding_rate_cap: Annotated[float, Field(ge=0, le=0.1)] = 0.0005
    insurance_fund_usd: Usd = 1_000_000.0
    pool_usd: Usd = 100_000_000.0
    skew_scale: Annotated[float, Field(ge=0)] = 0.0
    grace_period: Duration = "0s"

    @model_validator(mode="after")
    def _margins_ordered(self) -> "Perps":
        if self.maintenance_margin >= self.initial_margin:
            raise ValueError("maintenance_margin must be below initial_margin")
        return self


class Positions(Model):
    """The benchmark protocol: each tx adds a signed quantity to a position, pays a fee."""

    fee_usd: Usd = 0.01
    max_qty: Annotated[int, Field(ge=1)] = 10


class Options(Model):
    """European options cash-settled from the oracle; writers margined Aevo-style."""

    enabled: bool = False
    expiries: list[PositiveDuration] = ["1h", "2h", "3h"]
    moneyness: list[Annotated[float, Field(gt=0)]] = [0.9, 0.95, 1.0, 1.05, 1.1]
    vol: Annotated[float, Field(gt=0, le=10)] = 0.8
    writers: Annotated[int, Field(ge=1, le=100_000)] = 100
    buyers: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    writer_collateral_usd: Annotated[float, Field(gt=0)] = 100_000.0
    writer_wallet_usd: Annotated[float, Field(ge=0)] | None = None
    buyer_wallet_usd: Annotated[float, Field(gt=0)] = 20_000.0
    buy_rate_per_s: Annotated[float, Field(gt=0)] = 0.5
    qty_median: Annotated[float, Field(gt=0)] = 1.0
    im_base: Share = 0.15
    im_min: Share = 0.10
    mm_base: Share = 0.075
    mm_min: Share = 0.05
    liquidation: Literal["fixed", "dutch"] = "fixed"
    liquidation_bonus: Annotated[float, Field(ge=0, le=0.5)] = 0.01
    pool_usd: Usd = 10_000_000.0

    @model_validator(mode="after")
    def _margins_ordered(self) -> "Options":
        if self.mm_base > self.im_base or self.mm_min > self.im_min:
            raise ValueError("maintenance rates must not exceed initial rates")
        return self


class Protocol(Model):
    kind: Literal["perps", "positions"] = "perps"
    options: Options = Options()
    perps: Perps = Perps()
    positions: Positions = Positions()


class Traders(Model):
    """Noise traders: Poisson order flow over ``accounts`` with a leverage distribution."""

    accounts: Annotated[int, Field(ge=1, le=10_000_000)] = 1000
    rate_per_s: Annotated[float, Field(gt=0)] = 10.0
    max_txs: Annotated[int, Field(ge=1)] | None = None
    collateral_median_usd: Annotated[float, Field(gt=0)] = 5000.0
    collateral_sigma: Annotated[float, Field(ge=0, le=5)] = 1.0
    wallet_multiple: Annotated[float, Field(ge=0)] = 1.0
    leverage: list[Annotated[float, Field(gt=0)]] = [2.0, 5.0, 10.0, 15.0]
    leverage_weights: list[Annotated[float, Field(ge=0)]] = [0.35, 0.3, 0.2, 0.15]
    trade_fraction: tuple[Share, Share] = (0.2, 0.6)
    close_probability: Share = 0.1
    reduce_probability: Share = 0.15
    latency: Latency = Latency(median="80ms", sigma=0.5)
    tip_usd: Annotated[float, Field(ge=0)] = 0.01
    tip_sigma: Annotated[float, Field(ge=0, le=5)] = 1.0

    @model_validator(mode="after")
    def _weights_match(self) -> "Traders":
        if len(self.leverage) != len(self.leverage_weights) or sum(self.leverage_weights) <= 0:
            raise ValueError("leverage and leverage_weights must have the same length and "
                             "positive total weight")
        if self.trade_fraction[0] > self.trade_fraction[1]:
            raise ValueError("trade_fraction must be (low, high) with low <= high")
        return self


class MarginManagers(Model):
    """Owners who top up margin when the margin ratio nears maintenance."""

    share: Share = 0.5
    trigger: Annotated[float, Field(ge=1)] = 1.5
    target: Annotated[float, Field(ge=1)] = 3.0
    reaction: Latency = Latency(median="20s", sigma=0.8)
    latency: Latency = Latency(median="80ms", sigma=0.5)
    tip_usd: Annotated[float, Field(ge=0)] = 0.05


class Liquidator(Model):
    """A liquidation bot: how fast it sees the feed and how fast its txs reach the sequencer."""

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    feed_latency: Latency = Latency(median="20ms", sigma=0.3)
    latency: Latency = Latency(median="40ms", sigma=0.3)
    tip_share: Share = 0.1
    min_discount: Annotated[float, Field(ge=0, le=0.5)] = 0.01


def _default_liquidators() -> list[Liquidator]:
    return [
        Liquidator(name="colocated", feed_latency=Latency(median="5ms", sigma=0.2),
                   latency=Latency(median="10ms", sigma=0.2)),
        Liquidator(name="cloud", feed_latency=Latency(median="20ms", sigma=0.3),
                   latency=Latency(median="40ms", sigma=0.3)),
        Liquidator(name="remote", feed_latency=Latency(median="60ms", sigma=0.4),
                   latency=Latency(median="120ms", sigma=0.4)),
    ]


class Arbitrageurs(Model):
    """Traders who close price gaps between the rollups' perp markets (several rollups).

    Each watches every rollup's feed; when the cheapest and dearest market differ by more
    than ``min_gap_bps`` beyond the two taker fees it buys the one and sells the other,
    sized to close the gap (at most ``max_trade_usd``), with a limit ``slippage_bps`` past
    the quote. Under a shared sequencer both legs go in one atomic bundle; under isolated
    sequencers each leg goes to its own sequencer and may fail alone (then it unwinds).
    """

    count: Annotated[int, Field(ge=0, le=64)] = 0
    capital_usd: Annotated[float, Field(gt=0)] = 1_000_000.0
    min_gap_bps: Annotated[float, Field(ge=0)] = 5.0
    max_trade_usd: Annotated[float, Field(gt=0)] = 250_000.0
    slippage_bps: Annotated[float, Field(ge=0)] = 5.0
    reaction: Latency = Latency(median="50ms", sigma=0.3)
    latency: Latency = Latency(median="40ms", sigma=0.3)


class Agents(Model):
    traders: Traders = Traders()
    margin_managers: MarginManagers = MarginManagers()
    liquidators: list[Liquidator] = Field(default_factory=_default_liquidators)
    arbitrageurs: Arbitrageurs = Arbitrageurs()

    @model_validator(mode="after")
    def _unique_names(self) -> "Agents":
        names = [liq.name for liq in self.liquidators]
        if len(set(names)) != len(names):
            raise ValueError("liquidator names must be unique")
        return self


class Rollups(Model):
    """Several rollups in one world: each its own perps market, users and oracle nodes on
    the one reference market; ``isolated`` gives each its own sequencer (its own
    outages), ``shared`` one sequencer orders every rollup's blocks in one round (one
    outage halts all; cross-rollup bundles are atomic)."""

    count: Annotated[int, Field(ge=1, le=8)] = 1
    sequencing: Literal["isolated", "shared"] = "isolated"
    designs: list[str] = []
    restart_window: PositiveDuration = "1h"

    @model_validator(mode="after")
    def _designs_fit(self) -> "Rollups":
        if self.designs and len(self.designs) != self.count:
            raise ValueError(f"rollups.designs needs one design per rollup ({self.count})")
        if self.designs and self.sequencing == "shared":
            raise ValueError("rollups.designs is for isolated sequencing (a shared sequencer "
                             "is one design: [sequencer] design)")
        return self


class Sweep(Model):
    """Defaults for ``seqlab sweep``: parameter values by dotted key, designs, seeds."""

    params: dict[str, list[str | int | float | bool]] = {}
    designs: list[str] = []
    seeds: Annotated[int, Field(ge=1)] = 1


class Scenario(Model):
    """A whole world: market, oracle, sequencer, protocol and agents, run for ``duration``."""

    name: str = "unnamed"
    description: str = ""
    seed: int = 1
    duration: PositiveDuration = "1h"
    market: Market = Market()
    oracle: Oracle = Oracle()
    sequencer: Sequencer = Sequencer()
    protocol: Protocol = Protocol()
    agents: Agents = Agents()
    rollups: Rollups = Rollups()
    sweep: Sweep = Sweep()

    @model_validator(mode="after")
    def _rollups_fit(self) -> "Scenario":
        if self.rollups.count > 1 and self.protocol.kind != "perps":
            raise ValueError("rollups.count > 1 needs protocol.kind = 'perps'")
        if self.agents.arbitrageurs.count and self.rollups.count < 2:
            raise ValueError("agents.arbitrageurs needs rollups.count >= 2 (they trade "
                             "between rollups)")
        return self
