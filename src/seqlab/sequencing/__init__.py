"""Sequencer designs, selectable by name in scenarios and on the command line.

A name maps to a factory taking the scenario's ``[sequencer]`` table. ``extractive`` runs
the strategies switched on in ``[sequencer.strategy]`` (all of them when none is), and
``extractive-<strategy>`` runs one strategy alone. A design with settings of its own owns
their model (``<design>_config.py`` beside the built-in ones) and registers it with its
name: it becomes the ``[sequencer.<key>]`` table (``scenario/sections.py``).

How the sequencers of several rollups relate (``[rollups] sequencing``) is a design too,
of another kind (``rollups_design.RollupsDesign``): ``isolated`` and ``shared`` are
registered beside the others, and ``register(..., rollups=True)`` adds one.
"""
from __future__ import annotations

from typing import Callable, Iterable, NamedTuple

from seqlab.errors import SeqlabError
from seqlab.scenario.schema import Model, Rollups, Sequencer
from seqlab.scenario.sections import add_section, remove_section
from seqlab.sequencing.base import Blocks, Design
from seqlab.sequencing.extractive import ALL_STRATEGIES, ExtractiveDesign
from seqlab.sequencing.fcfs import FcfsDesign
from seqlab.sequencing.based import BasedDesign
from seqlab.sequencing.based_config import Based
from seqlab.sequencing.batch_auction import BatchAuctionDesign
from seqlab.sequencing.batch_auction_config import BatchAuction
from seqlab.sequencing.builders import BuildersDesign
from seqlab.sequencing.builders_config import Builders
from seqlab.sequencing.committee import CommitteeDesign
from seqlab.sequencing.committee_config import Committee
from seqlab.sequencing.encrypted import EncryptedDesign
from seqlab.sequencing.encrypted_config import Encrypted
from seqlab.sequencing.fair import FairOrderingDesign
from seqlab.sequencing.fair_config import Fair
from seqlab.sequencing.isolated import IsolatedSequencers
from seqlab.sequencing.priority import PriorityDesign
from seqlab.sequencing.rollups_design import RollupsDesign
from seqlab.sequencing.shared import SharedSequencer
from seqlab.sequencing.timeboost import TimeboostDesign
from seqlab.sequencing.timeboost_config import Timeboost


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


# CPU time of a ``default`` run under each built-in design relative to ``honest`` (seed 1,
# README "Performance"). Only the order of work uses it: ``compare`` starts the costliest
# runs first, so the last to finish on a pool are short ones. Unlisted designs count 1.
RELATIVE_COST: dict[str, float] = {
    "builders": 3.0, "committee": 2.1, "timeboost": 1.6, "encrypted": 1.6,
    "fair-ordering": 1.6, "extractive": 1.4, "priority": 1.4, "batch-auction": 0.95,
}


def relative_cost(design: str) -> float:
    """``RELATIVE_COST`` of ``design`` (a sequencing market's or a variant's: 1)."""
    return RELATIVE_COST.get(design, 1.0)


class DesignSettings(NamedTuple):
    """A design's own settings: the ``[sequencer]`` key they are read from, their model."""

    key: str
    model: type[Model]


# The designs that own settings, in the order ``[sequencer]`` lists their sections.
SETTINGS: dict[str, DesignSettings] = {
    "fair-ordering": DesignSettings("fair", Fair),
    "encrypted": DesignSettings("encrypted", Encrypted),
    "batch-auction": DesignSettings("batch_auction", BatchAuction),
    "timeboost": DesignSettings("timeboost", Timeboost),
    "committee": DesignSettings("committee", Committee),
    "builders": DesignSettings("builders", Builders),
    "based": DesignSettings("based", Based),
}


def _add_sections(owned: Iterable[DesignSettings]) -> None:
    """Built-in sections go in apart from ``DESIGNS``: ``[sequencer]`` lists them in this
    order (in errors and the JSON schema), ``seqlab designs`` the designs in theirs."""
    for own in owned:
        add_section(own.key, own.model)


_add_sections(SETTINGS.values())


# How several rollups' sequencers relate (``[rollups] sequencing``), apart from the
# designs above: a rollup runs one of those, and several rollups one of these over them.
ROLLUP_DESIGNS: dict[str, Callable[[Rollups], RollupsDesign]] = {
    "isolated": IsolatedSequencers,
    "shared": SharedSequencer,
}

ROLLUP_DESCRIPTIONS: dict[str, str] = {
    "isolated": "every rollup its own sequencer: its own outages, each bundle leg sent to "
                "its own rollup",
    "shared": "one sequencer orders every rollup's blocks in one round: one outage halts "
              "all, committees run one consensus, cross-rollup bundles included together "
              "(Espresso, Astria)",
}

