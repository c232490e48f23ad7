"""The ``fair-ordering`` design's settings, ``[sequencer.fair]``: kept beside the design,
registered with it."""
from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from seqlab.scenario.schema import Duration, Latency, Model


class Fair(Model):
    """Receive-order fairness over a committee of ``nodes``: a before b when at least
    ceil(gamma·nodes) nodes report a first; cycles become batches (Aequitas's batch
    order, Kelkar et al. 2020)."""

    nodes: Annotated[int, Field(ge=1, le=64)] = 7
    faulty: Annotated[int, Field(ge=0, le=64)] = 1
    gamma: Annotated[float, Field(gt=0.5, le=1)] = 0.9
    node_latency: Latency = Latency(median="15ms", sigma=0.5)
    fault_delay: Duration = "100ms"

    @model_validator(mode="after")
    def _aequitas_bound(self) -> "Fair":
        if self.nodes <= 4 * self.faulty / (2 * self.gamma - 1):
            raise ValueError(f"Aequitas needs nodes > 4·faulty/(2·gamma − 1) "
                             f"= {4 * self.faulty / (2 * self.gamma - 1):.2f}")
        return self
