"""Oracles: how the reference price becomes an on-chain price (through the sequencer)."""
from seqlab.oracle.push import OracleUpdates, push_feed_updates

__all__ = ["OracleUpdates", "push_feed_updates"]
