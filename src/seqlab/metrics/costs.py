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

COST_REASONS = ("liquidation_bonus", "liquidation_fee", "liquidation_remainder", "priority_fee")
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


def matched_trades(run: dict[str, np.ndarray], base: dict[str, np.ndarray]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per trade both runs executed: (sender, submit time µs, cost USD, notional USD).

    The cost is notional × (fill − baseline fill) / baseline fill, positive when the
    design filled a buy dearer or a sell cheaper; the notional is the trade's absolute
    size, the dollars traded that a cost per dollar traded divides by. The submit time is
    the same in both runs."""
    common, i, j = np.intersect1d(run["id"], base["id"], return_indices=True)
    same = np.ones(len(common), dtype=bool)
    for col in ("sender", "a", "submit_us"):
        same &= run[col][i] == base[col][j]
    i, j = i[same], j[same]
    fb = base["fill"][j].astype(np.float64)
    ok = fb > 0
    a = run["a"][i][ok]
    cost = a * (run["fill"][i][ok] - fb[ok]) / fb[ok] / PPM
    return run["sender"][i][ok], run["submit_us"][i][ok], cost, np.abs(a) / PPM


def execution_costs(run: dict[str, np.ndarray], base: dict[str, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per trade both runs executed: (sender, submit time µs, cost USD), as
    :func:`matched_trades` without the notional."""
    return matched_trades(run, base)[:3]


def execution_cost(run: dict[str, np.ndarray], base: dict[str, np.ndarray],
                   accounts: int) -> np.ndarray:
    """Per account (USD): Σ of :func:`execution_costs` over the account's trades."""
    senders, _, cost = execution_costs(run, base)
    return per_owner(senders, cost, accounts)


def per_owner(owner: np.ndarray, usd: np.ndarray, n: int) -> np.ndarray:
    """``usd`` summed by ``owner`` into ``n`` owners (owners outside ``[0, n)`` dropped)."""
    out = np.zeros(n, dtype=np.float64)
    owner = np.asarray(owner, dtype=np.int64)
    mine = (owner >= 0) & (owner < n)
    np.add.at(out, owner[mine], np.asarray(usd, dtype=np.float64)[mine])
    return out


USER_KINDS = (Kind.TRADE, Kind.CLOSE, Kind.REDUCE, Kind.TOPUP, Kind.WITHDRAW)


def cost_events(tables: dict[str, dict[str, np.ndarray]], options=None,
                reference_at=None) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The penalties of one run as timed events, per owner group: ``(t_us, owner, USD)``.

    The same channels as :func:`penalties_paid` and the options' sales, with their time,
    so an ordering cost can be placed in a calm stretch or in a stress event: perps
    liquidation bonuses (the liquidations table) and users' priority fees (included
    transactions' tips) under ``accounts``; for the options market (``options``, an
    ``OptionsProtocol``) writers' liquidation bonuses and, for writers and buyers, each
    sale's value at the reference (``reference_at``) less its price.
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    liq = tables.get("liquidations")
    txs = tables["txs"]
    paid = (txs["included_us"] >= 0) & (txs["tip"] > 0) & np.isin(txs["kind"], USER_KINDS)
    parts = [((liq["t_s"] * 1e6).round().astype(np.int64), liq["account"].astype(np.int64),
              np.asarray(liq["bonus_usd"], dtype=np.float64))] if liq is not None else []
    parts.append((txs["included_us"][paid].astype(np.int64),
                  txs["sender"][paid].astype(np.int64), txs["tip"][paid] / PPM))
    out = {"accounts": tuple(np.concatenate(c) for c in zip(*parts))}
    if options is None:
        return out
    rows = np.asarray(options.liquidations, dtype=np.int64).reshape(-1, 6)
    writers = [(rows[:, 0], rows[:, 2], rows[:, 5] / PPM)]
    buyers = [empty]
    if options.sales:
        sale = np.asarray(options.sales, dtype=np.int64)
        cheap = (options.fair_premiums(reference_at) - sale[:, 5]) / PPM
        writers.append((sale[:, 0], sale[:, 1], cheap))
        buyers.append((sale[:, 0], sale[:, 2], -cheap))
    out["option_writers"] = tuple(np.concatenate(c) for c in zip(*writers))
    out["option_buyers"] = tuple(np.concatenate(c) for c in zip(*buyers))
    return out


def liquidation_times(tables: dict[str, dict[str, np.ndarray]], options=None
                      ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Every liquidation of one run, per owner group: ``(t_us, owner, notional USD)``.

    The costs a liquidation brings besides its bonus (a keeper's or the pool's fee, the
    remainder a pool keeps, an auction's take) are booked in the ledger without a time;
    they arise with the liquidation, so its time and the notional it closed are what
    places them (``premium_events.untimed_costs``)."""
    out = {}
    liq = tables.get("liquidations")
    if liq is not None:
        out["accounts"] = ((liq["t_s"] * 1e6).round().astype(np.int64),
                           liq["account"].astype(np.int64),
                           np.abs(np.asarray(liq["closed_usd"], dtype=np.float64)))
    if options is not None:
        rows = np.asarray(options.liquidations, dtype=np.int64).reshape(-1, 6)
        out["option_writers"] = (rows[:, 0], rows[:, 2], np.abs(rows[:, 4]) / PPM)
    return out
