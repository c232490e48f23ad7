"""The ``encrypted`` design's settings, ``[sequencer.encrypted]`` (the ``committee``
design reads them too when its committee encrypts): kept beside the design, registered
with it."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from seqlab.scenario.schema import Latency, Model, PositiveDuration


class Encrypted(Model):
    """Threshold-encrypted mempool (Shutter-style): ``threshold`` of ``keypers`` release
    the key after the order is committed.

    ``inclusion`` bounds how long the sequencer may hold a ciphertext: ``committee`` (the
    decentralized Timeboost rule: the keypers are the committee, and a transaction in
    F+1 honest nodes' candidate lists goes into the next block), ``deadline`` (within
    ``inclusion_deadline`` of its arrival) or ``none`` (only the rollup's force-inclusion
    window). ``sender_linkable`` says whether the sequencer can tell who sent a
    ciphertext (false when users submit through a relay or an unlinkable envelope)."""

    keypers: Annotated[int, Field(ge=1, le=64)] = 7
    threshold: Annotated[int, Field(ge=1, le=64)] = 4
    key_latency: Latency = Latency(median="500ms", sigma=0.5)
    inclusion: Literal["none", "committee", "deadline"] = "committee"
    inclusion_deadline: PositiveDuration = "5s"
    node_latency: Latency = Latency(median="75ms", sigma=0.5)
    sender_linkable: bool = False

    @model_validator(mode="after")
    def _threshold_fits(self) -> "Encrypted":
        if self.threshold > self.keypers:
            raise ValueError("threshold must not exceed keypers")
        return self
