"""Oracles: how the reference price becomes an on-chain price (through the sequencer).

Oracle kinds are selectable by name in scenarios (``[oracle] kind``). A name maps to a
factory taking the scenario's ``[oracle]`` table and returning an ``OracleKind``; the
world asks the kind what it needs (``seqlab.oracle.base``), never its name, so a new
kind is one class plus the one line that registers it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from seqlab.errors import SeqlabError
from seqlab.oracle.base import OracleKind, PullFeed, PushFeed, ReferenceAt
from seqlab.oracle.push import OracleUpdates, push_feed_updates
from seqlab.scenario.schema import Oracle

#: ``factory(cfg) -> OracleKind``: ``cfg`` is the scenario's ``[oracle]`` table.
Factory = Callable[[Oracle], OracleKind]


@dataclass(frozen=True)
class OracleEntry:
    """A registered kind: what builds it, and one line saying what it models."""

    factory: Factory
    description: str


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


def register(kind: str, factory: Factory, description: str) -> None:
    """Make an oracle kind selectable as ``[oracle] kind = kind`` (in scenarios and as a
    ``DESIGN@oracle.kind=...`` row of ``compare``): the one line a new kind adds. A name
    already taken is refused, so a plugin cannot silently replace a built-in kind."""
    if kind in KINDS:
        raise ValueError(f"oracle kind '{kind}' is already registered")
    if not kind or not kind.replace("-", "").isalnum():
        raise ValueError(f"oracle kind names are letters, digits and '-' (got '{kind}')")
    KINDS[kind] = OracleEntry(factory, description)


def unregister(kind: str) -> None:
    """Forget a registered oracle kind."""
    del KINDS[check_oracle(kind, "kind")]


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


__all__ = ["KINDS", "OracleEntry", "OracleKind", "OracleUpdates", "ReferenceAt",
           "check_oracle", "kinds", "make_feed", "push_feed_updates", "register",
           "unregister"]
