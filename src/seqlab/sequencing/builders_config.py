"""The ``builders`` design's settings, ``[sequencer.builders]``: how many builders bid for a
block and what each does with it. Kept beside the design, registered with it."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from seqlab.scenario.schema import Latency, Model, Share


# What a builder does with the block it wins: nothing but order (``honest``), every
# strategy of ``[sequencer.strategy]`` (``extractive``), or one strategy (specialised).
BuilderKind = Literal["extractive", "honest", "backrun", "censor", "stale_oracle", "sandwich"]
# MEV-Boost: three builders integrated with searchers made 80 % of blocks (Oct 2023 - Mar
# 2024, Öz et al. 2024) and compete for the same opportunities; specialised and neutral
# builders make the rest.
DEFAULT_BUILDER_MIX = ("extractive", "extractive", "extractive", "backrun", "honest")


class Builders(Model):
    """Proposer-builder separation: ``count`` independent builders bid for each block."""

    count: Annotated[int, Field(ge=1, le=64)] = 5
    latency: list[Latency] = []
    private_share: Share = 0.0
    mix: list[BuilderKind] = []  # builder i's kind; missing ones cycle DEFAULT_BUILDER_MIX
    margin: Annotated[float, Field(ge=0, lt=1)] = 0.05
    inclusion_lists: bool = False

    @model_validator(mode="after")
    def _mix_fits(self) -> "Builders":
        if len(self.mix) > self.count:
            raise ValueError(f"mix names {len(self.mix)} builders but count is {self.count}: "
                             "give at most count kinds")
        return self

    def kinds(self) -> tuple[str, ...]:
        """Each builder's kind: the ``mix`` given, then the default mix in turn."""
        return tuple(self.mix[i] if i < len(self.mix)
                     else DEFAULT_BUILDER_MIX[i % len(DEFAULT_BUILDER_MIX)]
                     for i in range(self.count))
