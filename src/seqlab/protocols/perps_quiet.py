"""A perps block that nobody reacts to, run in one compiled call.

Most blocks of a run hold only trades, closes and reduces, leave every account above
its maintenance margin and no margin manager below its trigger: then nothing of the
block feed's work (``PerpsAgents.on_block``) has any effect beyond refreshing the
margin view and the managers' flags. In Python that block costs some thirty steps and
three compiled calls (the trades, the view's refresh, the managers' look); here it is
one call, ``quiet_block``, which runs the same three kernels in the same order on the
same arrays, so every bit is as before.

``QuietBlocks.run`` takes a block only where the path it replaces would do exactly
this: the rollup has asked nothing of the block that needs Python (no tips, auction
payments, batch clearing or shared nonces; ``Rollup`` checks those), every
transaction is one the kernel runs, no funding is due, the margin view holds the
current price with nothing touched, the managers are up to date with it, and no
Dutch auction, recapture auction or hedger is on the feed. When the kernel stops at a
transaction of its own accord (a product beyond 64 bits, a loss beyond margin) the
block goes on in the protocol's Python from there, and the feed runs as always. When
the block leaves anyone to act (an account liquidatable, a manager due, an owner's
patience spent) the feed runs, finding the view already refreshed.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from seqlab.agents.trigger_kernel import examine
from seqlab.protocols.fixed import PPM
from seqlab.protocols.margin_kernel import recompute
from seqlab.protocols.perps_kernel import NTOUCHED, run_trades
from seqlab.txs import Kind

_KERNEL_KINDS = frozenset((int(Kind.TRADE), int(Kind.CLOSE), int(Kind.REDUCE)))
# ``out`` slots: what the view's count and the managers' due count changed by, and
# whether the view was refreshed (the kernel ran the whole block, few accounts touched)
COUNT, DUE, REFRESHED = range(3)


@njit(cache=True)
def quiet_block(ids: np.ndarray, kinds: np.ndarray, senders: np.ndarray, a: np.ndarray,
                b: np.ndarray, fill_of: np.ndarray, size: np.ndarray, basis: np.ndarray,
                traded: np.ndarray, exposure: np.ndarray, price_time_at: np.ndarray,
                price_time: float, balances: np.ndarray, margin_of: np.ndarray,
                state: np.ndarray, status: np.ndarray, rows: np.ndarray,
                touched: np.ndarray, price: float, mm_ppm: int, equity: np.ndarray,
                notional: np.ndarray, below: np.ndarray, managed: np.ndarray,
                pending: np.ndarray, low: np.ndarray, due: np.ndarray, trigger: float,
                rate: float, few: int, out: np.ndarray) -> int:
    """``run_trades`` over the block; if it ran every transaction and touched at most
    ``few`` accounts, ``recompute`` of the touched accounts (the view's partial
    refresh) and ``examine`` of them (the managers' look), in that order. Returns where
    the kernel stopped (``len(ids)``: nowhere); ``out`` gets the changes."""
    out[COUNT] = out[DUE] = out[REFRESHED] = 0
    end = run_trades(ids, kinds, senders, a, b, fill_of, 0, size, basis, traded, exposure,
                     price_time_at, price_time, balances, margin_of, state, status, rows,
                     touched)
    n = state[NTOUCHED]
    if end < len(ids) or n > few:
        return end
    if n:
        changed = touched[:n]
        out[COUNT] = recompute(changed, price, mm_ppm, balances, margin_of, size, basis,
                               equity, notional, below)
        out[DUE] = examine(changed, managed, pending, low, due, notional, equity, trigger,
                           rate)
    out[REFRESHED] = 1
    return end


class QuietBlocks:
    """The rollup's shortcut for a perps market's quiet blocks (``Rollup.shortcut``):
    ``agents`` is the market's ``PerpsAgents``, whose ``on_block`` it answers for."""

    def __init__(self, agents) -> None:
        self.agents = agents
        self.p = self.protocol = agents.protocol
        self.hook = agents.on_block
        self.out = np.zeros(3, np.int64)

    def applies(self) -> bool:
        """Whether the market's set-up lets any block be quiet (asked as the rollup
        starts and whenever its subscribers change)."""
        agents, p = self.agents, self.p
        return p.fallback is None and p.quotes(0) is None and agents.recapture is None \
            and agents.hedgers is None and agents.managers is not None

    def run(self, ids: np.ndarray, block: int, t_us: int) -> tuple[np.ndarray, bool] | None:
        """Execute block ``block`` of ``ids`` at ``t_us``: its statuses, and whether the
        feed has nothing left to do with it; None when the block is not one to take
        (nothing has happened to it then)."""
        p = self.p
        kinds = p.txs.kind[ids].tolist()
        if not _KERNEL_KINDS.issuperset(kinds) or not p._kernel_applies():
            return None
        p.begin_block(t_us)  # funding may make the view stale: asked after it
        view, agents = p.margin_view, self.agents
        if view.price != p.price or view.touched or view._first is not None \
                or agents._margin_seen != view.generation:
            return None  # the protocol's own path: begin_block will not run twice
        p._liquidations_run = False
        p._batch_px = None
        kernel = p._kernel
        if not kernel.load(p, len(ids)):
            return None
        status = np.zeros(len(ids), dtype=np.int8)
        managers, txs, out = agents.managers, p.txs, self.out
        end = quiet_block(ids, txs.kind, txs.sender, txs.a, txs.b, txs.fill, p.size,
                          p.basis, p.traded, p.exposure, p._price_time_at, p._price_time,
                          p.ledger.balances, p.margin, kernel.state, status, kernel.rows,
                          kernel.touched, p.price / PPM, p.mm_ppm, view.equity,
                          view.notional, view.below, managers.managed, managers.pending,
                          managers.low, managers.due, managers.cfg.trigger,
                          p.mm_ppm / PPM, min(view.FEW, managers.FEW), out)
        refreshed = out.item(REFRESHED)
        kernel.store(p, touch=not refreshed)
        if end < len(ids):  # the protocol's handlers go on from the transaction it left
            p._execute_compiled(ids, kinds, np.full(len(ids), block, np.int64),
                                np.full(len(ids), t_us, np.int64), False, end, status)
            return status, False
        if not refreshed:
            return status, False
        touched = kernel.state.item(NTOUCHED)
        if touched:
            view.logged(kernel.touched[:touched].copy(), out.item(COUNT))
        managers.n_due += out.item(DUE)
        recourse = managers.recourse
        quiet = not view.count and not managers.n_due \
            and (recourse is None or t_us < recourse.next_due)
        if quiet:
            agents._margin_seen = view.generation
        return status, quiet
