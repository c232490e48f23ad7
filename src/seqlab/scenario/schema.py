"""The scenario schema: what a user may write in a scenario TOML file.

Every model forbids unknown keys, so a typo is an error naming the field rather than a
silently ignored setting. Durations are written ``"250ms"``/``"6h"`` and become integer
microseconds; money is written in USD. Defaults come from real systems (see the README's
"Defaults" section and ARCHITECTURE.md).
"""
from __future__ import annotations

from typing import Annotated, Any, Callable, Literal, Mapping

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field,
                      PlainSerializer, model_serializer, model_validator)

from seqlab.scenario.offers import SERVICE_OFFERS
from seqlab.scenario.presets import PERPS_PRESETS
from seqlab.units import DAY, MINUTE, S, format_duration, parse_duration

# Upper bounds. Every number a user writes is finite and bounded, so a scenario that
# validates can also run: no overflow in the integer ledger, no allocation beyond memory.
MAX_SETTING_US = 365 * DAY     # any one duration setting
MAX_RUN_US = 30 * DAY          # a run's ``duration``
MAX_TXS = 50_000_000           # expected transactions of one run
MAX_TICKS = 20_000_000         # market steps, blocks, polls… in one run
MAX_POOL_USD = 1e11            # a pool, fund or operator's capital
MAX_ACCOUNT_USD = 1e8          # one account's collateral, wallet or trade
MAX_SEED = 2 ** 32 - 1
LEDGER_WHY = "the ledger counts integer micro-USD in 64 bits (at most about 9.2e12 USD)"


def at_most(limit: float, why: str, show: Callable[[float], str] = "{:,g}".format
            ) -> AfterValidator:
    """An upper bound whose error message says why it is there."""
    def check(value: Any) -> Any:
        if value > limit:
            raise ValueError(f"must be at most {show(limit)}: {why}")
        return value
    return AfterValidator(check)


def _duration_at_most(limit_us: int, why: str) -> AfterValidator:
    return at_most(limit_us, why, format_duration)


_setting_cap = _duration_at_most(MAX_SETTING_US, "longer settings describe no real system "
                                 "and only slow or overflow a run")
# Dumped as "<n>us" so a dumped scenario loads back to the same microseconds.
_as_text = PlainSerializer(lambda us: f"{us}us", return_type=str)
Duration = Annotated[int, BeforeValidator(parse_duration), Field(ge=0), _setting_cap, _as_text]
PositiveDuration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0), _setting_cap,
                             _as_text]
RunDuration = Annotated[int, BeforeValidator(parse_duration), Field(gt=0),
                        _duration_at_most(MAX_RUN_US, "memory and time grow with the run's "
                                          "length; split longer studies into several runs"),
                        _as_text]
Usd = Annotated[float, Field(ge=0), at_most(MAX_POOL_USD, LEDGER_WHY)]
PositiveUsd = Annotated[float, Field(gt=0), at_most(MAX_POOL_USD, LEDGER_WHY)]
AccountUsd = Annotated[float, Field(ge=0), at_most(MAX_ACCOUNT_USD, "one account's money; "
                       "many such accounts must fit " + LEDGER_WHY)]
PositiveAccountUsd = Annotated[float, Field(gt=0), at_most(MAX_ACCOUNT_USD, "one account's "
                               "money; many such accounts must fit " + LEDGER_WHY)]
Bps = Annotated[float, Field(ge=0), at_most(10_000, "10,000 bps is 100 %")]
Multiple = Annotated[float, Field(ge=1), at_most(1_000, "a ratio beyond 1000x describes no "
                     "real margin policy")]
Bytes = Annotated[int, Field(ge=1), at_most(100_000_000, "100 MB; sizes are per tx or batch")]
Share = Annotated[float, Field(ge=0, le=1)]


def _folder_name(name: str) -> str:
    """A scenario's name names its run folder (``runs/<name>-…``): keep it one safe name."""
    if not name or len(name) > 100 or name.strip() != name:
        raise ValueError("must be 1 to 100 characters without surrounding spaces")
    if any(c in name for c in "/\\:") or ".." in name or name.startswith("."):
        raise ValueError("must be usable as a folder name: no '/', '\\', ':', '..' or "
                         "leading '.'")
    if not name.isprintable():
        raise ValueError("must not contain control characters")
    return name


# The operator strategies, by name: the one list (a flag each in ``[sequencer.strategy]``).
STRATEGIES = ("backrun", "censor", "stale_oracle", "sandwich")

def _under_named(table: Mapping[str, Mapping[str, Any]], key: str, data: Any) -> Any:
    """``data`` (a table as written) over the values of the entry its ``key`` names (a
    preset, an offer): a key written beside the name wins."""
    if isinstance(data, dict) and data.get(key) in table:
        return {**table[data[key]], **data}
    return data


