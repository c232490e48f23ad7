"""Built-in sequencing-service offers for ``[[sequencing_market.services]]``, by name.

A service that names an ``offer`` starts from its terms; a key written beside it wins.
Each number's source is in docs/market.md. Kept as plain data apart from the schema's
code, as the perps presets are, so adding an offer is one entry.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping

# Four major sequencer halts (seqlab.outages.REAL_OUTAGES_US: Arbitrum 2022-01-09 and
# 2023-12-15, Optimism 2024-02-15, Base 2025-08-05) over about four years of three large
# rollups: 4 / (3 × 4 × 365) ≈ 0.001 a day. No public incident record yet tells the
# decentralized services apart, so every built-in offer but the L1 itself starts from it.
REAL_OUTAGE_RATE_PER_DAY = 0.001

SERVICE_OFFERS: Mapping[str, Mapping[str, Any]] = MappingProxyType({
    # the rollup's own centralized sequencer, first come first served (Arbitrum)
    "central-fcfs": {"design": "fcfs", "outage_rate_per_day": REAL_OUTAGE_RATE_PER_DAY},
    # the rollup's own centralized sequencer, priority-fee ordering (OP Stack)
    "central-priority": {"design": "priority",
                         "outage_rate_per_day": REAL_OUTAGE_RATE_PER_DAY},
    # Arbitrum's Timeboost: the same operator, an express lane sold each round
    "timeboost": {"design": "timeboost", "outage_rate_per_day": REAL_OUTAGE_RATE_PER_DAY},
    # a BFT committee run by others (Espresso-style): 4 nodes, f = 1; the gateway's hop to
    # its nodes is about half a US-EU round trip (~80 ms), ~40 ms
    "committee": {"design": "committee", "latency": "40ms", "nodes": 4, "faulty": 1,
                  "outage_rate_per_day": REAL_OUTAGE_RATE_PER_DAY},
    # a threshold-encrypted mempool run by others (Shutter-style): 7 keypers, f = 2
    "encrypted": {"design": "encrypted", "latency": "40ms", "nodes": 7, "faulty": 2,
                  "outage_rate_per_day": REAL_OUTAGE_RATE_PER_DAY},
    # based sequencing: Ethereum's proposers in turn, preconfers among them. Ethereum
    # has not stopped producing blocks since the Merge (its two losses of finality, in
    # May 2023, kept blocks coming), so no outages; censoring it for good takes the L1's
    # own BFT bound, a third of its stake: 1,024 stand-in nodes, 341 of them faulty
    "based": {"design": "based", "nodes": 1024, "faulty": 341, "outage_rate_per_day": 0.0},
})
