"""The ``committee`` design's settings, ``[sequencer.committee]``: the BFT committee, its
faults and partitions. Kept beside the design, registered with it."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from seqlab.scenario.schema import Bytes, Duration, Model, PositiveDuration, at_most


MIN_COMMITTEE = 4


class Partition(Model):
    """During ``[start, end)`` messages between different ``groups`` are lost."""

    start: Duration
    end: Duration
    groups: list[list[Annotated[int, Field(ge=0, le=1024)]]]


class Committee(Model):
    """A BFT committee of sequencer nodes (Tendermint/HotStuff family)."""

    nodes: Annotated[int, Field(le=1024)] = 4
    regions: list[str] = ["us-east", "us-west", "eu-west", "ap-northeast", "sa-east"]
    jitter_sigma: Annotated[float, Field(ge=0, le=3)] = 0.2
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0
    timeout: PositiveDuration = "1s"
    list_interval: PositiveDuration = "250ms"
    list_age: Duration = "250ms"
    ordering: Literal["deterministic", "leader"] = "deterministic"
    crashed: Annotated[int, Field(ge=0, le=1024)] = 0
    crash_at: Duration = "0s"
    byzantine: Annotated[int, Field(ge=0, le=1024)] = 0
    byzantine_vote_delay: Duration = "0s"
    equivocate: bool = False
    encrypted: bool = False
    express_lane: bool = False
    tx_bytes: Bytes = 250
    bandwidth_mbps: Annotated[float, Field(gt=0), at_most(1e6, "1 Tbit/s per node")] = 1000.0
    partitions: list[Partition] = []

    @model_validator(mode="after")
    def _counts_fit(self) -> "Committee":
        from seqlab.consensus import REGIONS

        if self.nodes < MIN_COMMITTEE:
            raise ValueError(f"nodes must be at least {MIN_COMMITTEE} (got {self.nodes}): a "
                             "BFT committee of n nodes tolerates f = (n-1)//3 faults, so "
                             "fewer than 4 tolerate none and the f+1 inclusion rule "
                             "degenerates to a single node")
        if self.crashed + self.byzantine > self.nodes:
            raise ValueError("crashed + byzantine must not exceed nodes")
        unknown = [r for r in self.regions if r not in REGIONS]
        if unknown or not self.regions:
            raise ValueError(f"unknown regions {unknown} (allowed: {', '.join(REGIONS)})")
        for part in self.partitions:
            if any(i >= self.nodes for g in part.groups for i in g):
                raise ValueError("partition groups name nodes beyond committee.nodes")
        if self.express_lane and self.ordering != "deterministic":
            raise ValueError(f'express_lane = true needs ordering = "deterministic" (got '
                             f'"{self.ordering}"): the decentralized Timeboost order puts the '
                             "controller's bundles first, which a leader ordering its own "
                             "block need not keep")
        return self
