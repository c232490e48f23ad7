"""Protocols, selectable by name in scenarios (``[protocol] kind``).

A name maps to a factory, the product's assembly hook: it builds the protocol on the
world being assembled — its accounts, its order flow, the agents that use it, the rollup
it runs on — and returns its ``ProtocolPort``. The world makes only what every run has
(kernel, ledger, network, design, oracle feed); everything product-specific is the
factory's. The built-in products' hooks are ``assemble`` in ``<product>_assembly.py``,
imported when a world is built, not with this registry (they import the agents, which
import the protocols). A protocol that runs inside another's blocks (options beside
perps) ``attaches_to`` that protocol and is built when ``enabled`` says the scenario
switches it on; it is not a ``kind`` of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from seqlab.errors import SeqlabError
from seqlab.protocols.market_view import Events, MarketView
from seqlab.protocols.port import Handler, ProtocolPort
from seqlab.scenario.schema import Scenario

#: ``factory(world) -> ProtocolPort``: ``world`` is the ``seqlab.world.World`` being built.
Factory = Callable[[Any], ProtocolPort]


@dataclass(frozen=True)
class ProtocolEntry:
    factory: Factory
    description: str
    attaches_to: str | None = None
    enabled: Callable[[Scenario], bool] | None = None


def _perps(world: Any) -> ProtocolPort:
    from seqlab.protocols.perps_assembly import assemble
    return assemble(world)


def _positions(world: Any) -> ProtocolPort:
    from seqlab.protocols.positions_assembly import assemble
    return assemble(world)


def _options(world: Any) -> ProtocolPort:
    from seqlab.protocols.options_assembly import assemble
    return assemble(world)


def _spot_venue(world: Any) -> ProtocolPort:
    from seqlab.protocols.spot_venue_assembly import assemble
    return assemble(world)


PROTOCOLS: dict[str, ProtocolEntry] = {
    "perps": ProtocolEntry(
        _perps,
        "perpetual futures on the on-chain oracle price, a pool as counterparty, margin, "
        "funding and the liquidation mechanism of [protocol.perps] (Synthetix/GMX-style)"),
    "positions": ProtocolEntry(
        _positions,
        "benchmark: each transaction adds a signed quantity to its sender's position and "
        "pays a fixed fee"),
    "options": ProtocolEntry(
        _options,
        "European calls and puts cash-settled on the perps oracle, writers margined "
        "Aevo-style ([protocol.options] enabled)",
        attaches_to="perps", enabled=lambda sc: sc.protocol.options.enabled),
    "spot-venue": ProtocolEntry(
        _spot_venue,
        "a constant-product spot pool on the rollup where liquidated exposure is sold as "
        "it is liquidated, arbitraged to the reference; the perps mark may follow it "
        "([protocol.venue] live)",
        attaches_to="perps", enabled=lambda sc: sc.protocol.venue.live),
}


def register(name: str, factory: Factory, description: str, *, attaches_to: str | None = None,
             enabled: Callable[[Scenario], bool] | None = None) -> None:
    """Make a protocol selectable as ``[protocol] kind = name`` (or, with
    ``attaches_to``, built beside that protocol whenever ``enabled(scenario)``): the one
    line a new protocol adds. A name already taken is refused, so a plugin cannot
    silently replace a built-in protocol."""
    if name in PROTOCOLS:
        raise ValueError(f"protocol '{name}' is already registered")
    if not name or not name.replace("-", "").isalnum():
        raise ValueError(f"protocol names are letters, digits and '-' (got '{name}')")
    if (attaches_to is None) != (enabled is None):
        raise ValueError("an attached protocol needs both attaches_to and enabled")
    PROTOCOLS[name] = ProtocolEntry(factory, description, attaches_to, enabled)


def kinds() -> list[str]:
    """Names a scenario's ``[protocol] kind`` may take (attached protocols are not)."""
    return sorted(n for n, e in PROTOCOLS.items() if e.attaches_to is None)


def check_protocol(name: str, field: str = "protocol.kind", file: str | None = None) -> str:
    """``name`` if it names a protocol a rollup can run; otherwise the one error."""
    entry = PROTOCOLS.get(name)
    if entry is None or entry.attaches_to is not None:
        raise SeqlabError(f"unknown protocol '{name}'", file=file, field=field,
                          allowed=", ".join(kinds()))
    return name


def make_protocol(name: str, world: Any) -> ProtocolPort:
    """Build the protocol ``name`` on ``world`` and return it."""
    return PROTOCOLS[name].factory(world)


def attached(kind: str, scenario: Scenario) -> list[str]:
    """The protocols that run inside ``kind``'s blocks and ``scenario`` switches on."""
    return [n for n, e in PROTOCOLS.items()
            if e.attaches_to == kind and e.enabled is not None and e.enabled(scenario)]


__all__ = ["Events", "Handler", "MarketView", "PROTOCOLS", "ProtocolEntry", "ProtocolPort",
           "attached", "check_protocol", "kinds", "make_protocol", "register"]
