"""Ordering costs: what a position pays that ordering decides, account by account.

Two channels, both read from the run itself:

- **penalties**: what an owner pays out of its own ledger accounts as a liquidation bonus
  or fee, or as a priority fee to the sequencer. A censored margin call that ends in a
  liquidation shows up here; so does a liquidation moved a block earlier at a worse price.
- **execution**: for a trade that both runs executed (the same order, matched by id,
  sender, amount and submission time), the design's fill against the baseline's, times
  the trade's notional: a sandwich or a delayed fill shows up here.

The premium built on these (``metrics.premium``) is the *direct* cost of ordering. The
difference of final account values is kept beside it as the *total*: it also holds what
the owner's later trading does once its path has diverged (a trader liquidated out of a
falling market keeps cash the baseline trader loses), which no price of ordering should
carry, and whose variance swamps the ordering's own cost.
"""
from __future__ import annotations

import numpy as np

from seqlab.ledger import Ledger
from seqlab.txs import Kind, Status
from seqlab.units import MICRO_USD as PPM

COST_REASONS = ("liquidation_bonus", "liquidation_fee", "priority_fee")
FILL_COLUMNS = ("id", "sender", "a", "submit_us", "fill")


def penalties_paid(ledger: Ledger, *owned: np.ndarray) -> np.ndarray:
    """Per owner (USD): liquidation bonuses and fees and priority fees paid out of any of
    the owner's accounts (``owned``: one array of ledger accounts per role, by owner)."""
    src, _, amount, code = ledger.journal()
    codes = ledger.known_codes(COST_REASONS)
    picked = np.isin(code, codes)
    per_account = np.zeros(len(ledger.names), dtype=np.int64)
    np.add.at(per_account, src[picked], amount[picked])
    return sum(per_account[np.asarray(a, dtype=np.int64)] for a in owned) / PPM


def trade_fills(txs: dict[str, np.ndarray], accounts: dict[str, np.ndarray]
                ) -> dict[str, np.ndarray]:
    """The executed TRADE transactions of a run's ``txs`` table with their fill price.

    In a several-rollup run the tables carry a ``rollup`` column: ids are made unique per
    rollup and senders are numbered as in the combined ``accounts`` table.
    """
    done = (txs["kind"] == Kind.TRADE) & (txs["status"] == Status.OK)
    out = {c: txs[c][done].astype(np.int64) for c in FILL_COLUMNS}
    if "rollup" in txs:
        rollup = txs["rollup"][done]
        users = np.bincount(accounts["rollup"], minlength=int(rollup.max(initial=0)) + 1)
        offsets = np.r_[0, np.cumsum(users)[:-1]]
        out["id"] = out["id"] + (rollup.astype(np.int64) << 40)
        mine = out["sender"] < users[rollup]  # arbitrageurs and the operator are not users
        out["sender"] = np.where(mine, out["sender"] + offsets[rollup], -1)
    return out


def execution_cost(run: dict[str, np.ndarray], base: dict[str, np.ndarray],
                   accounts: int) -> np.ndarray:
    """Per account (USD): Σ notional × (fill − baseline fill) / baseline fill over the
    trades both runs executed; positive when the design filled a buy dearer or a sell
    cheaper."""
    common, i, j = np.intersect1d(run["id"], base["id"], return_indices=True)
    same = np.ones(len(common), dtype=bool)
    for col in ("sender", "a", "submit_us"):
        same &= run[col][i] == base[col][j]
    i, j = i[same], j[same]
    fb = base["fill"][j].astype(np.float64)
    ok = fb > 0
    cost = run["a"][i][ok] * (run["fill"][i][ok] - fb[ok]) / fb[ok] / PPM
    out = np.zeros(accounts, dtype=np.float64)
    senders = run["sender"][i][ok]
    mine = (senders >= 0) & (senders < accounts)
    np.add.at(out, senders[mine], cost[mine])
    return out
