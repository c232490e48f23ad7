"""Sequencer designs, selectable by name in scenarios and on the command line.

A name maps to a factory taking the scenario's ``[sequencer]`` table. ``extractive`` runs
the strategies switched on in ``[sequencer.strategy]`` (all of them when none is), and
``extractive-<strategy>`` runs one strategy alone.
"""
from __future__ import annotations

from typing import Callable

from seqlab.errors import SeqlabError
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, Design
from seqlab.sequencing.extractive import ALL_STRATEGIES, ExtractiveDesign
from seqlab.sequencing.fcfs import FcfsDesign
from seqlab.sequencing.based import BasedDesign
from seqlab.sequencing.batch_auction import BatchAuctionDesign
from seqlab.sequencing.builders import BuildersDesign
from seqlab.sequencing.committee import CommitteeDesign
from seqlab.sequencing.encrypted import EncryptedDesign
from seqlab.sequencing.fair import FairOrderingDesign
from seqlab.sequencing.priority import PriorityDesign
from seqlab.sequencing.timeboost import TimeboostDesign


def _fcfs(name: str) -> Callable[[Sequencer], Design]:
    def make(cfg: Sequencer) -> Design:
        design = FcfsDesign(cfg)
        design.name = name
        return design
    return make


def _extractive(cfg: Sequencer) -> Design:
    return ExtractiveDesign(cfg, cfg.strategy.enabled() or ALL_STRATEGIES, "extractive")


def _single(strategy: str) -> Callable[[Sequencer], Design]:
    return lambda cfg: ExtractiveDesign(cfg, (strategy,),
                                        f"extractive-{strategy.replace('_', '-')}")


def _hosted(cls: type) -> Callable[[Sequencer], Design]:
    """A constraining design hosting the extractive operator (unless strategy.operator is
    off): the strategies switched on, or all of them."""
    def make(cfg: Sequencer) -> Design:
        strategies = (cfg.strategy.enabled() or ALL_STRATEGIES) if cfg.strategy.operator else ()
        return cls(cfg, strategies)
    return make


DESIGNS: dict[str, Callable[[Sequencer], Design]] = {
    "fcfs": _fcfs("fcfs"),
    "honest": _fcfs("honest"),
    "priority": PriorityDesign,
    "extractive": _extractive,
    **{f"extractive-{s.replace('_', '-')}": _single(s) for s in ALL_STRATEGIES},
    "timeboost": _hosted(TimeboostDesign),
    "fair-ordering": _hosted(FairOrderingDesign),
    "encrypted": _hosted(EncryptedDesign),
    "batch-auction": _hosted(BatchAuctionDesign),
    "committee": _hosted(CommitteeDesign),
    "builders": _hosted(BuildersDesign),
    "based": BasedDesign,
}

DESCRIPTIONS: dict[str, str] = {
    "fcfs": "centralized, honest, first come first served (Arbitrum-style)",
    "honest": "same as fcfs",
    "priority": "centralized, honest, highest priority fee first (OP Stack-style)",
    "extractive": "FCFS plus the operator strategies of [sequencer.strategy] (all if none)",
    **{f"extractive-{s.replace('_', '-')}": f"FCFS plus the '{s}' strategy alone"
       for s in ALL_STRATEGIES},
    "timeboost": "FCFS with a 200 ms delay for all but the express-lane controller, "
                 "sold each 60 s round in a second-price auction (Arbitrum)",
    "fair-ordering": "receive-order fairness: a before b when ceil(gamma·n) of n nodes "
                     "received a first; Condorcet cycles become one batch (Aequitas "
                     "batch order)",
    "encrypted": "threshold-encrypted mempool: order committed before t-of-n keypers "
                 "reveal contents (Shutter-style); holding bounded by the F+1 "
                 "committee inclusion rule",
    "batch-auction": "frequent batch auctions: sealed batches, their hash order committed "
                     "before anyone reads them; everything that arrived clears together at "
                     "one price",
    "committee": "BFT committee of sequencer nodes: f+1-of-lists inclusion, median "
                 "timestamp, deterministic in-block order (decentralized Timeboost); "
                 "optional threshold encryption and express lane",
    "builders": "proposer-builder separation: independent honest, extractive or "
                "specialised builders bid for each block; the proposer takes the highest "
                "bid, the winner pays the second; optional FOCIL inclusion lists",
    "based": "based sequencing: L1 proposers order the rollup at L1 block times (12 s); "
             "preconfers among them promise inclusion fast against collateral, slashed "
             "to the user when a promise breaks",
}


def register(name: str, factory: Callable[[Sequencer], Design], description: str) -> None:
    """Make a design selectable by ``name`` everywhere a design is named (scenarios,
    ``run``/``compare``/``sweep``/``price``, the CLI): the one line a new design adds.

    ``factory`` takes the scenario's ``[sequencer]`` table and returns the design; a name
    already taken is refused, so a plugin cannot silently replace a built-in design."""
    if name in DESIGNS:
        raise ValueError(f"design '{name}' is already registered")
    if not name or not name.replace("-", "").isalnum():
        raise ValueError(f"design names are letters, digits and '-' (got '{name}')")
    DESIGNS[name] = factory
    DESCRIPTIONS[name] = description


def check_design(name: str, field: str = "sequencer.design", file: str | None = None) -> str:
    """``name`` if it names a design; otherwise the one error every caller gives."""
    if name not in DESIGNS:
        raise SeqlabError(f"unknown design '{name}'", file=file, field=field,
                          allowed=", ".join(sorted(DESIGNS)))
    return name


def make_design(cfg: Sequencer) -> Design:
    """Instantiate the design a scenario names."""
    return DESIGNS[check_design(cfg.design)](cfg)


__all__ = ["Blocks", "DESCRIPTIONS", "DESIGNS", "Design", "check_design", "make_design",
           "register"]
