"""The benchmark protocol assembled on a world (``[protocol] kind = "positions"``)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from seqlab.agents.traders import position_flow
from seqlab.protocols.fixed import PPM
from seqlab.protocols.positions import PositionsProtocol
from seqlab.txs import TxStore

if TYPE_CHECKING:  # the world being assembled (it imports the registry, not this)
    from seqlab.world import World


def assemble(world: World) -> PositionsProtocol:
    """The benchmark protocol and its order flow, on a rollup that runs until every
    transaction is in when the traders send a fixed number (``max_txs``)."""
    tr, pos = world.sc.agents.traders, world.sc.protocol.positions
    flow = position_flow(tr, world.horizon, pos.max_qty, world.sim.rng("traders"))
    world.txs = TxStore(len(flow.submit_us))
    protocol = PositionsProtocol(world.ledger, world.txs, tr.accounts,
                                 int(round(pos.fee_usd * PPM)), 1_000 * PPM)
    world.preload(flow.kind, flow.account, flow.submit_us, tr.latency, "traders.latency",
                  flow.a)
    world.start_rollup(protocol, drain=tr.max_txs is not None)
    return protocol
