"""How long liquidations wait after the oracle update that made them possible, and what
the liquidation bots earned net of their costs.

The delay is counted from the update at which the account went from healthy to
liquidatable (``PerpsProtocol.log_liquidation`` records it), not from the latest update:
a liquidation a slow bot picks up seconds later still belongs to the update that enabled
it. Only the first liquidation of each episode (account, enabling update) counts: it is
the liquidators' reaction, while the later ones of a partial mechanism (dYdX's 10 % per
block) wait for the mechanism's own cap, not for anyone. That is how Torres et al. ("Rolling in the
Shadows", CCS'24) link Arbitrum liquidations to oracle updates: about 1 % in the
update's own block, 87 % within 1 s, 97.5 % within 12 s.
"""
from __future__ import annotations

import numpy as np

GAP_KEYS = ("same_block_share", "within_1s_share", "within_12s_share", "p50_s", "p90_s",
            "p50_blocks", "p90_blocks")


def first_of_episode(t_us: np.ndarray, account: np.ndarray, us: np.ndarray) -> np.ndarray:
    """Positions (in time order) of each episode's first liquidation: the first row of
    every (account, enabling update time = ``t_us − us``) pair."""
    enabled = np.asarray(t_us, dtype=np.int64) - np.asarray(us, dtype=np.int64)
    pairs = np.stack([np.asarray(account, dtype=np.int64), enabled], axis=1)
    _, first = np.unique(pairs, axis=0, return_index=True)
    return np.sort(first)


def liquidation_gap(blocks: np.ndarray, us: np.ndarray) -> dict[str, float | int]:
    """Shares and percentiles of the delay of each liquidation (``blocks`` and ``us``
    after its enabling update; pass each episode's first, ``first_of_episode``). No
    liquidations: every figure 0."""
    out: dict[str, float | int] = {"count": int(len(blocks))}
    if not len(blocks):
        return out | {k: 0.0 for k in GAP_KEYS}
    s = np.asarray(us, dtype=np.float64) / 1e6
    b = np.asarray(blocks, dtype=np.float64)
    p50_s, p90_s = np.percentile(s, [50, 90])
    p50_b, p90_b = np.percentile(b, [50, 90])
    return out | {
        "same_block_share": round(float((b == 0).mean()), 4),
        "within_1s_share": round(float((s <= 1.0).mean()), 4),
        "within_12s_share": round(float((s <= 12.0).mean()), 4),
        "p50_s": round(float(p50_s), 3), "p90_s": round(float(p90_s), 3),
        "p50_blocks": round(float(p50_b), 2), "p90_blocks": round(float(p90_b), 2),
    }


def liquidator_profit(strategies: list[str], balances: np.ndarray,
                      capital: np.ndarray) -> dict[str, float]:
    """Outside liquidators' profit (USD) net of gas and tips, summed by strategy: each
    bot's ledger balance less the capital it started with."""
    out: dict[str, float] = {}
    for strategy, bal, cap in zip(strategies, balances.tolist(), capital.tolist()):
        out[strategy] = out.get(strategy, 0.0) + (bal - cap) / 1e6
    return {k: round(v, 2) for k, v in sorted(out.items())}