class Model(BaseModel):
    """Base: unknown keys are errors, models are immutable once loaded, and every float
    is finite (``nan``/``inf`` are errors, never silently carried into a run)."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True,
                              allow_inf_nan=False)


class Latency(Model):
    """A lognormal delay: ``median`` and log-space ``sigma`` (0 means a fixed delay)."""

    median: Duration = "50ms"
    sigma: Annotated[float, Field(ge=0, le=5)] = 0.5


class Market(Model):
    """Reference price: GBM with Merton jumps, or replay of a historical series."""

    model: Literal["gbm", "replay"] = "gbm"
    initial_price: Annotated[float, Field(gt=0), at_most(1e7, "prices are USD per unit and "
                             "positions are priced in integer micro-USD")] = 2500.0
    volatility: Annotated[float, Field(ge=0, le=20)] = 0.8
    drift: Annotated[float, Field(ge=-10, le=10)] = 0.0
    jump_intensity: Annotated[float, Field(ge=0), at_most(100_000, "jumps per day; more is "
                              "no longer a jump process")] = 0.0
    jump_mean: Annotated[float, Field(ge=-5, le=5)] = 0.0
    jump_std: Annotated[float, Field(ge=0, le=5)] = 0.0
    step: PositiveDuration = "1s"
    series: str | None = None
    start: Duration = "0h"
    venue_depth_usd: Usd = 200_000_000.0
    arb_half_life: PositiveDuration = "10s"

    @model_validator(mode="after")
    def _replay_needs_series(self) -> "Market":
        if self.model == "replay" and not self.series:
            raise ValueError("market.model = 'replay' needs market.series (a built-in "
                             "series name or a file path)")
        if self.model == "gbm" and self.series:
            raise ValueError("market.series is only read when market.model = 'replay' "
                             "(remove it, or set model = 'replay')")
        return self


class Collusion(Model):
    """``nodes`` of the feed's nodes report a chosen price instead of what they observe,
    from ``start`` for ``duration`` (0: to the end): ``offset`` reports the reference
    moved by ``offset_bps``; ``frozen`` keeps reporting the reference at ``start``."""

    nodes: Annotated[int, Field(ge=0, le=101)] = 0
    price: Literal["offset", "frozen"] = "offset"
    offset_bps: Annotated[float, Field(ge=-5_000, le=5_000)] = -300.0
    start: Duration = "0s"
    duration: Duration = "0s"


class Recapture(Model):
    """Oracle-value recapture (Chainlink SVR, UMA Oval): the right to backrun each update
    is auctioned among the outside liquidators; the winner's liquidations run right after
    the update, and it pays a bid of at most ``bid_share`` of their value net of its gas;
    ``protocol_share`` of the bid goes to the protocol's ``to`` account, the rest to the
    oracle network. ``bundle``: ``atomic`` (SVR on Arbitrum and Base through Atlas: the
    update and the winner's liquidations are one transaction) or ``separate`` (SVR on
    Ethereum through MEV-Share: a bundle of transactions that only a block producer
    honouring it keeps together). ``fallback_delay``: a push feed's update whose bundle
    is withheld is stored from the standard feed's copy this long after that copy lands
    (Chainlink's DualAggregator ``cutoffTime``, UMA Oval's ``lockWindow``; 0: never)."""

    enabled: bool = False
    bid_share: Share = 0.99
    protocol_share: Share = 0.65
    to: Literal["insurance", "pool"] = "insurance"
    bundle: Literal["atomic", "separate"] = "atomic"
    fallback_delay: Annotated[int, BeforeValidator(parse_duration), Field(ge=0),
                              _duration_at_most(DAY, "the standard feed's longest heartbeat "
                                                "(24 h) bounds staleness anyway"),
                              _as_text] = "60s"


class Oracle(Model):
    """``push`` (Chainlink-style): ``nodes`` observe the price with noise; the median is
    posted on-chain when it moves more than ``deviation`` or ``heartbeat`` expires.
    ``pull`` (Pyth-style): the median is signed off-chain every ``publish_interval`` and
    reaches the chain only inside users' orders; the protocol refuses a trade priced by
    a publication older than ``max_age`` (and, with ``max_age_liquidations``, a
    liquidation too). ``collusion``: some nodes report a chosen
    price; ``firewalled``: the nodes report on a path the sequencer cannot read ahead;
    ``recapture``: the backrun is auctioned. The push defaults are Chainlink's ETH/USD
    feed on Arbitrum One (0.05 %, 24 h), the rollup the built-in scenarios model; on
    Ethereum the same feed posts at 0.5 % and at least hourly."""

    enabled: bool = True
    kind: str = "push"  # a registered oracle kind (seqlab.oracle), checked on loading
    publish_interval: PositiveDuration = "400ms"
    max_age: PositiveDuration = "60s"
    nodes: Annotated[int, Field(ge=1, le=101)] = 7
    noise_bps: Bps = 2.0
    poll: PositiveDuration = "1s"
    deviation: Annotated[float, Field(ge=0, le=1)] = 0.0005
    heartbeat: PositiveDuration = "24h"
    latency: Latency = Latency(median="30ms", sigma=0.3)
    tip_usd: AccountUsd = 0.05
    collusion: Collusion = Collusion()
    firewalled: bool = False
    recapture: Recapture = Recapture()
    max_age_liquidations: bool = False  # the kind is asked on loading (seqlab.oracle)

    @model_validator(mode="after")
    def _colluders_fit(self) -> "Oracle":
        if self.collusion.nodes > self.nodes:
            raise ValueError(f"oracle.collusion.nodes = {self.collusion.nodes} must be at "
                             f"most oracle.nodes = {self.nodes}: colluders are among the "
                             "feed's nodes")
        return self


class Strategy(Model):
    """What an extractive operator does with its power (used by the ``extractive`` designs).

    Switches are composable; ``extractive`` with every switch off turns all of them on.
    """

    operator: bool = True  # the constrained designs host an extractive operator
    backrun: bool = False
    censor: bool = False
    stale_oracle: bool = False
    sandwich: bool = False
    capital_usd: PositiveUsd = 1_000_000.0
    max_censor_delay: Duration = "10min"
    censor_trigger: Multiple = 1.5
    hold_takes: bool = False  # censor also holds competing Dutch-auction takes
    oracle_delay: Duration = "0s"
    stale_min_move: Annotated[float, Field(ge=0, le=1)] = 0.002
    stale_trade_usd: Usd = 0.0  # 0: no limit of its own; the market sizes the trade
    stale_option_usd: Usd = 50_000.0
    sandwich_min_usd: Usd = 50_000.0
    sandwich_size_usd: PositiveUsd = 500_000.0

    def enabled(self) -> tuple[str, ...]:
        """Names of the strategies switched on."""
        return tuple(n for n in STRATEGIES if getattr(self, n))


class Outage(Model):
    """The sequencer produces no blocks during ``[start, start + duration)``."""

    start: Duration
    duration: PositiveDuration


class BatchPoster(Model):
    """Posting batches to L1 (Arbitrum-style): sealed by size or by delay."""

    max_batch_bytes: Bytes = 100_000
    max_delay: PositiveDuration = "1h"
    poll: PositiveDuration = "10s"
    tx_bytes: Bytes = 150
    finality: Duration = "13min"
    gas_per_byte: Annotated[float, Field(ge=0), at_most(1e6, "L1 calldata costs 16 gas a byte")] = 16.0
    gas_price_gwei: Annotated[float, Field(ge=0), at_most(1e6, "a million gwei is 1000x any L1 gas spike")] = 20.0
    gas_series: str | None = None
    gas_percentile: Literal["30", "60", "90", "avg"] = "60"


class Sequencer(Model):
    """The sequencer design and its block production."""

    # The settings every design shares. A design with settings of its own owns their
    # model, beside its module; registering it adds them as one more field, its
    # [sequencer.<key>] table (scenario/sections.py).

    design: str = "fcfs"
    block_time: PositiveDuration = "250ms"
    max_txs_per_block: Annotated[int, Field(ge=0), at_most(MAX_TXS, "no run has more transactions")] = 0
    feed_latency: Latency = Latency(median="10ms", sigma=0.3)
    strategy: Strategy = Strategy()
    outages: list[Outage] = []
    force_inclusion_window: Duration = "24h"
    inbox_delay: Duration = "8min"
    batch_poster: BatchPoster = BatchPoster()
    l1_block_time: PositiveDuration = "12s"
    outage_rate_per_day: Annotated[float, Field(ge=0, le=100)] = 0.0
    # what reaches the sequencer while it is down (its own outages, or a sequencing
    # market's services'): "reject" fails it, as Nitro's and the OP Stack's sequencers
    # do, and senders act again after the restart; "queue" keeps it for the restart
    while_down: Literal["reject", "queue"] = "reject"


class Rollup(Model):
    """How the rollup settles on L1: ``proof = "none"`` is an optimistic rollup (a batch
    is final on L1 ``finality`` after it lands; withdrawals wait ``challenge_period``);
    ``"zk"`` waits for a validity proof from a prover network (each attempt takes a
    lognormal ``proof_time`` and fails with ``proof_failure``, then is retried)."""

    proof: Literal["none", "zk"] = "none"
    proof_time: Latency = Latency(median="45min", sigma=0.1)
    proof_failure: Annotated[float, Field(ge=0, le=0.9)] = 0.0
    challenge_period: Duration = "7d"


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
    # keepers' gas: off, takes and resets are free and land at once; on, each keeper
    # transaction pays ``keeper_gas`` at the day's L1 gas price (the batch poster's
    # series) and a keeper with a fixed ``gas_price_gwei`` waits for inclusion
    congestion: bool = False
    keeper_gas: Annotated[int, Field(ge=0), at_most(30_000_000, "an Ethereum block's gas "
                          "limit")] = 300_000


class Perps(Model):
    """A perpetual futures market priced by the on-chain oracle, with a pool as counterparty.

    The defaults are dYdX v4's ETH-USD numbers (``preset = "dydx-v4"``): a liquidator's
    reward (the fillable-price discount, at most ``fillable_spread`` of the maintenance
    margin) plus the insurance fee stays below the maintenance margin, so a liquidated
    account keeps what it has left instead of being wiped in one block.
    """

    preset: Literal["aave-v3", "dydx-v4", "gmx-v2", "synthetix-v2"] | None = None
    liquidation: Literal["fixed", "dutch", "partial", "fillable", "keeper_fee"] = "fillable"
    dutch: Dutch = Dutch()
    partial_cap: Annotated[float, Field(gt=0, le=1)] = 0.1
    liquidation_fee: Annotated[float, Field(ge=0, le=0.1)] = 0.015
    full_close_health: Share = 0.95
    fillable_spread: Annotated[float, Field(ge=0, le=1)] = 0.1
    bankruptcy_adjustment: Annotated[float, Field(ge=0, le=10)] = 1.0
    keeper_fee_ratio: Annotated[float, Field(ge=0, le=0.1)] = 0.0
    min_keeper_fee_usd: AccountUsd = 0.0
    max_keeper_fee_usd: AccountUsd = 0.0
    liquidation_remainder: Literal["account", "pool"] = "account"

    taker_fee_bps: Annotated[float, Field(ge=0, le=1000)] = 5.0
    fee_to_pool_share: Share = 0.0
    bad_debt: Literal["insurance_then_pool", "pool", "insurance_then_deleverage"] = \
        "insurance_then_pool"
    initial_margin: Annotated[float, Field(gt=0, le=1)] = 0.05
    maintenance_margin: Annotated[float, Field(gt=0, le=1)] = 0.03
    liquidation_bonus: Annotated[float, Field(ge=0, le=0.5)] = 0.0
    close_factor: Annotated[float, Field(gt=0, le=1)] = 0.5
    funding_interval: PositiveDuration = "1h"
    funding_rate_cap: Annotated[float, Field(ge=0, le=0.1)] = 0.0005
    insurance_fund_usd: Usd = 1_000_000.0
    pool_usd: Usd = 100_000_000.0
    skew_scale: Usd = 0.0
    grace_period: Duration = "0s"
    max_open_interest_usd: Usd = 0.0
    order_execution: Literal["immediate", "delayed"] = "immediate"
    min_delay: Duration = "2s"
    max_delay: PositiveDuration = "60s"
    settlement_keeper_fee_usd: AccountUsd = 0.0

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        """A preset's numbers under whatever the user wrote (an unknown name is left to
        the ``preset`` field's own check, which lists the allowed names)."""
        return _under_named(PERPS_PRESETS, "preset", data)

    @model_serializer(mode="wrap")
    def _dump_without_preset_values(self, handler: Any) -> dict[str, Any]:
        """A dump leaves out the values its preset supplies (they come back on load), so
        changing only ``preset`` in a dumped scenario — a sweep or compare override —
        switches every number the preset sets, not just the name."""
        data = handler(self)
        for key, value in PERPS_PRESETS.get(self.preset or "", {}).items():
            if getattr(self, key) == value:
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _margins_ordered(self) -> "Perps":
        if self.maintenance_margin >= self.initial_margin:
            raise ValueError("maintenance_margin must be below initial_margin")
        if self.min_delay >= self.max_delay:
            raise ValueError(f"min_delay ({format_duration(self.min_delay)}) must be below "
                             f"max_delay ({format_duration(self.max_delay)}): a delayed "
                             "order must have a window in which it can settle")
        return self

    @model_validator(mode="after")
    def _take_below_maintenance(self) -> "Perps":
        """What one liquidation may take must be less than the maintenance margin: at or
        above it, the first liquidation of an account that just crossed maintenance takes
        all its equity, and the close factor or per-block cap protects nothing."""
        if self.min_keeper_fee_usd > self.max_keeper_fee_usd:
            raise ValueError("min_keeper_fee_usd must not exceed max_keeper_fee_usd")
        share, name = liquidator_share(self)
        if name is None:
            return self
        take = share + self.liquidation_fee
        if take >= self.maintenance_margin:
            raise ValueError(
                f"{name} ({share:g}) + liquidation_fee ({self.liquidation_fee:g}) = "
                f"{take:g} must be below maintenance_margin ({self.maintenance_margin:g}): "
                "otherwise one liquidation takes all of an account's equity")
        return self


