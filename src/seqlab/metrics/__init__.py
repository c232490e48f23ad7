"""Metrics computed from a finished run's tables (pure functions of arrays)."""
