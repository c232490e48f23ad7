"""The L2 venue: liquidation hedges move it, arbitrage pulls it back."""
import numpy as np

import seqlab
from seqlab.metrics.venue import realized_vol, venue_path

T = np.arange(0, 3_600_000_001, 1_000_000, dtype=np.int64)


def test_no_liquidations_means_no_distortion():
    ref = 2000 * np.exp(np.cumsum(np.r_[0, np.random.default_rng(1).normal(0, 1e-4, len(T) - 1)]))
    venue = venue_path(T, ref, np.empty(0, np.int64), np.empty(0), 2e8, 10_000_000)
    assert np.allclose(venue, ref)
    assert realized_vol(T, venue) == realized_vol(T, ref)


def test_a_sale_has_constant_product_impact_then_decays():
    ref = np.full(len(T), 2000.0)
    sold = 10_000.0  # ETH, into a pool of 100M USD + 50,000 ETH
    venue = venue_path(T, ref, np.array([60_000_000]), np.array([sold]), 2e8, 10_000_000)
    x = 1e8 / 2000.0
    assert venue[60] == np.float64(2000.0 * (x / (x + sold)) ** 2)
    gap = np.log(venue[60] / 2000.0)
    assert np.isclose(np.log(venue[70] / 2000.0), gap / 2)  # one half-life later
    assert venue[59] == 2000.0


def test_runs_report_volatility_distortion():
    s = seqlab.run("tiny").summary
    assert s["venue_realized_vol"] > s["reference_realized_vol"] > 0
    assert s["vol_distortion"] > 0
