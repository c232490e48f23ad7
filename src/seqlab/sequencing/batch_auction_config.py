"""The ``batch-auction`` design's settings, ``[sequencer.batch_auction]``: kept beside the
design, registered with it."""
from __future__ import annotations

from seqlab.scenario.schema import Latency, Model, PositiveDuration


class BatchAuction(Model):
    """Frequent batch auctions: orders collected over ``interval`` clear at one price.

    Batches are sealed until their order is committed, so a hosted operator's own
    transactions are decided from the last executed batch and reach the sequencer after
    ``operator_latency``, like an outside bot's (by default as fast as the best-connected
    one, the ``colocated`` liquidator)."""

    interval: PositiveDuration = "1s"
    operator_latency: Latency = Latency(median="10ms", sigma=0.2)
