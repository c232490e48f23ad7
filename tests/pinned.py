"""Digests of every built-in scenario under every design, shrunk to run fast.

Refactors and speed work must keep every result identical to the bit; this module is
how that is proved. Each case is a built-in scenario with fewer accounts and a shorter
horizon (outages moved inside it), run at seed 1 under one design. The digests live in
``tests/pinned_digests.json``; ``python -m tests.pinned`` rewrites them, which a change
that alters results on purpose does in the same commit that says why.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from seqlab.cluster import make_world
from seqlab.experiments.sweep import set_dotted
from seqlab.scenario.loader import builtin_scenarios, load_scenario, parse_scenario
from seqlab.sequencing import DESIGNS

PINNED = Path(__file__).with_name("pinned_digests.json")

# Scenario settings that shrink a built-in scenario while keeping what it exercises.
SHRINK = {"duration": "10min", "agents.traders.accounts": 200}
OUTAGE = [{"start": "3min", "duration": "3min"}]
# Variants of ``default`` whose shrunk runs liquidate (a crash every few minutes), so the
# digests cover liquidation mechanisms and liquidators too: the built-in scenarios, shrunk
# to ten calm minutes, mostly liquidate nobody.
CRASH = {"market.jump_intensity": 600.0, "market.jump_mean": -0.08}
# Scenarios whose rollup buys sequencing: their services name the designs, so
# ``[sequencer] design`` changes nothing there and one case covers them.
MARKET = {"sequencer-market", "market-concentration"}
MARKET_DESIGN = ["fcfs"]
VARIANTS = {
    "default+crash": CRASH,
    "default+crash+dydx": {**CRASH, "protocol.perps.preset": "dydx-v4"},
}


def shrunk(name: str, design: str):
    """Built-in ``name`` (or a ``VARIANTS`` entry) under ``design``, shrunk (an outage
    stays inside the horizon)."""
    loaded = load_scenario(name.partition("+")[0])
    data = loaded.scenario.model_dump(mode="python")
    for key, value in {**SHRINK, **VARIANTS.get(name, {})}.items():
        set_dotted(data, key, value)
    if data["sequencer"]["outages"]:
        set_dotted(data, "sequencer.outages", OUTAGE)
    for service in data["sequencing_market"]["services"]:  # a service's outage too
        if service["outages"]:
            service["outages"] = OUTAGE
    set_dotted(data, "sequencer.design", design)
    return parse_scenario(data, loaded.source, loaded.base_dir)


def cases() -> list[tuple[str, str]]:
    names = sorted(builtin_scenarios()) + sorted(VARIANTS)
    return [(s, d) for s in names for d in (MARKET_DESIGN if s in MARKET else sorted(DESIGNS))]


def digest(scenario: str, design: str) -> str:
    return make_world(shrunk(scenario, design), 1).run().summary["digest"]


def main() -> None:
    digests = {f"{s}/{d}": digest(s, d) for s, d in cases()}
    PINNED.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    print(f"pinned {len(digests)} digests in {PINNED}", file=sys.stderr)


if __name__ == "__main__":
    main()
