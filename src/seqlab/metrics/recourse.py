"""How users answered held top-ups, and whether it saved them.

Counts each recourse action (``seqlab.agents.recourse``) over every margin manager of
the run, the L1 gas users paid for delayed-inbox messages, and, of the accounts whose
top-up the sequencer deliberately held (``held``), how many were liquidated anyway:
the number recourse exists to bring down.
"""
from __future__ import annotations

import numpy as np

from seqlab.agents.recourse import InboxFee, Recourse
from seqlab.units import MICRO_USD as PPM
from seqlab.txs import Kind

KEYS = ("recourse_retries", "recourse_tip_raises", "recourse_closes", "recourse_inbox",
        "recourse_gave_up")


def recourse_summary(recourses: list[Recourse | None], fee: InboxFee | None,
                     txs: dict[str, np.ndarray], liquidated: np.ndarray) -> dict:
    """Summary entries: action counts, inbox gas (USD), held accounts and how many of
    them were liquidated (``liquidated``: liquidated account ids, repeats allowed)."""
    out = dict.fromkeys(KEYS, 0)
    for r in recourses:
        if r is not None:
            for key, value in r.summary().items():
                out[key] += value
    out["recourse_inbox_gas_usd"] = round((fee.paid if fee is not None else 0) / PPM, 2)
    held = np.unique(txs["sender"][(txs["kind"] == Kind.TOPUP) & (txs["held"] == 1)])
    out["held_accounts"] = int(len(held))
    out["held_liquidated"] = int(np.isin(held, liquidated).sum())
    return out


def recourse_metrics(summary: dict) -> dict[str, float]:
    """The figures ``compare`` tabulates per design ({} for a run without them, such as
    the benchmark protocol): recourse actions, and held accounts liquidated anyway."""
    if "held_liquidated" not in summary:
        return {}
    return {"held_liquidated": summary["held_liquidated"],
            "recourse_actions": sum(summary[k] for k in KEYS[:4]),
            "recourse_inbox": summary["recourse_inbox"]}
