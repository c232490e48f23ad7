"""One fair-ordering tick, compiled: the block of tick ``t`` from the pending reports,
and the reports of what arrives.

A ``fair-ordering`` block usually holds a handful of transactions, so the numpy version
of a tick (``fair.block_order``, kept as the readable reference) spends nearly all of its
time dispatching some forty tiny array operations, not computing. ``emit_block`` does the
same steps in one compiled call — counts against the reports known at ``t``, the deferral
fixpoint, the strongly connected components, the batch order with the same tie-breaks —
and removes the emitted rows from the pending buffers in place, so the design keeps its
pending set in arrays with spare room instead of rebuilding five arrays every block.

It must return exactly what ``block_order`` returns (a differential test checks it on
random pending sets). Everything here is integer arithmetic and comparisons except the
median tie-break, which is computed as ``np.median`` does it: the middle value, or the
two middle values converted to float, added and halved.

``enrol`` writes what a tick receives straight into those buffers, reports and latest
report together, in place of a dozen small array operations.

One signature each (int64 arrays, a bool array, int64 scalars), so the compiled code is
built once and then read from numba's on-disk cache.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _median(row: np.ndarray, buf: np.ndarray) -> float:
    """``np.median`` of an int64 row, with the same float operations (``buf``: scratch
    of the row's length; an insertion sort, as a committee is at most 64 nodes)."""
    m = len(row)
    for k in range(m):
        x, p = row[k], k - 1
        while p >= 0 and buf[p] > x:
            buf[p + 1] = buf[p]
            p -= 1
        buf[p + 1] = x
    h = m // 2
    if m % 2:
        return float(buf[h])
    return (float(buf[h - 1]) + float(buf[h])) / 2.0


@njit(cache=True)
def _rank(ids: np.ndarray, med: np.ndarray) -> np.ndarray:
    """Rank of each row by (median, tx id); ids are distinct, so ranks are too."""
    s = len(ids)
    order = np.arange(s)
    for q in range(1, s):  # insertion sort: blocks are short
        x = order[q]
        p = q - 1
        while p >= 0 and (med[order[p]] > med[x]
                          or (med[order[p]] == med[x] and ids[order[p]] > ids[x])):
            order[p + 1] = order[p]
            p -= 1
        order[p + 1] = x
    rank = np.empty(s, np.int64)
    for q in range(s):
        rank[order[q]] = q
    return rank


@njit(cache=True)
def _components(g: np.ndarray) -> tuple[int, np.ndarray]:
    """Strongly connected components of the dense adjacency ``g`` (Kosaraju, iterative):
    (count, label per row). Only the partition matters to the order built on it."""
    s = len(g)
    seen = np.zeros(s, np.bool_)
    finish = np.empty(s, np.int64)
    nodes = np.empty(s, np.int64)
    nxt = np.empty(s, np.int64)
    nf = 0
    for root in range(s):
        if seen[root]:
            continue
        seen[root] = True
        nodes[0], nxt[0], sp = root, 0, 1
        while sp:
            u, v = nodes[sp - 1], nxt[sp - 1]
            while v < s and (seen[v] or not g[u, v]):
                v += 1
            if v < s:
                nxt[sp - 1] = v + 1
                seen[v] = True
                nodes[sp], nxt[sp] = v, 0
                sp += 1
            else:
                finish[nf] = u
                nf += 1
                sp -= 1
    label = np.full(s, -1, np.int64)
    ncomp = 0
    for f in range(s - 1, -1, -1):
        root = finish[f]
        if label[root] >= 0:
            continue
        label[root] = ncomp
        nodes[0], sp = root, 1
        while sp:
            sp -= 1
            u = nodes[sp]
            for v in range(s):
                if label[v] < 0 and g[v, u]:
                    label[v] = ncomp
                    nodes[sp] = v
                    sp += 1
        ncomp += 1
    return ncomp, label


@njit(cache=True)
def _batch_order(g: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows in batch order and the batch sizes (as ``fair._order_graph`` with distinct
    ``rank`` as tie-break): components in the topological order that takes the ready one
    with the smallest rank first, rows inside one by rank."""
    s = len(g)
    ncomp, label = _components(g)
    key = np.full(ncomp, s, np.int64)  # a component's smallest rank
    for p in range(s):
        key[label[p]] = min(key[label[p]], rank[p])
    dag = np.zeros((ncomp, ncomp), np.bool_)
    for p in range(s):
        for q in range(s):
            if g[p, q] and label[p] != label[q]:
                dag[label[p], label[q]] = True
    indeg = np.zeros(ncomp, np.int64)
    for c in range(ncomp):
        for d in range(ncomp):
            if dag[c, d]:
                indeg[d] += 1
    by_rank = np.empty(s, np.int64)
    for p in range(s):
        by_rank[rank[p]] = p
    taken = np.zeros(ncomp, np.bool_)
    flat = np.empty(s, np.int64)
    sizes = np.empty(ncomp, np.int64)
    out = 0
    for step in range(ncomp):  # Kahn, smallest key first (a DAG: one is always ready)
        best = -1
        for c in range(ncomp):
            if not taken[c] and indeg[c] == 0 and (best < 0 or key[c] < key[best]):
                best = c
        taken[best] = True
        for d in range(ncomp):
            if dag[best, d]:
                indeg[d] -= 1
        start = out
        for r in range(s):
            if label[by_rank[r]] == best:
                flat[out] = by_rank[r]
                out += 1
        sizes[step] = out - start
    return flat, sizes


@njit(cache=True)
def enrol(ids: np.ndarray, leader: np.ndarray, rep: np.ndarray, last: np.ndarray, n: int,
          new: np.ndarray, at: np.ndarray, lat: np.ndarray, own: np.ndarray, faulty: int,
          fault_delay: int) -> int:
    """Append the reports of txs ``new`` that reached the leader at ``at`` after the ``n``
    pending rows (the buffers have room); returns the new pending count.

    Node 0 reports ``at``; node ``k`` reports ``at + lat[:, k-1]``, except that the faulty
    nodes ``1..faulty`` report the operator's own txs (``own``) at ``at`` and every other
    one ``fault_delay`` later. ``last`` gets each row's latest report.
    """
    nodes = rep.shape[1]
    for r in range(len(new)):
        i, a = n + r, at[r]
        ids[i], leader[i], rep[i, 0] = new[r], a, a
        latest = a
        for k in range(1, nodes):
            x = a + lat[r, k - 1]
            if k <= faulty:
                x = a if own[r] else x + fault_delay
            rep[i, k] = x
            latest = max(latest, x)
        last[i] = latest
    return n + len(new)


@njit(cache=True)
def emit_block(ids: np.ndarray, leader: np.ndarray, rep: np.ndarray, last: np.ndarray,
               n: int, t: int, thr: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """The block of tick ``t`` from the ``n`` pending rows at the head of the buffers.

    Returns ``(rows left, emitted ids in order, their reports, batch sizes)`` and moves
    the rows that stay to the head of the buffers, in their order.
    """
    nodes = rep.shape[1]
    none = (n, np.empty(0, np.int64), np.empty((0, nodes), np.int64), np.empty(0, np.int64))
    vis = np.empty(n, np.int64)      # visible rows (reached the leader by t)
    cand = np.empty(n, np.int64)     # complete rows, as positions in ``vis``
    done = np.zeros(n, np.bool_)     # per position in ``vis``
    nv = nc = 0
    for i in range(n):
        if leader[i] <= t:
            if last[i] <= t:
                cand[nc] = nv
                nc += 1
                done[nv] = True
            vis[nv] = i
            nv += 1
    if nc == 0:
        return none
    # edge[a, j]: visible row a fairly before candidate j, over the reports known at t.
    # A candidate's reports are all in (<= t), so a report still out (> t) can never be
    # the earlier one: comparing raw times counts exactly the votes known at t.
    edge = np.zeros((nv, nc), np.bool_)
    for a in range(nv):
        ra = vis[a]
        for j in range(nc):
            rc = vis[cand[j]]
            votes = 0
            for k in range(nodes):
                if rep[ra, k] < rep[rc, k]:
                    votes += 1
            edge[a, j] = votes >= thr
    # deferral: what an incomplete row precedes waits, and so does what that precedes
    inc = np.ones(nc, np.bool_)
    stack = np.empty(nc, np.int64)
    sp = 0
    for j in range(nc):
        for a in range(nv):
            if not done[a] and edge[a, j]:
                inc[j] = False
                stack[sp] = j
                sp += 1
                break
    while sp:
        sp -= 1
        a = cand[stack[sp]]
        for j in range(nc):
            if inc[j] and edge[a, j]:
                inc[j] = False
                stack[sp] = j
                sp += 1
    sel = np.empty(nc, np.int64)
    s = 0
    for j in range(nc):
        if inc[j]:
            sel[s] = j
            s += 1
    if s == 0:
        return none
    rows = np.empty(s, np.int64)  # pending row of each selected candidate
    sel_ids = np.empty(s, np.int64)
    med = np.empty(s, np.float64)
    scratch = np.empty(nodes, np.int64)
    for q in range(s):
        rows[q] = vis[cand[sel[q]]]
        sel_ids[q] = ids[rows[q]]
        med[q] = _median(rep[rows[q]], scratch)
    rank = _rank(sel_ids, med)
    g = np.empty((s, s), np.bool_)
    for p in range(s):
        for q in range(s):
            g[p, q] = edge[cand[sel[p]], sel[q]]
    flat, sizes = _batch_order(g, rank)
    out_ids = np.empty(s, np.int64)
    out_rep = np.empty((s, nodes), np.int64)
    gone = np.zeros(n, np.bool_)
    for q in range(s):
        r = rows[flat[q]]
        out_ids[q] = ids[r]
        out_rep[q] = rep[r]
        gone[r] = True
    left = 0
    for i in range(n):  # compact: the rows that stay move up, in order
        if not gone[i]:
            if left != i:
                ids[left], leader[left], last[left] = ids[i], leader[i], last[i]
                rep[left] = rep[i]
            left += 1
    return left, out_ids, out_rep, sizes
