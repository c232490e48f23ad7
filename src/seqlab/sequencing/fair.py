"""Receive-order fairness with a γ·n vote threshold, ordered in Aequitas's batch order.

The rule, exactly: ``a`` must come before ``b`` when at least ``ceil(gamma·nodes)`` of
the ``nodes`` reports have ``a`` received strictly before ``b`` — γ-receive-order-fairness
as defined by Kelkar, Zhang, Goldfeder and Juels ("Order-Fairness for Byzantine
Consensus", CRYPTO 2020), counted over every node's report. Where those edges form
cycles, the paper's batch-order-fairness relaxation applies: each strongly connected
component is one batch, and only pairs in different batches are guaranteed. This is not
Aequitas's own protocol, whose leader builds the graph from the first n − f local orders
it collects with an edge threshold that grows with the faulty count f; here every node
reports (faulty ones lie rather than stay silent) and the threshold depends on γ and n
only. ``cfg.fair.faulty`` therefore changes what is reported, not the threshold.

Each of ``cfg.fair.nodes`` nodes reports the time it received every transaction. Node 0
is the leader (the node the network delivers to); node ``k >= 1`` receives a transaction
a lognormal ``cfg.fair.node_latency`` after the leader did (drawn with
``keyed_normals(seed, "fair.node", tx id, k)``, so the draw belongs to the transaction and
the node, not to the order of events). Nodes ``1..faulty`` are faulty and collude with
the operator: they report the operator's own transactions as received the moment they
reached the leader, and every other transaction ``fault_delay`` later than they really got
it. Every node reports every transaction; faulty nodes lie rather than stay silent, so
waiting for all ``nodes`` reports always terminates.

``C[a, b]`` counts the nodes that report ``a`` strictly before ``b``. With
``thr = ceil(gamma·nodes)``, ``C[a, b] >= thr`` is an edge ``a -> b``: ``a`` must be
ordered before ``b``. Edges can form Condorcet cycles; each strongly connected component
of the graph is one batch, and batches follow a topological order of the condensation
(``fair_order``).

The design, tick by tick (a transaction is *complete* once every node's report is in,
i.e. all its reported times are ``<= t``; from then on every vote on a pair ``(a, b)`` is
known, because a node that has not received ``a`` yet votes ``b`` first):

1. with an operator hosted, the transactions that reached the leader since the operator
   last looked are offered to ``Operator.plan(..., can_hold=False)``; its block layout
   is ignored (this design orders), but the transactions it creates enter the committee
   at ``t`` (leader and faulty nodes report ``t``, honest nodes ``t`` + node latency).
   Each transaction is offered once: the operator assumes that whatever it does not hold
   leaves with the block it planned, and offering the same oracle update or victim again
   would make it open the same trade or sandwich again. Its own transactions are never
   offered back to it;
2. the complete transactions are included, except that a transaction ``b`` is deferred
   while some pending transaction ``a`` that is not included has ``C[a, b] >= thr``
   (repeated to a fixpoint: a deferred transaction defers its successors);
3. the included set is ordered with ``fair_order`` (tie-break: median reported receive
   time, then tx id) and is the block of tick ``t``.

Guarantee: for any two emitted transactions in different batches, if ``C[a, b] >= thr``
over their full reported receive times, ``a`` is emitted before ``b``. (When ``b`` is
emitted at ``t`` it is complete, so ``C[a, b]`` is already final; an ``a`` not yet
emitted defers ``b``, or is in the same block where the topological order puts it first,
or has not reached the leader and then ``C[a, b] = 0``.)

``max_txs_per_block`` is ignored: cutting a block would split batches and break the
guarantee, so a block holds everything that is ready.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from seqlab.scenario.schema import Sequencer
from seqlab.sequencing.base import Blocks, Design
from seqlab.sequencing.fair_kernel import emit_block, enrol
from seqlab.sequencing.fair_latency import NodeLatencies
from seqlab.sequencing.strategies import HostsOperator

__all__ = ["FairOrderingDesign", "ReportedTimes", "block_order", "fair_order",
           "precedence_counts", "threshold"]

_UNKNOWN = np.iinfo(np.int64).max  # a report not in yet (later than any real time)
_NO_IDS = np.empty(0, np.int64)
_NO_IDS.flags.writeable = False


# --------------------------------------------------------------------------------------
# pure functions
# --------------------------------------------------------------------------------------
def threshold(gamma: float, n: int) -> int:
    """``ceil(gamma·n)``, the votes an edge needs (robust to ``0.7·10 = 7.000…01``)."""
    return max(1, math.ceil(round(gamma * n, 9)))


def precedence_counts(recv: np.ndarray) -> np.ndarray:
    """``C[a, b]`` = number of nodes ``k`` with ``recv[a, k] < recv[b, k]`` (m × m, int64).

    ``recv`` is (m transactions × n nodes) receive times; ties vote for neither.
    """
    recv = np.asarray(recv)
    return _counts(recv, recv)


def _counts(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``C[i, j]`` = nodes where ``rows[i]`` is strictly earlier than ``cols[j]``."""
    out = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for k in range(rows.shape[1]):  # one m×m comparison per node: no m×m×n temporary
        out += rows[:, k, None] < cols[None, :, k]
    return out


