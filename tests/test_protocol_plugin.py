"""A new protocol is one module plus one registration line.

The toy protocol below lives outside seqlab (written to a temporary folder, as a user's
own module would be): a ballot where each transaction casts its quantity as votes, one
USD a vote paid into the ballot box, and a negative vote is refused. It implements the
protocol port with a handler and a market view only (the port's ``execute`` runs the
handler per transaction); registered with ``seqlab.protocols.register``, it runs by
name from a scenario's ``[protocol] kind``, its rule shows in the stored transactions
and its own summary joins the run's.
"""
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seqlab
from seqlab import protocols
from seqlab.errors import SeqlabError
from tests.plugins import forget, import_written
from seqlab.ledger import Ledger
from seqlab.protocols.port import ProtocolPort
from seqlab.protocols.positions import PositionsProtocol
from seqlab.scenario.loader import parse_scenario
from seqlab.txs import Kind, Status, TxStore

TOY = textwrap.dedent('''
    """Ballot: a transaction casts its quantity as votes, one USD each; no negative votes."""
    import numpy as np

    from seqlab.agents.traders import position_flow
    from seqlab.protocols import ProtocolPort
    from seqlab.protocols.market_view import NoMarket
    from seqlab.txs import Kind

    VOTE_MICRO = 1_000_000


    class Ballot(ProtocolPort):
        def __init__(self, ledger, txs, voters):
            self.ledger, self.txs = ledger, txs
            self.votes = np.zeros(voters, dtype=np.int64)
            self.wallet = ledger.open_many("voter", voters)
            self.box = ledger.open("ballot_box")
            ledger.transfer_many(0, self.wallet, 5 * VOTE_MICRO, "deposit")

        def handlers(self):
            return {int(Kind.POSITION): self._vote}

        def _vote(self, voter, qty, b, block, t):
            cost = qty * VOTE_MICRO
            if qty < 0 or self.ledger.balances[self.wallet[voter]] < cost:
                return False
            self.ledger.transfer(int(self.wallet[voter]), self.box, cost, "vote")
            self.votes[voter] += qty
            return True

        def state_arrays(self):
            return [self.votes]

        def summary(self):
            return {"votes": int(self.votes.sum())}

        def market_view(self):
            return NoMarket()


    def build(world):
        traders = world.sc.agents.traders
        flow = position_flow(traders, world.horizon, 3, world.sim.rng("ballot.flow"))
        ballot = Ballot(world.ledger, world.txs, traders.accounts)
        world.preload(flow.kind, flow.account, flow.submit_us, traders.latency,
                      "ballot.latency", flow.a)
        world.start_rollup(ballot)
        return ballot
''')


def scenario(kind: str):
    return parse_scenario({
        "name": "ballot", "duration": "20s", "oracle": {"enabled": False},
        "protocol": {"kind": kind},
        "agents": {"traders": {"accounts": 50, "rate_per_s": 20.0}, "liquidators": []}})


@pytest.fixture
def ballot(tmp_path, monkeypatch):
    module = import_written(tmp_path, monkeypatch, "ballot_protocol", TOY)
    protocols.register("ballot", module.build, "toy: one USD a vote")  # the line
    yield module
    protocols.PROTOCOLS.pop("ballot")
    forget("ballot_protocol")


def test_a_registered_protocol_runs_by_name_and_its_rule_holds(ballot):
    result = seqlab.run(scenario("ballot"), report=False)
    txs, summary = result.tables["txs"], result.summary
    ran = txs["status"] != int(Status.PENDING)
    done = txs["status"] == int(Status.OK)
    assert summary["ledger_residual"] == 0 and ran.sum() > 200
    assert (txs["a"][done] >= 0).all() and (txs["status"][ran & (txs["a"] < 0)]
                                            == int(Status.FAILED)).all()
    assert summary["votes"] == int(txs["a"][done].sum()) > 0
    per_voter = np.bincount(txs["sender"][done], weights=txs["a"][done], minlength=50)
    assert per_voter.max() <= 5  # five USD each: nobody outvotes their wallet
    again = seqlab.run(scenario("ballot"), report=False)
    assert again.summary["digest"] == summary["digest"]


def test_an_unknown_protocol_is_one_clear_error(ballot):
    with pytest.raises(SeqlabError, match="protocol.kind") as err:
        scenario("ballots")
    assert "ballots" in str(err.value) and "ballot, perps, positions" in str(err.value)
    with pytest.raises(SeqlabError, match="unknown protocol 'options'"):
        scenario("options")  # runs inside perps blocks: not a kind of its own


def test_registration_refuses_a_taken_or_malformed_name():
    with pytest.raises(ValueError, match="already registered"):
        protocols.register("perps", protocols.PROTOCOLS["perps"].factory, "again")
    with pytest.raises(ValueError, match="letters, digits"):
        protocols.register("a b", protocols.PROTOCOLS["perps"].factory, "bad")
    with pytest.raises(ValueError, match="attaches_to and enabled"):
        protocols.register("half", protocols.PROTOCOLS["perps"].factory, "x",
                           attaches_to="perps")
    assert protocols.kinds() == ["perps", "positions"]
    assert "options" in protocols.PROTOCOLS


def test_every_built_in_protocol_implements_the_port():
    from tests.pinned import shrunk

    world = seqlab.world.World(shrunk("options", "fcfs"))
    for port in (world.protocol, world.options):
        assert isinstance(port, protocols.ProtocolPort)
        assert isinstance(port.market_view(), protocols.MarketView)
    assert set(world.options.handlers()) <= set(world.protocol.handlers())
    assert list(world.attached) == ["options"]
    positions = seqlab.world.World(scenario("positions")).protocol
    assert isinstance(positions, protocols.ProtocolPort) and positions.market_view().price == 0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(-10, 10)), min_size=1, max_size=40),
       st.integers(0, 3_000_000), st.integers(0, 12_000_000))
def test_the_positions_batch_path_is_its_handler_run_in_order(txs, fee, start):
    """``PositionsProtocol.execute`` (vectorised) and the port's default (its handler,
    one transaction at a time) give the same statuses, positions and balances."""
    runs = []
    for execute in (PositionsProtocol.execute, ProtocolPort.execute):
        ledger, store = Ledger(), TxStore()
        p = PositionsProtocol(ledger, store, 5, fee, start)
        sender, qty = np.array(txs, dtype=np.int64).T
        t = np.arange(len(txs), dtype=np.int64)
        ids = store.add_many(Kind.POSITION, sender, t, t, qty)
        status = execute(p, ids, np.zeros(len(ids), dtype=np.int64), t)
        assert ledger.check() == 0
        runs.append((status.tolist(), p.position.tolist(), ledger.balances.tolist()))
    assert runs[0] == runs[1]
