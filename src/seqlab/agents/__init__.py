"""Agents: who sends transactions, and how they react to the block feed."""
