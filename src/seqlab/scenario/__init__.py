"""Scenario schema and loading."""
from seqlab.scenario.loader import LoadedScenario, builtin_scenarios, load_scenario, parse_scenario
from seqlab.scenario.schema import Scenario

__all__ = ["LoadedScenario", "Scenario", "builtin_scenarios", "load_scenario", "parse_scenario"]
