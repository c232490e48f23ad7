"""The world builds a run from the registries; each product assembles itself.

``World`` makes what every run has and asks the protocol registry for the product;
nothing product-specific is named in ``world.py``. The perps market's assembly keeps the
ledger's account order the pinned results were made with (the fee market opens its
accounts through the market's ``rollup_accounts`` hook, between the market's own and
the chain's), and the attached products' agents run on the block feed after the
market's own.
"""
import ast
from pathlib import Path

import numpy as np

import seqlab
from seqlab.agents.perps_feed import PerpsAgents
from seqlab.ledger import Ledger
from seqlab.protocols import PROTOCOLS
from seqlab.protocols.perps import PerpsProtocol
from seqlab.scenario.loader import parse_scenario
from seqlab.scenario.schema import Perps
from seqlab.txs import TxStore
from seqlab.world import World
from tests.pinned import shrunk

PRODUCT_WORDS = ("perps", "perp", "options", "option", "hedger", "liquidator", "keeper")


def test_world_names_no_product():
    """No identifier, attribute or import of world.py names a product or its agents:
    products enter only through the registry (``make_protocol``)."""
    tree = ast.parse((Path(seqlab.__file__).parent / "world.py").read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            names.update([node.module or "", *(a.name for a in node.names)])
    found = sorted(n for n in names if any(w in n.lower() for w in PRODUCT_WORDS))
    assert found == []


def test_every_built_in_product_is_assembled_by_its_own_module():
    for name, entry in PROTOCOLS.items():
        assert entry.factory.__module__ == "seqlab.protocols", name
        source = (Path(seqlab.__file__).parent / "protocols"
                  / f"{name.replace('-', '_')}_assembly.py")
        assert "def assemble(world" in source.read_text(encoding="utf-8"), name


def test_the_fee_market_opens_its_accounts_where_the_pinned_order_has_them():
    world = World(shrunk("default", "priority"), 1)
    names = world.ledger.names
    side = world.fees.accounts
    bots = [i for i, n in enumerate(names) if n.startswith("liquidator:")]
    assert [side.sequencer, side.searchers, side.treasury, side.proposer] == \
        list(range(bots[-1] + 1, bots[-1] + 5))
    assert [names[side.proposer + 1], names[side.proposer + 2]] == ["gas", "oracle"]
    assert world.protocol.gas == side.proposer + 1
    assert world.protocol.oracle_payer == side.proposer + 2


def test_a_market_without_a_rollup_opens_no_sequencer_accounts():
    ledger = Ledger()
    PerpsProtocol(Perps(), ledger, TxStore(), 3, ["a"])
    assert not {"sequencer", "searchers", "treasury", "proposer"} & set(ledger.names)
    opened = []
    PerpsProtocol(Perps(), Ledger(), TxStore(), 3, ["a"],
                  rollup_accounts=lambda led: opened.append(len(led.names)))
    # the outside world, wallets, margins, pool, insurance, fees, the one bot
    assert opened == [1 + 2 * 3 + 3 + 1]


def test_attached_products_feed_their_agents_after_the_market_and_read_as_the_worlds():
    world = World(shrunk("options", "fcfs"), 1)
    hooks = world.rollup.hooks
    assert isinstance(world.assembly, PerpsAgents) and hooks[0] == world.assembly.on_block
    assert hooks[1].__self__.options is world.options is world.attached["options"]
    assert world.operator_accounts is world.assembly.operator_accounts
    positions = World(parse_scenario({
        "name": "bench", "duration": "20s", "protocol": {"kind": "positions"},
        "agents": {"traders": {"accounts": 50, "rate_per_s": 20.0}}}), 1)
    assert positions.assembly is None and positions.reference is None
    assert not hasattr(positions, "operator_accounts")
    assert np.array_equal(positions.outages, np.empty((0, 2), np.int64))
