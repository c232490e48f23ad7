"""The ``based`` design's settings, ``[sequencer.based]``: L1 proposers, preconfers and
their collateral. Kept beside the design, registered with it."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field

from seqlab.scenario.schema import Duration, Model, Share


class Based(Model):
    """Based sequencing: L1 proposers, in turn, order the rollup at L1 block times; a
    share of them are preconfers who promise inclusion fast, against collateral. Sources
    in docs/designs/based.md."""

    # about 10 % of Ethereum blocks trade ahead on preconf markets (ETHGas, 2025)
    preconf_share: Share = 0.10
    # the beacon chain publishes an epoch's proposers an epoch ahead: 32 slots
    lookahead: Annotated[int, Field(ge=1, le=64)] = 32
    # based preconfirmations: "latencies as low as 100 ms" (restaking implementation)
    preconf_latency: Duration = "100ms"
    # ETHGas: 1 ETH of collateral per 1M gas of blockspace sold (a slot's promises)
    collateral_eth: Annotated[float, Field(ge=0, le=1_000)] = 1.0
    # Ethereum mainnet misses about 0.3 % of slots (ethp2p observatory, Xatu data)
    missed_slot_rate: Annotated[float, Field(ge=0, le=0.5)] = 0.003
