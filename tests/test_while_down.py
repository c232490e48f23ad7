"""What a down sequencer does with the transactions that reach it (``while_down``)."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seqlab.kernel import Simulation
from seqlab.network import Network
from seqlab.outages import inside, merge_windows
from seqlab.rollup.chain import Rollup
from seqlab.scenario import load_scenario, parse_scenario
from seqlab.scenario.schema import Sequencer
from seqlab.sequencing import make_design
from seqlab.txs import Kind, Status, TxStore
from seqlab.world import World

MS = 1_000
MINUTE = 60_000_000


class Recorder:
    """A protocol that executes everything and remembers the order."""

    def __init__(self) -> None:
        self.seen: list[int] = []

    def execute(self, ids, block, t_us, batch=False):
        self.seen.extend(ids.tolist())
        return np.full(len(ids), Status.OK, dtype=np.int8)

    def end_block(self, ids) -> None:
        pass


def chain(arrival: np.ndarray, windows: np.ndarray, while_down: str,
          horizon: int) -> tuple[Rollup, Recorder, TxStore]:
    sim, txs, net = Simulation(1), TxStore(), Network()
    ids = txs.add_many(Kind.TRADE, 0, arrival, arrival)
    net.preload(ids, arrival)
    protocol = Recorder()
    rollup = Rollup(sim, make_design(Sequencer()), net, txs, protocol, horizon)
    rollup.outages, rollup.while_down = windows, while_down
    rollup.start()
    sim.run(until=horizon)
    return rollup, protocol, txs


windows_st = st.lists(st.tuples(st.integers(0, 20_000), st.integers(1, 5_000)), max_size=4)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 25_000), min_size=1, max_size=200), windows_st,
       st.sampled_from(["reject", "queue"]))
def test_a_refused_transaction_never_executes(arrivals_ms, spans, while_down):
    """Rejecting: exactly the transactions that arrived in a down window fail and never
    reach the protocol; every other one executes once. Queueing: all execute once."""
    arrival = np.sort(np.array(arrivals_ms, dtype=np.int64)) * MS
    windows = merge_windows([(s * MS, (s + d) * MS) for s, d in spans])
    horizon = 40_000 * MS  # past every window: the backlog has a tick to clear
    rollup, protocol, txs = chain(arrival, windows, while_down, horizon)
    down = inside(windows, arrival) if while_down == "reject" else np.zeros(len(arrival), bool)
    executed = np.array(protocol.seen, dtype=np.int64)
    assert len(np.unique(executed)) == len(executed)
    assert set(executed.tolist()) == set(np.flatnonzero(~down).tolist())
    n = len(arrival)
    assert (txs.status[:n][down] == Status.FAILED).all() and (txs.block[:n][down] == -1).all()
    assert rollup.refused == int(down.sum())


def test_inside_matches_a_scan():
    windows = np.array([[10, 20], [30, 31]], dtype=np.int64)
    t = np.arange(0, 40, dtype=np.int64)
    scan = np.array([any(s <= x < e for s, e in windows) for x in t])
    assert (inside(windows, t) == scan).all()
    assert not inside(np.empty((0, 2), np.int64), t).any()


def run_tiny(while_down: str):
    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["sequencer"]["outages"] = [{"start": "3min", "duration": "3min"}]
    data["sequencer"]["while_down"] = while_down
    data["agents"]["margin_managers"]["share"] = 1.0
    w = World(parse_scenario(data))
    result = w.run()
    assert result.summary["ledger_residual"] == 0
    return w, result


def test_a_halt_refuses_the_hour_and_the_bots_act_again():
    """On a perps run: what reached the halted sequencer fails and is never in a block;
    the ledger balances; the oracle's newest refused report is sent again and lands at
    the restart; no bot or margin manager is left waiting on a refused transaction."""
    w, result = run_tiny("reject")
    txs = w.txs
    n = txs.n
    arrival, status = txs.arrival_us[:n], txs.status[:n]
    down = (arrival >= 3 * MINUTE) & (arrival < 6 * MINUTE)
    assert down.sum() > 100
    assert (status[down] == Status.FAILED).all() and (txs.block[:n][down] == -1).all()
    assert result.summary["refused_while_down"] == int(down.sum())
    blocks = result.tables["blocks"]["t_us"]
    assert not ((blocks >= 3 * MINUTE) & (blocks < 6 * MINUTE)).any()
    oracle = (txs.kind[:n] == Kind.ORACLE) & (txs.included_us[:n] >= 0)
    assert (txs.included_us[:n][oracle] == 6 * MINUTE).sum() == 1
    refused_oracle = down & (txs.kind[:n] == Kind.ORACLE)
    newest = np.flatnonzero(refused_oracle)[np.argmax(txs.b[:n][refused_oracle])]
    again = oracle & (txs.included_us[:n] == 6 * MINUTE)
    assert txs.a[:n][again][0] == txs.a[newest] and txs.b[:n][again][0] == txs.b[newest]
    # nobody waits on a refused transaction: flags clear, or a newer one is in flight
    liq = txs.kind[:n] == w.liquidators.kind
    for i in np.flatnonzero(down & liq):
        bot, account = int(txs.sender[i]), int(txs.b[i])
        if bot < len(w.liquidators.cfgs) and w.liquidators.pending[bot, account]:
            later = liq & (txs.sender[:n] == bot) & (txs.b[:n] == account) \
                & (status == Status.PENDING)
            assert later.any()
    topups = (txs.kind[:n] == Kind.TOPUP) & down
    for owner in np.unique(txs.sender[:n][topups]):
        if w.managers.pending[owner]:
            mine = (txs.kind[:n] == Kind.TOPUP) & (txs.sender[:n] == owner)
            assert (status[mine] == Status.PENDING).any()


def test_queueing_keeps_the_backlog_for_the_restart():
    w, result = run_tiny("queue")
    txs = w.txs
    n = txs.n
    arrival = txs.arrival_us[:n]
    down = (arrival >= 3 * MINUTE) & (arrival < 6 * MINUTE)
    assert down.sum() > 100 and (txs.included_us[:n][down] >= 6 * MINUTE).all()
    assert result.summary["refused_while_down"] == 0