def liquidator_share(cfg: Perps) -> tuple[float, str | None]:
    """The largest share of closed notional a liquidator is paid under ``cfg``'s mechanism,
    and the setting it comes from (None for Dutch auctions, whose discount the auction
    sets and the account's equity caps)."""
    if cfg.liquidation in ("fixed", "partial"):
        return cfg.liquidation_bonus, "liquidation_bonus"
    if cfg.liquidation == "fillable":
        return cfg.fillable_spread * cfg.maintenance_margin, \
            "fillable_spread × maintenance_margin"
    if cfg.liquidation == "keeper_fee":
        return cfg.keeper_fee_ratio, "keeper_fee_ratio"
    return 0.0, None


class Positions(Model):
    """The benchmark protocol: each tx adds a signed quantity to a position, pays a fee."""

    fee_usd: AccountUsd = 0.01
    max_qty: Annotated[int, Field(ge=1), at_most(1_000_000, "units per tx")] = 10


class Options(Model):
    """European options cash-settled from the oracle; writers margined Aevo-style."""

    enabled: bool = False
    expiries: list[PositiveDuration] = ["1h", "2h", "3h"]
    moneyness: list[Annotated[float, Field(gt=0), at_most(100, "strike / spot")]] = [0.9, 0.95, 1.0, 1.05, 1.1]
    vol: Annotated[float, Field(gt=0, le=10)] = 0.8
    writers: Annotated[int, Field(ge=1, le=100_000)] = 100
    buyers: Annotated[int, Field(ge=1, le=1_000_000)] = 500
    writer_collateral_usd: PositiveAccountUsd = 100_000.0
    writer_wallet_usd: AccountUsd | None = None
    buyer_wallet_usd: PositiveAccountUsd = 20_000.0
    buy_rate_per_s: Annotated[float, Field(gt=0)] = 0.5  # bounded with duration below
    qty_median: Annotated[float, Field(gt=0), at_most(1e6, "units per option trade")] = 1.0
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