def fair_order(recv: np.ndarray, gamma: float, tiebreak: np.ndarray) -> list[np.ndarray]:
    """Batches (arrays of row indices of ``recv``) in batch order.

    Edge ``a -> b`` iff ``C[a, b] >= ceil(gamma·n)``. Each strongly connected component is
    one batch; batches come in a topological order of the condensation, ready batches
    taken by the smallest ``tiebreak`` in the batch, then the smallest row index; inside
    a batch rows go by ``tiebreak``, then index.
    """
    recv = np.asarray(recv)
    m, n = recv.shape
    if m == 0:
        return []
    edges = precedence_counts(recv) >= threshold(gamma, n)
    flat, sizes = _order_graph(edges, np.asarray(tiebreak))
    return np.split(flat, np.cumsum(sizes)[:-1])


SMALL_GRAPH = 64  # up to this many transactions, components come from dense closure


def strong_components(edges: np.ndarray) -> tuple[int, np.ndarray]:
    """Strongly connected components of a boolean adjacency: (count, label per row).

    A block's graph is usually a handful of transactions, where building a sparse matrix
    costs far more than the search; there the components come from the transitive
    closure by repeated squaring (two rows are one component when each reaches the
    other). Labels may differ from a graph search's, but the partition is the same, and
    the order built on it depends only on the partition.
    """
    m = len(edges)
    if m > SMALL_GRAPH:
        return connected_components(csr_matrix(edges), directed=True, connection="strong")
    reach = edges | np.eye(m, dtype=bool)
    while True:
        step = reach.astype(np.int32)
        closer = (step @ step) > 0
        if np.array_equal(closer, reach):
            break
        reach = closer
    first = np.argmax(reach & reach.T, axis=1)  # the smallest row of each one's component
    roots, label = np.unique(first, return_inverse=True)
    return len(roots), label


