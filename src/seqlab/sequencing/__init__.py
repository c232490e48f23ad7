"""Sequencer designs, selectable by name in scenarios and on the command line."""
from __future__ import annotations

from seqlab.errors import SeqlabError
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, Design
from seqlab.sequencing.fcfs import FcfsDesign

DESIGNS: dict[str, type[Design]] = {
    "fcfs": FcfsDesign,
    "honest": FcfsDesign,
}


def make_design(cfg: Sequencer) -> Design:
    """Instantiate the design a scenario names."""
    cls = DESIGNS.get(cfg.design)
    if cls is None:
        raise SeqlabError(f"unknown design '{cfg.design}'", field="sequencer.design",
                          allowed=", ".join(sorted(DESIGNS)))
    return cls(cfg)


__all__ = ["Blocks", "DESIGNS", "Design", "make_design"]