class Venue(Model):
    """The live L2 spot venue: a constant-product pool of ``market.venue_depth_usd``
    on the rollup, arbitraged to the reference every ``market.arb_half_life``, where
    liquidated exposure is sold as it is liquidated. ``fee``: the pool's swap fee;
    ``mark_weight``: how far the perps mark moves from the oracle to the venue's price
    (0: the oracle, 1: the venue)."""

    live: bool = False
    fee: Annotated[float, Field(ge=0), at_most(0.1, "a swap fee above 10 % is no AMM "
                   "in use")] = 0.003
    mark_weight: Share = 0.0

    @model_validator(mode="after")
    def _mark_needs_live(self) -> "Venue":
        if self.mark_weight > 0 and not self.live:
            raise ValueError("protocol.venue.mark_weight > 0 needs protocol.venue.live = "
                             "true (the perps market can only mark to a venue that runs)")
        return self


class Protocol(Model):
    kind: str = "perps"  # a registered protocol (seqlab.protocols), checked on loading
    options: Options = Options()
    perps: Perps = Perps()
    positions: Positions = Positions()
    venue: Venue = Venue()

    @model_validator(mode="after")
    def _venue_beside_perps(self) -> "Protocol":
        if self.venue.live and self.kind != "perps":
            raise ValueError("protocol.venue.live needs protocol.kind = 'perps' (the venue "
                             "is where perps liquidations are sold)")
        return self


