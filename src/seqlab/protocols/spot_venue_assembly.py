"""The live spot venue assembled beside perps (``[protocol.venue] live``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from seqlab.market.reserves import venue_depth_usd
from seqlab.protocols.spot_venue import SpotVenue

if TYPE_CHECKING:  # the world being assembled (it imports the registry, not this)
    from seqlab.world import World


def assemble(world: World) -> SpotVenue:
    """The live spot venue beside the perps market being assembled (``world.assembly``):
    keepers sell their Dutch-auction lots on it inside their takes; under the other
    mechanisms the pool unwinds each liquidated position on it right after the block."""
    host = world.assembly
    p = host.protocol
    market = world.sc.market
    venue = SpotVenue(world.sc.protocol.venue, venue_depth_usd(market), market.arb_half_life,
                      world.ledger, world.txs, p, host.reference.at)
    p.attach(venue)
    p.mark = venue.mark
    p.venue_price_at = venue.price_at  # the live pool's path, not the replay
    if host.keepers is not None:
        p.liquidation.venue = venue
    else:
        world.rollup.subscribe(venue.on_block)
    return venue
