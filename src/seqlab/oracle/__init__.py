"""Oracles: how the reference price becomes an on-chain price (through the sequencer).

Oracle kinds are selectable by name in scenarios (``[oracle] kind``). A name maps to a
factory taking the scenario's ``[oracle]`` table and returning an ``OracleKind``; the
world asks the kind what it needs (``seqlab.oracle.base``), never its name, so a new
kind is one class plus the one line that registers it. A kind with settings of its own
passes their model on that line: they become the ``[oracle.<key>]`` table
(``scenario/sections.py``), validated with the scenario and read as ``cfg.<key>``. What
a scenario may combine with a kind (``max_age_liquidations``, the size of its steps) is
asked of the kind itself (``check_kind_settings``), so a plugin kind is checked the same
way as the built-in ones.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from seqlab.errors import SeqlabError
from seqlab.oracle.base import OracleKind, PullFeed, PushFeed, ReferenceAt
from seqlab.oracle.push import OracleUpdates, push_feed_updates
from seqlab.scenario.schema import MAX_TICKS, Model, Oracle, Scenario
from seqlab.scenario.sections import add_section, remove_section

#: ``factory(cfg) -> OracleKind``: ``cfg`` is the scenario's ``[oracle]`` table.
Factory = Callable[[Oracle], OracleKind]


@dataclass(frozen=True)
class OracleEntry:
    """A registered kind: what builds it, one line saying what it models, and the key of
    its own ``[oracle.<key>]`` settings (None: it reads only the shared ``[oracle]``)."""

    factory: Factory
    description: str
    key: str | None = None


KINDS: dict[str, OracleEntry] = {
    "push": OracleEntry(
        PushFeed,
        "Chainlink-style: nodes post their median on deviation or heartbeat, each posting "
        "its own transaction"),
    "pull": OracleEntry(
        PullFeed,
        "Pyth-style: a median signed off-chain every publish_interval, carried on-chain by "
        "the first order sent after it"),
}


def register(kind: str, factory: Factory, description: str,
             settings: type[Model] | None = None, key: str | None = None) -> None:
    """Make an oracle kind selectable as ``[oracle] kind = kind`` (in scenarios and as a
    ``DESIGN@oracle.kind=...`` row of ``compare``): the one line a new kind adds. A name
    already taken is refused, so a plugin cannot silently replace a built-in kind.

    ``settings``, a ``seqlab.scenario.schema.Model`` with a default (and bounds) for every
    field, are the kind's own: a scenario writes them under ``[oracle.<key>]`` (``key``
    is the name with '-' as '_' unless given), they are validated with the scenario, and
    the factory reads them as ``cfg.<key>``."""
    if kind in KINDS:
        raise ValueError(f"oracle kind '{kind}' is already registered")
    if not kind or not kind.replace("-", "").isalnum():
        raise ValueError(f"oracle kind names are letters, digits and '-' (got '{kind}')")
    if settings is not None:
        key = key or kind.replace("-", "_")
        add_section(key, settings, "oracle")
    elif key is not None:
        raise ValueError(f"key '{key}' names the section of settings, but oracle kind "
                         f"'{kind}' registers none")
    KINDS[kind] = OracleEntry(factory, description, key)


def unregister(kind: str) -> None:
    """Forget a registered oracle kind, and its ``[oracle.<key>]`` section if it owns one."""
    entry = KINDS.pop(check_oracle(kind, "kind"))
    if entry.key is not None:
        remove_section(entry.key, "oracle")


def kinds() -> list[str]:
    """Names a scenario's ``[oracle] kind`` may take."""
    return sorted(KINDS)


def check_oracle(kind: str, field: str = "oracle.kind", file: str | None = None) -> str:
    """``kind`` if it names an oracle kind; otherwise the one error every caller gives."""
    if kind not in KINDS:
        raise SeqlabError(f"unknown oracle kind '{kind}'", file=file, field=field,
                          allowed=", ".join(kinds()))
    return kind


def make_feed(cfg: Oracle) -> OracleKind:
    """Build the oracle kind a scenario's ``[oracle]`` table names."""
    return KINDS[check_oracle(cfg.kind)].factory(cfg)


def check_kind_settings(sc: Scenario, file: str | None = None) -> None:
    """What the scenario asks of its oracle kind, asked of the kind: a stale-price limit
    on liquidations needs updates that ride in the orders (the limit is on the age of a
    carried publication), and the kind's steps over the run are bounded like every other
    step the run simulates."""
    cfg = sc.oracle
    feed = make_feed(cfg)
    if cfg.max_age_liquidations and not feed.attached:
        carried = [k for k in kinds() if KINDS[k].factory(cfg).attached]
        raise SeqlabError(f"true needs an oracle kind whose updates ride in the orders, "
                          f"not '{cfg.kind}': max_age limits the age of a carried "
                          "publication", file=file, field="oracle.max_age_liquidations",
                          allowed=f"false, or true with kind = {' or '.join(carried)}")
    if sc.duration / feed.interval > MAX_TICKS:
        field = f"oracle.{feed.interval_setting}"
        raise SeqlabError(f"duration / {field} = {sc.duration // feed.interval:,} steps "
                          f"must be at most {MAX_TICKS:,}: each step is simulated and "
                          "stored; lengthen the step or shorten the run", file=file,
                          field=field)


__all__ = ["KINDS", "OracleEntry", "OracleKind", "OracleUpdates", "ReferenceAt",
           "check_kind_settings", "check_oracle", "kinds", "make_feed", "push_feed_updates",
           "register", "unregister"]