class Traders(Model):
    """Noise traders: Poisson order flow over ``accounts`` with a leverage distribution."""

    accounts: Annotated[int, Field(ge=1), at_most(1_000_000, "per-account arrays must fit in memory")] = 1000
    rate_per_s: Annotated[float, Field(gt=0)] = 10.0  # bounded with duration below
    max_txs: Annotated[int, Field(ge=1), at_most(MAX_TXS, "memory")] | None = None
    collateral_median_usd: PositiveAccountUsd = 5000.0
    collateral_sigma: Annotated[float, Field(ge=0, le=5)] = 1.0
    wallet_multiple: Annotated[float, Field(ge=0), at_most(1_000, "wallet per unit of collateral")] = 1.0
    leverage: list[Annotated[float, Field(gt=0), at_most(1_000, "no venue offers more")]] = [2.0, 5.0, 10.0, 15.0]
    leverage_weights: list[Annotated[float, Field(ge=0), at_most(1e6, "relative weights")]] = [0.35, 0.3, 0.2, 0.15]
    trade_fraction: tuple[Share, Share] = (0.2, 0.6)
    close_probability: Share = 0.1
    reduce_probability: Share = 0.15
    latency: Latency = Latency(median="80ms", sigma=0.5)
    tip_usd: AccountUsd = 0.01
    tip_sigma: Annotated[float, Field(ge=0, le=5)] = 1.0

    @model_validator(mode="after")
    def _weights_match(self) -> "Traders":
        if len(self.leverage) != len(self.leverage_weights) or sum(self.leverage_weights) <= 0:
            raise ValueError("leverage and leverage_weights must have the same length and "
                             "positive total weight")
        if self.trade_fraction[0] > self.trade_fraction[1]:
            raise ValueError("trade_fraction must be (low, high) with low <= high")
        return self


class Recourse(Model):
    """What an owner does when a top-up has not been included after ``patience``:
    resend it, raise its tip, close the position instead, or send the top-up through the
    delayed inbox on L1; one action each time, drawn with these weights."""

    enabled: bool = True
    patience: Latency = Latency(median="1min", sigma=1.6)
    retry: Share = 0.4
    raise_tip: Share = 0.3
    close: Share = 0.2
    inbox: Share = 0.1
    tip_raise: Annotated[float, Field(ge=1.1), at_most(100, "a replacement paying more "
                         "than 100x the tip describes no wallet")] = 1.1
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 3
    inbox_gas: Annotated[int, Field(ge=21_000), at_most(30_000_000, "an L1 block's gas "
                         "limit")] = 100_000

    @model_validator(mode="after")
    def _some_action(self) -> "Recourse":
        if self.enabled and self.retry + self.raise_tip + self.close + self.inbox <= 0:
            raise ValueError("retry, raise_tip, close and inbox are all 0: give one a "
                             "weight above 0, or set enabled = false")
        return self


class MarginManagers(Model):
    """Owners who top up margin when the margin ratio nears maintenance."""

    share: Share = 0.5
    trigger: Multiple = 1.5
    target: Multiple = 3.0
    reaction: Latency = Latency(median="20s", sigma=0.8)
    latency: Latency = Latency(median="80ms", sigma=0.5)
    tip_usd: AccountUsd = 0.05
    recourse: Recourse = Recourse()


