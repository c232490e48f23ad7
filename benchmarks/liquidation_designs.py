"""What each liquidation mechanism leaves an extractive sequencer operator.

Runs ``seqlab compare --designs honest,extractive`` on the default scenario with the
perps liquidation set to fixed, dutch and partial, over paired seeds, and prints the
operator's profit and the direct ordering cost to users with 95 % intervals. Usage, from the
repository root:

    .venv/bin/python benchmarks/liquidation_designs.py [--seeds 3] [--scenario default]
"""
from __future__ import annotations

import argparse
import json

from seqlab.experiments.compare import compare
from seqlab.scenario import load_scenario, parse_scenario


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--scenario", default="default")
    args = ap.parse_args()
    rows = {}
    for mode in ("fixed", "dutch", "partial"):
        data = load_scenario(args.scenario).scenario.model_dump(mode="python")
        data["protocol"]["perps"]["liquidation"] = mode
        loaded = parse_scenario(data, f"{args.scenario}-{mode}")
        e = compare(loaded, ["honest", "extractive"], seeds=args.seeds).summary[
            "designs"]["extractive"]
        rows[mode] = {"backrun_usd": e["operator_profit_by_strategy"]["backrun"],
                      "operator_profit_usd": e["operator_profit_usd"],
                      "operator_profit_ci95": e.get("ci95", {}).get("operator_profit_usd"),
                      "ordering_cost_usd": e["ordering_cost_usd"],
                      "ordering_cost_ci95": e.get("ci95", {}).get("ordering_cost_usd"),
                      "operator_bonus_share": e["operator_bonus_share"]}
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
