"""What an owner does when a top-up is not included: users' recourse against a held tx.

A margin manager whose top-up has not appeared in a block after its patience (drawn
per account and attempt) acts, once per attempt, with the scenario's weights:

- ``retry``: sign the same top-up again and resend it (same nonce);
- ``raise_tip``: resend it with a higher priority fee, where the design orders by tips
  (elsewhere this is a plain retry);
- ``close``: replace the top-up with closing the position (same nonce), giving up the
  position rather than risking a liquidation; option writers cannot close, they retry;
- ``inbox``: send the top-up to the delayed inbox on L1 (``seqlab.rollup.inbox``),
  paying the L1 gas from the wallet; it reaches L2 even if the sequencer ignores it.

Every version shares the first top-up's nonce (``seqlab.rollup.nonces``), so whichever is
executed first is the one that moves money; the others fail. Draws are keyed by account
and attempt, so one account's recourse never shifts another account's random numbers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import ndtr

from seqlab.kernel import keyed_normals
from seqlab.ledger import EXTERNAL, Ledger
from seqlab.network import Network, latency_from_normals
from seqlab.protocols.market_view import NO_ACCOUNTS
from seqlab.rollup.inbox import DelayedInbox
from seqlab.rollup.nonces import Nonces
from seqlab.scenario.schema import Latency, Recourse as RecourseCfg
from seqlab.txs import Kind, TxStore
from seqlab.units import ceil_to

ACTIONS = ("retry", "raise_tip", "close", "inbox")
NEVER = np.iinfo(np.int64).max


@dataclass
class InboxFee:
    """The L1 gas of a delayed-inbox message, paid from the sender's wallet in the ledger:
    ``gas`` × the L1 gas price (gwei, ``gwei(t)``) × the ETH price (``eth_usd(t)``)."""

    ledger: Ledger
    gas: int
    gwei: Callable[[np.ndarray], np.ndarray]
    eth_usd: Callable[[np.ndarray], np.ndarray]
    paid: int = 0

    def charge(self, wallets: np.ndarray, t_us: np.ndarray) -> None:
        """Charge each wallet (ledger ids) its fee at ``t_us``, capped by its balance."""
        cost = np.rint(self.gas * self.gwei(t_us) * 1e-9 * self.eth_usd(t_us) * 1e6)
        cost = np.minimum(cost.astype(np.int64), np.maximum(self.ledger.balances[wallets], 0))
        for wallet, amount in zip(wallets.tolist(), cost.tolist()):
            if amount > 0:
                self.ledger.transfer(wallet, EXTERNAL, amount, "l1_inbox_gas")
        self.paid += int(cost.sum())


@dataclass
class Channels:
    """Where a recourse transaction can go: the sequencer's network, the delayed inbox
    (None: no L1 path), and the nonces shared by all versions of one top-up."""

    network: Network
    inbox: DelayedInbox | None
    nonces: Nonces
    fee: InboxFee | None
    wallets: np.ndarray  # per account: its wallet's ledger id


class Recourse:
    """Tracks each account's outstanding top-up and acts when patience runs out."""

    def __init__(self, cfg: RecourseCfg, latency: Latency, seed: int, name: str,
                 accounts: int, txs: TxStore, channels: Channels, kind: Kind,
                 close_kind: Kind | None, uses_tips: bool) -> None:
        self.cfg, self.latency, self.seed, self.name = cfg, latency, seed, name
        self.txs, self.ch, self.kind, self.close_kind = txs, channels, int(kind), close_kind
        w = dict(zip(ACTIONS, (cfg.retry, cfg.raise_tip, cfg.close, cfg.inbox)))
        # an action the setting cannot offer becomes a plain resend
        for action, possible in (("raise_tip", uses_tips), ("close", close_kind is not None),
                                 ("inbox", channels.inbox is not None)):
            if not possible:
                w["retry"] += w[action]
                w[action] = 0.0
        self.cum = np.cumsum([w[a] for a in ACTIONS]) / sum(w.values())
        self.episode = np.full(accounts, -1, dtype=np.int64)  # the nonce group pending
        self.deadline = np.full(accounts, NEVER, dtype=np.int64)
        self.attempts = np.zeros(accounts, dtype=np.int64)
        self.amount = np.zeros(accounts, dtype=np.int64)
        self.tip = np.zeros(accounts, dtype=np.int64)
        self.draws = np.zeros(accounts, dtype=np.int64)
        self.next_due = NEVER
        self.counts = dict.fromkeys(ACTIONS, 0)
        self.gave_up = 0

    def _normals(self, stream: str, who: np.ndarray) -> np.ndarray:
        return keyed_normals(self.seed, f"{self.name}.recourse/{stream}", who, self.draws[who])

    def _patience(self, who: np.ndarray) -> np.ndarray:
        return latency_from_normals(self.cfg.patience, self._normals("patience", who))

    def started(self, who: np.ndarray, ids: np.ndarray, submit: np.ndarray,
                amount: np.ndarray, tip: int) -> None:
        """Top-ups ``ids`` of accounts ``who`` were just sent: each opens a nonce."""
        groups = self.ch.nonces.open(len(who))
        self.ch.nonces.bind(ids, groups)
        self.episode[who], self.amount[who], self.tip[who] = groups, amount, tip
        self.attempts[who] = 0
        self.deadline[who] = submit + self._patience(who)
        self.draws[who] += 1
        self.next_due = min(self.next_due, int(self.deadline[who].min()))

    def resolved(self, ids: np.ndarray) -> np.ndarray:
        """Accounts whose outstanding top-up one of the executed ``ids`` settles (any
        version, whether it succeeded or not); they stop waiting."""
        nonces = self.ch.nonces
        # none yet sent, or (most blocks) none settled by this block
        if not nonces.has_bound(ids):
            return NO_ACCOUNTS  # the one read-only empty array
        groups = nonces.of(ids)
        acct = self.txs.sender[ids].astype(np.int64)
        mine = (groups >= 0) & (acct < len(self.episode))
        mine[mine] = self.episode[acct[mine]] == groups[mine]
        done = acct[mine]
        self.episode[done], self.deadline[done] = -1, NEVER
        return done

    def act(self, t_us: int, low: np.ndarray) -> None:
        """Accounts whose patience ran out by ``t_us`` act; those no longer below the
        trigger (``low``) wait again, those out of attempts give up and wait."""
        if t_us < self.next_due:
            return
        due = (self.deadline <= t_us).nonzero()[0]
        calm = due[~low[due]]
        spent = due[low[due] & (self.attempts[due] >= self.cfg.max_attempts)]
        who = due[low[due] & (self.attempts[due] < self.cfg.max_attempts)]
        self.gave_up += len(spent)
        self.deadline[spent] = NEVER
        if len(calm):
            self.deadline[calm] = t_us + self._patience(calm)
            self.draws[calm] += 1
        if len(who):
            self._send(t_us, who)
        waiting = self.deadline[self.deadline < NEVER]
        self.next_due = int(waiting.min()) if len(waiting) else NEVER

    def _send(self, t_us: int, who: np.ndarray) -> None:
        action = np.searchsorted(self.cum, ndtr(self._normals("choice", who)), side="right")
        action = np.minimum(action, len(ACTIONS) - 1)
        net = latency_from_normals(self.latency, self._normals("latency", who))
        patience = self._patience(who)
        self.draws[who] += 1
        self.attempts[who] += 1
        raise_tip = action == ACTIONS.index("raise_tip")
        self.tip[who[raise_tip]] = np.ceil(self.tip[who[raise_tip]] * self.cfg.tip_raise)
        close = action == ACTIONS.index("close")
        via_inbox = action == ACTIONS.index("inbox")
        kind = np.where(close, self.kind if self.close_kind is None else self.close_kind,
                        self.kind)
        amount = np.where(close, 0, self.amount[who])
        tip = np.where(via_inbox, 0, self.tip[who])
        sent = t_us + net
        arrival = sent.copy()
        if via_inbox.any():
            arrival[via_inbox] = ceil_to(sent[via_inbox], self.ch.inbox.l1_block_us)
        submit = np.full(len(who), t_us, dtype=np.int64)
        ids = self.txs.add_many(kind, who, submit, arrival, amount, 0, tip)
        self.ch.nonces.bind(ids, self.episode[who])
        if via_inbox.any():
            self.ch.inbox.post(ids[via_inbox], sent[via_inbox])
            if self.ch.fee is not None:
                self.ch.fee.charge(self.ch.wallets[who[via_inbox]], arrival[via_inbox])
        if (~via_inbox).any():
            self.ch.network.send(ids[~via_inbox], arrival[~via_inbox])
        self.deadline[who] = t_us + patience
        for k, name in enumerate(ACTIONS):
            self.counts[name] += int((action == k).sum())

    def summary(self) -> dict[str, int]:
        return {"recourse_retries": self.counts["retry"],
                "recourse_tip_raises": self.counts["raise_tip"],
                "recourse_closes": self.counts["close"],
                "recourse_inbox": self.counts["inbox"],
                "recourse_gave_up": self.gave_up}