class Liquidator(Model):
    """A liquidation bot: how it watches the chain, how fast it reaches the sequencer,
    when it is online, what an attempt costs it and what it needs to earn.

    ``reactive`` bots act on the state blocks leave behind (streaming the feed, or
    polling every ``poll``); ``speculative`` bots also watch the reference price and the
    oracle's deviation rule and send attempts timed to land just after an expected
    update; ``bidder`` bots do the same but tip just below the update (so priority
    ordering puts them right after it) and, on the feed, bid their whole margin over
    costs as priority fee; a ``protocol`` keeper (the protocol's own, as dYdX v4's
    validators or GMX's keepers) liquidates whatever is liquidatable, paid or not. Every
    attempt that reaches a block pays ``gas_usd``, failed
    or not; a bot whose realised profit falls below ``-max_loss_usd`` stops.
    """

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]
    strategy: Literal["reactive", "speculative", "bidder", "protocol"] = "reactive"
    feed_latency: Latency = Latency(median="20ms", sigma=0.3)
    latency: Latency = Latency(median="40ms", sigma=0.3)
    poll: Duration = "0s"
    uptime: Annotated[float, Field(gt=0, le=1)] = 1.0
    outage: PositiveDuration = "10min"
    capital_usd: Usd = 1_000_000.0
    gas_usd: AccountUsd = 0.02
    min_profit_usd: AccountUsd = 1.0
    max_loss_usd: AccountUsd = 1_000.0
    max_pending: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    aim: Latency = Latency(median="1s", sigma=1.0)
    tip_share: Share = 0.1
    min_discount: Annotated[float, Field(ge=0, le=0.5)] = 0.01
    gas_price_gwei: Annotated[float, Field(gt=0), at_most(1e6, "a million gwei is 1000x "
                              "any L1 gas spike")] | None = None


def _default_liquidators() -> list[Liquidator]:
    """A population, not a few identical bots: two co-located streamers, two cloud
    streamers, three pollers on RPC intervals, one speculator and one bidder (see
    docs/scenarios.md for where each number comes from)."""
    def bot(name: str, feed: str, net: str, sigma: float, **kw: Any) -> Liquidator:
        return Liquidator(name=name, feed_latency=Latency(median=feed, sigma=sigma),
                          latency=Latency(median=net, sigma=sigma), **kw)
    return [
        bot("colocated-a", "5ms", "10ms", 0.5, uptime=0.9, outage="20min", max_pending=20,
            min_profit_usd=100.0),
        bot("colocated-b", "5ms", "15ms", 0.5, uptime=0.9, outage="30min", max_pending=20,
            min_profit_usd=100.0),
        bot("cloud-a", "30ms", "60ms", 0.8, uptime=0.85, outage="20min", max_pending=10,
            min_profit_usd=40.0),
        bot("cloud-b", "40ms", "80ms", 0.8, uptime=0.85, outage="30min", max_pending=10,
            min_profit_usd=40.0),
        bot("poller-1s", "100ms", "100ms", 0.8, poll="1s", uptime=0.95, max_pending=2,
            min_profit_usd=10.0),
        bot("poller-3s", "150ms", "150ms", 0.8, poll="3s", uptime=0.95, max_pending=2,
            min_profit_usd=5.0),
        bot("poller-7s", "200ms", "200ms", 0.8, poll="7s", uptime=0.98, max_pending=2,
            min_profit_usd=5.0),
        bot("speculator", "5ms", "20ms", 0.5, strategy="speculative", uptime=0.5,
            outage="1h", max_pending=3, min_profit_usd=500.0, max_loss_usd=200.0),
        bot("bidder", "10ms", "20ms", 0.5, strategy="bidder", uptime=0.5, outage="1h",
            max_pending=3, min_profit_usd=100.0, max_loss_usd=200.0),
    ]


class Arbitrageurs(Model):
    """Traders who close price gaps between the rollups' perp markets (several rollups).

    Each watches every rollup's feed; when the cheapest and dearest market differ by more
    than ``min_gap_bps`` beyond the two taker fees it buys the one and sells the other,
    sized to close the gap (at most ``max_trade_usd``), each leg with a limit at most
    ``slippage_bps`` past its quote and the two limits at least both fees apart, so the
    pair cannot fill at a loss. Under a shared sequencer both legs go in one bundle;
    under isolated sequencers each leg goes to its own sequencer. A leg that fails alone
    leaves a naked position, unwound at market; the expected cost of that, learnt from
    its own attempts, raises the gap it needs, and once its losses reach
    ``max_loss_share`` of its capital it stops (a kill switch).
    """

    count: Annotated[int, Field(ge=0, le=64)] = 0
    capital_usd: PositiveUsd = 1_000_000.0
    min_gap_bps: Bps = 5.0
    max_trade_usd: PositiveUsd = 250_000.0
    slippage_bps: Bps = 5.0
    reaction: Latency = Latency(median="50ms", sigma=0.3)
    latency: Latency = Latency(median="40ms", sigma=0.3)
    max_loss_share: Annotated[float, Field(gt=0.0, le=1.0)] = 0.05


class Hedgers(Model):
    """Users whose perp position offsets an exposure held off the chain (a cash-and-carry
    basis trade: spot held elsewhere, the perp sold against it, as Ethena's backing).

    A ``share`` of the user accounts are hedgers instead of noise traders: each opens a
    perp of ``leverage`` × its collateral (long with probability ``long_share``, else
    short) once the market is priced, holds an off-chain leg of the opposite size from its
    first fill, manages its margin, and re-hedges when a liquidation leaves the perp
    covering less than ``rehedge_below`` of the off-chain leg. Their value counts the
    off-chain leg marked at the reference, so a perp frozen or liquidated while the
    chain is down leaves them exposed until they can trade again.
    """

    share: Share = 0.0
    long_share: Share = 0.0
    leverage: Annotated[float, Field(ge=1), at_most(100, "GMX v2's largest leverage; "
                        "no perps venue offers more")] = 5.0
    rehedge_below: Annotated[float, Field(gt=0, le=1)] = 0.5


