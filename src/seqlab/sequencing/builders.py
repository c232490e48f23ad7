"""Proposer-builder separation: independent builders bid for each block, the proposer
sells it to the highest bid.

``count`` builders (``builder.Builder``) receive the order flow, each with its own extra
latency behind the sequencer; a share of user transactions (``private_share``) goes
privately to one builder only. Each builder has its own accounts, its own kind
(honest, extractive or specialised: ``mix``) and its own strategy state.

At every tick each builder values the block it would build from what it has seen and
bids that value less the margin it keeps for its costs (``margin``). Builders running
the same strategies on the same flow value a block alike, so the default market, three
searcher-integrated builders beside a specialised and a neutral one, passes most of
the value to the proposer, as MEV-Boost's competing builders do. The auction is open, as
MEV-Boost's repeated bidding is in effect: the highest bid wins and pays the
second-highest bid (nothing when it is alone), an on-chain transfer to the proposer
at the top of the block. With competitors of similar value most of a block's value goes
to the proposer; a lone builder keeps it. When no builder bids, the proposer builds
locally: the public transactions it has, in arrival order.

The winner builds the block from its own view only: an honest builder includes all it
has seen by arrival; an extractive or specialised one runs its strategies (it may order,
insert and leave transactions out). What it leaves out stays pending, so censorship
lasts only as long as censoring builders keep winning: the next winner that does not
censor includes it. A builder that traded ahead of an oracle update, held the update
and lost the next auction sees a rival's block execute it; it then sends its closing
trade to the public flow, for the next block, rather than keep a naked position.

With ``inclusion_lists`` (FOCIL, EIP-7805, off by default) the proposer publishes,
a third of a block before the tick (the IL deadline at about 2/3 of the slot), the
public transactions it has seen; the winning block must contain them. The builder may
still place them where it likes, so it can liquidate an account before the top-up that
would have saved it: lists force inclusion, not order.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from scipy.special import ndtr

from seqlab.arrays import member
from seqlab.kernel import keyed_normals
from seqlab.protocols.perps import PPM
from seqlab.rollup.fees import Capabilities
from seqlab.scenario.schema import Latency, Sequencer
from seqlab.sequencing.base import Blocks, QueuedDesign, blocks_per_tick
from seqlab.sequencing.block_values import block_values
from seqlab.sequencing.builder import Builder
from seqlab.sequencing.builder_draws import BuilderLatencies, TieDraws
from seqlab.sequencing.operator import OperatorView
from seqlab.txs import Kind

PUBLIC = -1  # owner of a transaction every builder (and the proposer) receives


class BuildersDesign(QueuedDesign):
    """A block auction among ``count`` independent builders at every tick."""

    name = "builders"
    # the winning builder is the block's fee recipient and pays the proposer its bid
    capabilities = Capabilities(tips=True, builder_bids=True)

    def __init__(self, cfg: Sequencer, strategies: tuple[str, ...] = ()) -> None:
        super().__init__(cfg)
        b = cfg.builders
        self.builders = b.count
        self.latency = [b.latency[i] if i < len(b.latency)
                        else Latency(median=f"{5 * (i + 1)}ms", sigma=0.3)
                        for i in range(b.count)]
        self.private_share = b.private_share
        self.margin = b.margin
        self.inclusion_lists = b.inclusion_lists
        self.list_lead = cfg.block_time // 3
        # the strategies an extractive builder runs; none at all when the scenario hosts
        # no operator (strategy.operator = false): then every builder is honest
        self.members = [Builder(i, kind, _strategies(kind, strategies), cfg.strategy)
                        for i, kind in enumerate(b.kinds())]
        self.view: OperatorView | None = None
        # keyed draws, made once the seed is known
        self.delays: BuilderLatencies | None = None
        self.ties: TieDraws | None = None
        # the builder each queued private tx goes to (PUBLIC: every builder sees it, its
        # delay behind the sequencer after its arrival)
        self._owner = np.empty(0, dtype=np.int64)
        self.local_blocks = 0
        self.local_tips_micro = 0
        self.winners: list[tuple[int, int]] = []  # (tick, winning builder; -1: local block)

    def attach(self, view: OperatorView) -> None:
        self.view = view
        self.delays = BuilderLatencies(view.seed, self.latency)
        self.ties = TieDraws(view.seed, self.builders, self.block_time)

    def _ready(self) -> None:
        """Give each builder its view (its own accounts) once the world is wired: the
        options protocol joins the shared view after the design is attached."""
        if self.members[0].view is None:
            for m, own in zip(self.members, self.view.accounts.builders):
                m.attach(dataclasses.replace(self.view, accounts=own))

    def receive(self, ids: np.ndarray, arrival_us: np.ndarray) -> None:
        if not len(ids):
            return
        seed = self.view.seed
        owner = np.full(len(ids), PUBLIC, dtype=np.int64)
        if self.private_share > 0:
            user = self.view.origin(ids) >= 0
            u = ndtr(keyed_normals(seed, "builders.private", ids, 0))  # uniform in (0, 1)
            private = user & (u < self.private_share)
            chosen = (np.abs(keyed_normals(seed, "builders.owner", ids, 0)) * 1e6
                      ).astype(np.int64) % self.builders
            owner = np.where(private, chosen, PUBLIC)
        self.queue.add(ids, arrival_us)
        self._owner = np.concatenate((self._owner, owner))

    def _seen(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        """Which builders have seen each eligible transaction by ``now`` (one column per
        builder): a public one from its arrival plus the builder's own delay behind the
        sequencer, a private one only its builder, as soon as it arrives."""
        seen = self.delays.seen(eligible, arrival) <= now
        if self.private_share > 0:
            owner = self._owner[: len(eligible), None]
            seen &= (owner == PUBLIC) | (owner == np.arange(self.builders)[None, :])
        return seen

    def take_overdue(self, deadline_us: int) -> np.ndarray:
        """Forced inclusion takes late transactions from every builder's view too: they
        are the head of the arrival-ordered queue, so their owners the head of ``_owner``."""
        late = super().take_overdue(deadline_us)
        self._owner = self._owner[len(late):]
        return late

    def honours_bundles(self, t_us: int) -> bool:
        """Whether the block at ``t_us`` was built by a builder that keeps bundles: the
        proposer's own and an honest builder's do, a backrunning builder's do not."""
        for tick, winner in reversed(self.winners):
            if tick == t_us:
                return winner < 0 or "backrun" not in self.members[winner].strategies
            if tick < t_us:
                break
        return True

    def build_blocks(self, ticks: np.ndarray) -> Blocks:
        self._ready()
        return blocks_per_tick(ticks, self.queue, self._block)

    def _block(self, eligible: np.ndarray, arrival: np.ndarray, now: int) -> np.ndarray:
        n = len(eligible)
        seen = self._seen(eligible, arrival, now)
        bids = (block_values(self.members, eligible, seen) * (1 - self.margin)).tolist()
        best = max(bids)
        pay: list[int] = []
        if best <= 0:  # no bid: the proposer builds from the public flow
            block = eligible[self._owner[:n] == PUBLIC]
            taken = member(eligible, block)
            self.local_blocks += 1
            self.winners.append((now, -1))
            self.local_tips_micro += int(self.view.txs.tip(block).sum())
        else:
            index, second = self._auction(bids, best, now)
            winner = self.members[index]
            price = int(second * PPM)
            mine = seen[:, index]
            everything = False not in mine.tolist()  # it has seen it all (the usual block)
            block = winner.build(eligible if everything else eligible[mine],
                                 arrival if everything else arrival[mine], now)
            block = self._with_list(block, eligible, arrival, now)
            # a builder that keeps what it has seen, as it is, hands the eligible array back
            taken = None if block is eligible else member(eligible, block)
            winner.wins += 1
            self.winners.append((now, index))
            winner.tips_micro += sum(self.view.txs.tip(block).tolist())  # a handful: no reduction
            winner.held_blocks += int(taken is not None and not taken[mine].all())
            if price > 0:
                winner.paid_micro += price
                pay = [self.view.insert(Kind.AUCTION, index, now, a=price, b=1)]
        if taken is None or taken.all():  # the usual block: everything eligible goes in
            self._owner = self._owner[n:]
            pending = self.queue.ids[n:]
        else:
            left = ~taken
            self._owner = np.concatenate((self._owner[:n][left], self._owner[n:]))
            pending = np.concatenate((eligible[left], self.queue.ids[n:]))
        self._send_closes(pending, n, now)
        if not pay:
            return block  # as built: the eligible array itself leaves the queue whole
        return np.concatenate((np.asarray(pay, dtype=np.int64), block))

    def _auction(self, bids: list[float], best: float, now: int) -> tuple[int, float]:
        """The winning builder and the price it pays, the second-highest bid (nothing
        when it bids alone). Equal top bids (the same flow seen, the same opportunities)
        win in a random order; the price, the second bid, is the same whichever wins."""
        if len(bids) == 1:
            return 0, 0.0
        top = [i for i, bid in enumerate(bids) if bid == best]
        if len(top) > 1:
            ties = self.ties.at(now).tolist()
            return min(top, key=lambda i: (ties[i], i)), best
        index = top[0]
        return index, max(bid for i, bid in enumerate(bids) if i != index)

    def _send_closes(self, pending: np.ndarray, n: int, now: int) -> None:
        """Builders whose stale-price position lost its update to this block send their
        closing trades to the public flow, for the next block. They go into the queue
        behind the ``n`` transactions eligible now (arrived by ``now``), in arrival
        order; the block's own transactions leave the queue after this call."""
        sent = [tx for m in self.members for tx in m.closing(pending, now)]
        if not sent:
            return
        closes = np.array(sent, dtype=np.int64)
        at = np.full(len(closes), now, dtype=np.int64)
        q, rest = self.queue, n - (len(self.queue.ids) - len(pending))
        q.ids, q.arrival = np.insert(q.ids, n, closes), np.insert(q.arrival, n, at)
        self._owner = np.insert(self._owner, rest, np.full(len(closes), PUBLIC))

    def _with_list(self, block: np.ndarray, eligible: np.ndarray, arrival: np.ndarray,
                   now: int) -> np.ndarray:
        """The block with the proposer's inclusion list honoured: listed transactions
        the builder left out go at its end."""
        if not self.inclusion_lists:
            return block
        listed = eligible[(self._owner[: len(eligible)] == PUBLIC)
                          & (arrival <= now - self.list_lead)]
        missing = listed[~member(listed, block)]
        return np.concatenate((block, missing)) if len(missing) else block

    def metrics(self, horizon_us: int) -> dict:
        """Who won the blocks, what they made and what the proposer was paid."""
        if self.view is None:  # a protocol without markets: nothing to auction
            return {}
        self._ready()
        view = self.view
        p = view.protocol
        values = p.account_values(int(round(float(view.reference.at(horizon_us)) * PPM)))
        capital = int(round(self.cfg.strategy.capital_usd * PPM))
        # the fees paid (a payer may fall short of its offer), split by what was offered
        seq = view.sequencer_side
        fees = int(p.ledger.balances[seq.sequencer])
        offered = sum(m.tips_micro for m in self.members) + self.local_tips_micro
        rows, gross_total = [], 0.0
        for m in self.members:
            gross = m.extracted_micro(values, capital) + fees * m.tips_micro / max(offered, 1)
            gross_total += gross
            rows.append({"builder": m.index, "kind": m.kind, "wins": m.wins,
                         "held_blocks": m.held_blocks, "gross_usd": _usd(gross),
                         "paid_usd": _usd(m.paid_micro), "net_usd": _usd(gross - m.paid_micro)})
        paid = int(p.ledger.balances[seq.proposer])  # what the proposer actually received
        won = sum(m.wins for m in self.members)
        blocks = won + self.local_blocks
        held = sum(m.held_blocks for m in self.members)
        return {"design_metrics": {
            "builders": self.builders,
            "blocks": blocks,
            "local_blocks": self.local_blocks,
            "proposer_paid_usd": _usd(paid),
            "proposer_local_fees_usd": _usd(fees * self.local_tips_micro / max(offered, 1)),
            "builders_gross_usd": _usd(gross_total),
            "proposer_share": round(paid / gross_total, 4) if gross_total > 0 else 0.0,
            "censoring_blocks_share": round(held / blocks, 4) if blocks else 0.0,
            "censoring_builder_wins_share": round(
                sum(m.wins for m in self.members if m.censors) / won, 4) if won else 0.0,
            "inclusion_lists": self.inclusion_lists,
            "per_builder": rows,
        }}


def _strategies(kind: str, extractive: tuple[str, ...]) -> tuple[str, ...]:
    """What a builder of ``kind`` runs: nothing (honest), the extractive set, or its one
    strategy; nothing at all when the scenario hosts no extraction."""
    if not extractive or kind == "honest":
        return ()
    return extractive if kind == "extractive" else (kind,)


def _usd(micro: float) -> float:
    return round(float(micro) / PPM, 2)
