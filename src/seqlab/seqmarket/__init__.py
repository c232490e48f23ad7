"""A market for sequencing: services offering a design on terms, and policies choosing.

A rollup does not have to run its own sequencer: it can buy ordering from a service
(its own centralized sequencer, a priority-fee or Timeboost sequencer, a BFT committee,
an encrypted mempool) whose offer states a latency, a price, a censorship resistance, a
reliability and a capacity. A policy picks the service and, when the one in use stops
producing blocks, may move the rollup to another, paying the switch's real costs.
"""
from seqlab.seqmarket.auction import AuctionPolicy
from seqlab.seqmarket.design import MarketDesign, market_design
from seqlab.seqmarket.policies import (POLICIES, FailoverPolicy, Policy, State, StaticPolicy,
                                       make_policy, register_policy)
from seqlab.seqmarket.services import check_services
from seqlab.seqmarket.stress import StressPolicy

__all__ = ["POLICIES", "AuctionPolicy", "FailoverPolicy", "MarketDesign", "Policy", "State",
           "StaticPolicy", "StressPolicy", "make_policy", "market_design", "register_policy",
           "check_services"]
