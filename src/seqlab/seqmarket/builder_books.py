"""The builders' books across a market run: which builder won how many blocks, what it
paid the proposer and what it kept.

A ``builders`` service runs a fresh proposer-builder auction in each segment the rollup
buys from it, so each segment's design counts only its own blocks. The builders
themselves persist: they trade from accounts the world opened once, shared by every
segment, so what their strategies made is read from those accounts at the end, and
their blocks, bids paid and fees are summed over the segments. Without this the
market's summary would say a builders service produced blocks but not who built them
or who profited.
"""
from __future__ import annotations

from seqlab.protocols.perps import PPM
from seqlab.sequencing.builders import BuildersDesign


def _usd(micro: float) -> float:
    return round(micro / PPM, 2)


def builder_figures(segments: list[BuildersDesign], horizon_us: int) -> dict:
    """Per builder over every segment a ``builders`` service sequenced: its kind, the
    blocks it won, those in which it left out something it had seen, the priority fees
    its blocks offered (it is their recipient), what its strategies made (its accounts
    marked at the end), what it paid the proposer and its net (made plus fees less
    paid); and the totals: blocks, those the proposer built locally (no bid), what the
    proposer was paid. Empty when no segment built a block."""
    built = [d for d in segments if d.members and d.members[0].view is not None]
    if not built:
        return {}
    first = built[0]
    view = first.view
    values = view.protocol.account_values(int(round(float(view.reference.at(horizon_us))
                                                    * PPM)))
    capital = int(round(first.cfg.strategy.capital_usd * PPM))
    rows, paid_total, gross_total = [], 0, 0.0
    for i, member in enumerate(first.members):
        books = [d.members[i] for d in built]
        fees = sum(b.tips_micro for b in books)
        paid = sum(b.paid_micro for b in books)
        made = member.extracted_micro(values, capital)
        paid_total, gross_total = paid_total + paid, gross_total + made + fees
        rows.append({"builder": i, "kind": member.kind,
                     "wins": sum(b.wins for b in books),
                     "held_blocks": sum(b.held_blocks for b in books),
                     "fees_usd": _usd(fees), "extracted_usd": _usd(made),
                     "gross_usd": _usd(made + fees), "paid_usd": _usd(paid),
                     "net_usd": _usd(made + fees - paid)})
    local = sum(d.local_blocks for d in built)
    return {"segments": len(built),
            "blocks": local + sum(r["wins"] for r in rows), "local_blocks": local,
            "proposer_paid_usd": _usd(paid_total), "builders_gross_usd": _usd(gross_total),
            "per_builder": rows}