# The designs for several rollups that own settings: ``[rollups.<key>]``.
ROLLUP_SETTINGS: dict[str, DesignSettings] = {}


def register(name: str,
             factory: Callable[[Sequencer], Design] | Callable[[Rollups], RollupsDesign],
             description: str,
             settings: type[Model] | None = None, key: str | None = None,
             rollups: bool = False) -> None:
    """Make a design selectable by ``name`` everywhere a design is named (scenarios,
    ``run``/``compare``/``sweep``/``price``, the CLI): the one line a new design adds.

    ``factory`` takes the scenario's ``[sequencer]`` table and returns the design; a name
    already taken is refused, so a plugin cannot silently replace a built-in design.
    ``settings``, a ``seqlab.scenario.schema.Model`` with a default for every field, are
    the design's own: a scenario writes them under ``[sequencer.<key>]`` (``key`` is the
    name with '-' as '_' unless given), they are validated with the scenario, and the
    factory reads them as ``cfg.<key>``.

    ``rollups=True`` registers a design for several rollups instead, selected by
    ``[rollups] sequencing`` (and as ``DESIGN@name`` in ``compare``): ``factory`` takes
    the ``[rollups]`` table and returns a ``rollups_design.RollupsDesign``, raising
    ``ValueError`` for settings it cannot run with; its settings go under
    ``[rollups.<key>]``."""
    if name in DESIGNS or name in ROLLUP_DESIGNS:
        raise ValueError(f"design '{name}' is already registered")
    if not name or not name.replace("-", "").isalnum():
        raise ValueError(f"design names are letters, digits and '-' (got '{name}')")
    table = "rollups" if rollups else "sequencer"
    owned = ROLLUP_SETTINGS if rollups else SETTINGS
    if settings is not None:
        own = DesignSettings(key or name.replace("-", "_"), settings)
        add_section(own.key, own.model, table)
        owned[name] = own
    elif key is not None:
        raise ValueError(f"key '{key}' names the section of settings, but design '{name}' "
                         "registers none")
    if rollups:
        ROLLUP_DESIGNS[name] = factory
        ROLLUP_DESCRIPTIONS[name] = description
    else:
        DESIGNS[name] = factory
        DESCRIPTIONS[name] = description


def unregister(name: str) -> None:
    """Forget a registered design, and its ``[sequencer.<key>]`` (or, for a design for
    several rollups, ``[rollups.<key>]``) section if it owns one."""
    if name in ROLLUP_DESIGNS:
        if name in ROLLUP_SETTINGS:
            remove_section(ROLLUP_SETTINGS.pop(name).key, "rollups")
        del ROLLUP_DESIGNS[name], ROLLUP_DESCRIPTIONS[name]
        return
    check_design(name, "design")
    if name in SETTINGS:
        remove_section(SETTINGS.pop(name).key)
    del DESIGNS[name], DESCRIPTIONS[name]


def check_design(name: str, field: str = "sequencer.design", file: str | None = None) -> str:
    """``name`` if it names a design; otherwise the one error every caller gives."""
    if name not in DESIGNS:
        raise SeqlabError(f"unknown design '{name}'", file=file, field=field,
                          allowed=", ".join(sorted(DESIGNS)))
    return name


def make_design(cfg: Sequencer) -> Design:
    """Instantiate the design a scenario names."""
    return DESIGNS[check_design(cfg.design)](cfg)


def check_rollups_design(name: str, field: str = "rollups.sequencing",
                         file: str | None = None) -> str:
    """``name`` if it names a design for several rollups; otherwise one error line."""
    if name not in ROLLUP_DESIGNS:
        raise SeqlabError(f"unknown sequencing of several rollups '{name}'", file=file,
                          field=field, allowed=", ".join(sorted(ROLLUP_DESIGNS)))
    return name


def make_rollups_design(cfg: Rollups, file: str | None = None) -> RollupsDesign:
    """Instantiate the design for several rollups ``[rollups] sequencing`` names; settings
    of ``[rollups]`` it cannot run with are one error line naming the table."""
    factory = ROLLUP_DESIGNS[check_rollups_design(cfg.sequencing, file=file)]
    try:
        return factory(cfg)
    except ValueError as exc:
        raise SeqlabError(str(exc), file=file, field="rollups") from None


__all__ = ["Blocks", "DESCRIPTIONS", "DESIGNS", "Design", "DesignSettings", "ROLLUP_DESCRIPTIONS",
           "ROLLUP_DESIGNS", "ROLLUP_SETTINGS", "RollupsDesign", "SETTINGS", "check_design",
           "check_rollups_design", "make_design", "make_rollups_design", "register",
           "unregister"]