class Agents(Model):
    traders: Traders = Traders()
    margin_managers: MarginManagers = MarginManagers()
    liquidators: list[Liquidator] = Field(default_factory=_default_liquidators)
    arbitrageurs: Arbitrageurs = Arbitrageurs()
    hedgers: Hedgers = Hedgers()

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
    outage halts all). A shared sequencer includes a cross-rollup bundle's legs together;
    ``bundle_execution`` says whether they also execute together (``atomic``) or each may
    revert on its own rollup (``inclusion``, what Espresso and Astria offer);
    ``operator = "extractive"`` lets the shared operator trade ahead of the bundles it
    sees, on every rollup they touch. ``sequencing`` names a registered design for
    several rollups (``seqlab.sequencing``), checked on loading, which also refuses the
    settings here it cannot run with (``designs`` under ``shared``, an extractive
    ``operator`` under ``isolated``)."""

    count: Annotated[int, Field(ge=1, le=8)] = 1
    sequencing: str = "isolated"
    designs: list[str] = []
    restart_window: PositiveDuration = "1h"
    bundle_execution: Literal["inclusion", "atomic"] = "inclusion"
    operator: Literal["honest", "extractive"] = "honest"

    @model_validator(mode="after")
    def _designs_fit(self) -> "Rollups":
        if self.designs and len(self.designs) != self.count:
            raise ValueError(f"rollups.designs needs one design per rollup ({self.count})")
        return self


class Service(Model):
    """A sequencing service's offer: the design it runs (its MEV policy) and its terms.

    ``latency`` is the extra hop from the rollup's gateway to the service's ordering;
    ``nodes``/``faulty`` its censorship resistance (``faulty + 1`` of ``nodes`` must
    collude to censor; a committee design runs with that many nodes); ``outages`` and
    ``outage_rate_per_day`` its reliability (as ``[sequencer]``'s); ``capacity`` its
    transactions per block (0: unlimited). ``offer`` names a built-in offer to start
    from (docs/market.md); the keys written beside it replace its terms.
    """

    name: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[a-z0-9][a-z0-9\-]*$")]
    offer: Literal[tuple(SERVICE_OFFERS)] | None = None  # type: ignore[valid-type]
    design: str = "fcfs"
    latency: Duration = "0ms"
    price_per_block_usd: AccountUsd = 0.0
    price_per_tx_usd: AccountUsd = 0.0
    nodes: Annotated[int, Field(ge=1, le=1024)] = 1
    faulty: Annotated[int, Field(ge=0, le=1024)] = 0
    outages: list[Outage] = []
    outage_rate_per_day: Annotated[float, Field(ge=0, le=100)] = 0.0
    capacity: Annotated[int, Field(ge=0), at_most(MAX_TXS, "no run has more transactions")] = 0
    # what running the service costs its operator (the auction policy's bidders net it
    # out); no service publishes it
    cost_usd_per_hour: AccountUsd = 0.0

    @model_validator(mode="before")
    @classmethod
    def _apply_offer(cls, data: Any) -> Any:
        """The offer's terms under whatever the user wrote (an unknown name is left to
        the ``offer`` field's own check, which lists the allowed names)."""
        return _under_named(SERVICE_OFFERS, "offer", data)

    @model_validator(mode="after")
    def _faults_fit(self) -> "Service":
        if self.faulty >= self.nodes:
            raise ValueError(f"faulty ({self.faulty}) must be below nodes ({self.nodes})")
        return self


class Weights(Model):
    """How a static policy weighs each term of an offer (each scored 0..1 across the
    services on offer, best 1)."""

    latency: Annotated[float, Field(ge=0, le=100)] = 1.0
    price: Annotated[float, Field(ge=0, le=100)] = 1.0
    resistance: Annotated[float, Field(ge=0, le=100)] = 1.0
    reliability: Annotated[float, Field(ge=0, le=100)] = 1.0


def _two_returns(window_us: int) -> int:
    """A realised volatility needs at least two one-minute returns."""
    if window_us < 2 * MINUTE:
        raise ValueError("must be at least 2min: the volatility is read from one-minute "
                         "returns, and needs two")
    return window_us


class SequencingMarket(Model):
    """The rollup buys sequencing from one of ``services``; ``policy`` picks which, and
    when (``failover``) to move to another: after ``timeout`` without a block, the next
    service starts ``switch_delay`` later; transactions stranded in the old service's
    queue are re-sent to the new one (``stranded = "resend"``) or forced in through the
    L1 delayed inbox (``"l1"``). ``policies`` gives each rollup its own (several
    rollups, isolated sequencing). ``stress`` moves to the most censorship-resistant
    service while realised volatility over ``stress_window`` is at least ``stress_vol``,
    and back no sooner than ``stress_dwell`` after its last switch. ``spread`` > 1 spreads
    several rollups over that many of the best-ranked services, round robin."""

    enabled: bool = False
    services: Annotated[list[Service], Field(max_length=16)] = []
    policy: str = "failover"
    policies: Annotated[list[str], Field(max_length=8)] = []
    weights: Weights = Weights()
    order: list[str] = []
    timeout: PositiveDuration = "10s"
    switch_delay: Duration = "12s"
    stranded: Literal["resend", "l1"] = "resend"
    stress_vol: Annotated[float, Field(gt=0.0, le=10.0)] = 1.0
    stress_window: Annotated[int, BeforeValidator(parse_duration),
                             AfterValidator(_two_returns), _setting_cap, _as_text] = "10min"
    stress_dwell: Duration = "10min"
    # the auction policy: Espresso's marketplace sells a rollup's sequencing rights per
    # slot, aligned with Ethereum's 12 s slots (the L1 proposer's right of first refusal)
    auction_epoch: Annotated[int, BeforeValidator(parse_duration), Field(ge=S),
                             _setting_cap, _as_text] = "12s"
    # Timeboost's governance minimum reserve, 0.001 WETH at 2,500 USD/ETH, per epoch
    auction_reserve_usd: Usd = 2.5
    # the bidders' private valuation error (log-spread), as Timeboost's searchers'
    auction_noise: Annotated[float, Field(ge=0, le=3)] = 0.2
    # what each bidder can lose before it stops bidding, as a Timeboost searcher's deposit
    auction_capital_usd: Usd = 100_000.0
    spread: Annotated[int, Field(ge=1, le=16)] = 1

    @model_validator(mode="after")
    def _services_fit(self) -> "SequencingMarket":
        names = [s.name for s in self.services]
        if len(set(names)) != len(names):
            raise ValueError("service names must be unique")
        if self.enabled and not names:
            raise ValueError("an enabled sequencing market needs at least one service")
        unknown = [n for n in self.order if n not in names]
        if unknown:
            raise ValueError(f"order names unknown services {unknown} (services: {names})")
        if self.enabled and self.spread > len(names):
            raise ValueError(f"spread ({self.spread}) must be at most the number of services "
                             f"({len(names)})")
        return self


class Sweep(Model):
    """Defaults for ``seqlab sweep``: parameter values by dotted key, designs, seeds."""

    params: dict[str, list[str | int | float | bool]] = {}
    designs: list[str] = []
    seeds: Annotated[int, Field(ge=1), at_most(10_000, "runs per point")] = 1


class Scenario(Model):
    """A whole world: market, oracle, sequencer, protocol and agents, run for ``duration``."""

    name: Annotated[str, AfterValidator(_folder_name)] = "unnamed"
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 1
    duration: RunDuration = "1h"
    market: Market = Market()
    oracle: Oracle = Oracle()
    sequencer: Sequencer = Sequencer()
    protocol: Protocol = Protocol()
    agents: Agents = Agents()
    rollup: Rollup = Rollup()
    rollups: Rollups = Rollups()
    sequencing_market: SequencingMarket = SequencingMarket()
    sweep: Sweep = Sweep()

    @model_validator(mode="after")
    def _size_fits(self) -> "Scenario":
        """What the run will allocate: transactions, time steps and money, bounded."""
        seconds = self.duration / S
        traders, options = self.agents.traders, self.protocol.options
        rate = traders.rate_per_s + (options.buy_rate_per_s if options.enabled else 0.0)
        expected = rate * seconds * self.rollups.count
        if expected > MAX_TXS:
            raise ValueError(f"expected transactions (order rates × duration × rollups = "
                             f"{expected:,.0f}) must be at most {MAX_TXS:,}: every "
                             "transaction is held in memory; lower a rate or the duration")
        seq = self.sequencer
        for field, tick in (("market.step", self.market.step),
                            ("oracle.poll", self.oracle.poll),
                            ("sequencer.block_time", seq.block_time),
                            ("sequencer.l1_block_time", seq.l1_block_time),
                            ("sequencer.batch_poster.poll", seq.batch_poster.poll)):
            if self.duration / tick > MAX_TICKS:
                raise ValueError(f"duration / {field} = {self.duration // tick:,} steps must "
                                 f"be at most {MAX_TICKS:,}: each step is simulated and "
                                 "stored; lengthen the step or shorten the run")
        money = traders.accounts * traders.collateral_median_usd * (1 + traders.wallet_multiple)
        if money > MAX_POOL_USD:
            raise ValueError(f"traders' money (accounts × collateral_median_usd × "
                             f"(1 + wallet_multiple) = {money:,.0f} USD) must be at most "
                             f"{MAX_POOL_USD:,.0f}: {LEDGER_WHY}")
        return self

    @model_validator(mode="after")
    def _rollups_fit(self) -> "Scenario":
        if self.rollups.count > 1 and self.protocol.kind != "perps":
            raise ValueError("rollups.count > 1 needs protocol.kind = 'perps'")
        if self.agents.arbitrageurs.count and self.rollups.count < 2:
            raise ValueError("agents.arbitrageurs needs rollups.count >= 2 (they trade "
                             "between rollups)")
        return self

    @model_validator(mode="after")
    def _live_venue_has_depth(self) -> "Scenario":
        if self.protocol.venue.live and self.market.venue_depth_usd <= 0:
            raise ValueError("protocol.venue.live needs market.venue_depth_usd > 0 (the "
                             "pool's depth, both sides)")
        return self