def _order_graph(edges: np.ndarray, tiebreak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in batch order and the batch sizes, for the boolean adjacency ``edges``."""
    m = len(edges)
    idx = np.arange(m)
    if m == 1:
        return idx, np.ones(1, dtype=np.int64)
    ncomp, label = strong_components(edges)
    # each batch's key: (smallest tiebreak, smallest index), as a rank
    min_tb = np.full(ncomp, np.inf)
    np.minimum.at(min_tb, label, tiebreak.astype(np.float64))
    min_idx = np.full(ncomp, m)
    np.minimum.at(min_idx, label, idx)
    key = np.empty(ncomp, dtype=np.int64)
    key[np.lexsort((min_idx, min_tb))] = np.arange(ncomp)
    # condensation (a DAG) and its smallest-key-first topological order
    a, b = np.nonzero(edges)
    ca, cb = label[a], label[b]
    cross = ca != cb
    ca, cb = ca[cross], cb[cross]
    if not (key[ca] > key[cb]).any():
        topo = np.argsort(key)  # key order is already topological: Kahn would agree
    else:
        dag = np.zeros((ncomp, ncomp), dtype=np.int64)
        dag[ca, cb] = 1
        topo = _kahn(dag, key)
    pos = np.empty(ncomp, dtype=np.int64)
    pos[topo] = np.arange(ncomp)
    flat = np.lexsort((idx, tiebreak, pos[label]))
    sizes = np.bincount(label, minlength=ncomp)[topo]
    return flat, sizes


def _kahn(dag: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Topological order of ``dag`` taking the ready node of smallest ``key`` first."""
    ncomp = len(key)
    indeg = dag.sum(axis=0)
    done = np.iinfo(np.int64).max
    topo = np.empty(ncomp, dtype=np.int64)
    for step in range(ncomp):
        c = int(np.argmin(np.where(indeg == 0, key, done)))
        topo[step] = c
        indeg -= dag[c]
        indeg[c] = -1  # taken; its predecessors are all taken, so it stays -1
    return topo


def block_order(ids: np.ndarray, leader: np.ndarray, rep: np.ndarray, last: np.ndarray,
                t: int, thr: int) -> tuple[np.ndarray, np.ndarray]:
    """The block of tick ``t`` from pending rows: (rows emitted, in order; batch sizes).

    Steps 2 and 3 of the module docstring in numpy: the readable reference that the
    compiled ``fair_kernel.emit_block``, which the design runs, must match exactly.
    """
    none = np.empty(0, np.int64), np.empty(0, np.int64)
    complete = last <= t
    if not complete.any():
        return none
    visible = np.flatnonzero(leader <= t)  # others: no node has them yet
    rep = rep[visible]
    known = np.where(rep <= t, rep, _UNKNOWN)
    done = complete[visible]
    cols = np.flatnonzero(done)              # candidates, as rows of ``visible``
    edge = _counts(known, known[cols]) >= thr  # visible × candidates
    inc = np.ones(len(cols), dtype=bool)
    newly = edge[~done].any(axis=0)
    while newly.any():  # deferred txs defer their successors, to a fixpoint
        inc &= ~newly
        newly = edge[cols[newly]].any(axis=0) & inc
    if not inc.any():
        return none
    sel = cols[inc]
    rank = np.empty(len(sel), dtype=np.int64)
    rank[np.lexsort((ids[visible[sel]], np.median(rep[sel], axis=1)))] = np.arange(len(sel))
    flat, sizes = _order_graph(edge[sel][:, inc], rank)
    return visible[sel][flat], sizes


# --------------------------------------------------------------------------------------
# the design
# --------------------------------------------------------------------------------------
class ReportedTimes(Mapping):
    """Read-only ``tx id -> reported receive row`` for every emitted tx.

    Stored as array chunks (one per block), not one object per transaction; ``ids`` and
    ``matrix`` give the whole table at once for vectorised metrics.
    """

    def __init__(self, nodes: int) -> None:
        self._nodes = nodes
        self._chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _add(self, ids: np.ndarray, rows: np.ndarray) -> None:
        self._chunks.append((ids, rows))
        self._cache = None

    def _table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if self._cache is None:
            if self._chunks:
                ids = np.concatenate([c[0] for c in self._chunks])
                mat = np.concatenate([c[1] for c in self._chunks])
            else:
                ids = np.empty(0, np.int64)
                mat = np.empty((0, self._nodes), np.int64)
            self._chunks = [(ids, mat)] if len(ids) else []
            self._cache = (ids, mat, np.argsort(ids, kind="stable"))
        return self._cache

    @property
    def ids(self) -> np.ndarray:
        """Emitted tx ids, in emission order."""
        return self._table()[0]

    @property
    def matrix(self) -> np.ndarray:
        """Reported receive times (len(ids) × nodes), row i for ``ids[i]``."""
        return self._table()[1]

    def __getitem__(self, tx: int) -> np.ndarray:
        ids, mat, order = self._table()
        i = int(np.searchsorted(ids, tx, sorter=order))
        if i == len(ids) or ids[order[i]] != tx:
            raise KeyError(tx)
        return mat[order[i]]

    def __iter__(self) -> Iterator[int]:
        return iter(self.ids.tolist())

    def __len__(self) -> int:
        return sum(len(c[0]) for c in self._chunks)

    def __contains__(self, tx: object) -> bool:
        try:
            self[tx]  # type: ignore[index]
        except (KeyError, TypeError):
            return False
        return True


class FairOrderingDesign(HostsOperator, Design):
    """Receive-order fairness in batch order over ``cfg.fair.nodes`` (see the module
    docstring).

    With ``strategies`` (non-empty) the leader is an extractive ``Operator`` that may
    insert transactions but neither order nor hold them: the committee places them by
    their reported receive times, so the operator has no place ahead of an update or
    around a victim to trade from (``operator_orders`` False).
    """

    name = "fair-ordering"
    public_mempool = True  # nodes gossip pending txs: anyone can watch them
    operator_orders = False  # the committee's vote orders the operator's txs too
    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] | None = None,
                 name: str | None = None) -> None:
        super().__init__(cfg)
        fair = cfg.fair
        self.name = name or self.name
        self.nodes = fair.nodes
        self.faulty = min(fair.faulty, fair.nodes - 1)
        self.threshold = threshold(fair.gamma, fair.nodes)
        self.host(cfg.strategy, strategies)
        # pending (received, not emitted) transactions: the first ``_n`` rows of buffers
        # with spare room (a block removes rows in place, an arrival appends)
        self._n = 0
        self._ids = np.empty(0, np.int64)
        self._leader = np.empty(0, np.int64)        # arrival at the leader (node 0)
        self._rep = np.empty((0, self.nodes), np.int64)  # reported receive times
        self._last = np.empty(0, np.int64)          # latest report (complete once <= t)
        # received outside txs not yet shown to the operator (with an operator hosted)
        self._unoffered = (np.empty(0, np.int64), np.empty(0, np.int64))  # ids, leader
        self._latency = NodeLatencies(fair.node_latency, self.nodes)
        self.reported = ReportedTimes(self.nodes)
        self._batch_chunks: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, sizes)
        self._batches: list[np.ndarray] | None = None

    # interface --------------------------------------------------------------------
    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        if not len(ids):
            return
        ids = np.asarray(ids, np.int64)
        arrival = np.asarray(arrival_us, np.int64)
        own = self._own(ids)
        self._add(ids, arrival, own)
        if self.operator is not None and self.view is not None:  # as ``_offer`` runs
            fresh = ~own
            ids_, at = self._unoffered
            self._unoffered = (np.concatenate((ids_, ids[fresh])),
                               np.concatenate((at, arrival[fresh]))) if len(ids_) \
                else (ids[fresh], arrival[fresh])  # the usual tick: all offered last time

    def pending(self) -> int:
        return self._n

    @property
    def batches(self) -> list[np.ndarray]:
        """Every emitted batch (tx ids, in execution order), in emission order."""
        if self._batches is None:
            out: list[np.ndarray] = []
            for ids, sizes in self._batch_chunks:
                out += np.split(ids, np.cumsum(sizes)[:-1])
            self._batches = out
        return self._batches

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        out = []
        hosting = self.operator is not None and self.view is not None
        for k, t in enumerate(np.asarray(ticks, np.int64).tolist()):
            if hosting:
                self._offer(t)
            out.append((k, self._block(t)))
        if len(out) == 1:  # the usual call: one tick, its block as it is
            ids = out[0][1]
            return Blocks(ids, np.zeros(len(ids), np.int64))
        return Blocks.collect(out)

    # receive times ----------------------------------------------------------------
    def _own(self, ids: np.ndarray) -> np.ndarray:
        """Which of ``ids`` the operator created."""
        if self.view is None:
            return np.zeros(len(ids), dtype=bool)
        return self.view.txs.own(ids)

    def _add(self, ids: np.ndarray, leader: np.ndarray, own: np.ndarray) -> None:
        """Enrol txs that reached the leader at ``leader`` with every node's report."""
        n, m = self._n, len(ids)
        if n + m > len(self._ids):
            self._grow(n + m)
        if self.nodes > 1:
            seed = int(getattr(self.view, "seed", 0) or 0)
            lat = self._latency.of(seed, ids)
        else:
            lat = np.empty((m, 0), np.int64)
        self._n = enrol(self._ids, self._leader, self._rep, self._last, n, ids, leader, lat,
                        own, self.faulty, self.cfg.fair.fault_delay)

    def _grow(self, need: int) -> None:
        """Room for ``need`` pending rows, at least doubling (amortised O(1) arrivals)."""
        size, n = max(need, 2 * len(self._ids), 64), self._n
        for name in ("_ids", "_leader", "_rep", "_last"):
            old = getattr(self, name)
            new = np.empty((size,) + old.shape[1:], np.int64)
            new[:n] = old[:n]
            setattr(self, name, new)

    # one tick -----------------------------------------------------------------------
    def _offer(self, t: int) -> None:
        """Show the operator what newly reached the leader; enrol what it creates."""
        ids, at = self._unoffered
        if not len(ids):
            return
        now = at <= t
        if False not in now.tolist():  # all reached it (a few ints: no reduction)
            self._unoffered = (ids[:0], at[:0])
        else:
            self._unoffered = (ids[~now], at[~now])
            ids, at = ids[now], at[now]
            if not len(ids):
                return
        if len(ids) > 1:
            order = np.lexsort((ids, at))
            ids, at = ids[order], at[order]
        view = self.view
        first = view.txs.count
        self.operator.plan(ids, at, t, can_hold=False)
        if view.txs.count == first:  # it inserted nothing (most ticks)
            return
        new = view.txs.inserted_since(first)
        if len(new):
            leader = np.full(len(new), t, dtype=np.int64)
            self._add(new, leader, np.ones(len(new), dtype=bool))

    def _block(self, t: int) -> np.ndarray:
        """The block of tick ``t`` (tx ids in order); emitted txs leave the pending set."""
        if not self._n:
            return _NO_IDS
        self._n, ids, rows, sizes = emit_block(self._ids, self._leader, self._rep,
                                               self._last, self._n, t, self.threshold)
        if len(ids):
            self._record(ids, rows, sizes)
        return ids

    def _record(self, ids: np.ndarray, rows: np.ndarray, sizes: np.ndarray) -> None:
        self.reported._add(ids, rows)
        self._batch_chunks.append((ids, sizes))
        self._batches = None
