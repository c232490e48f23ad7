"""Option pricing: vectorised Black-Scholes prices, greeks and implied volatility.

Kept apart from the simulation so derivatives models can price options on whole arrays
of states at once without pulling in the world machinery.
"""
from seqlab.pricing.black_scholes import black_scholes, greeks, implied_vol

__all__ = ["black_scholes", "greeks", "implied_vol"]
