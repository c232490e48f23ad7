"""The risk-premium estimator: per-type split of harm, pooling over seeds as a ratio of
totals, and its delta-method interval, checked on synthetic data by hand; and compare's
marking of figures whose interval contains zero."""
import math

import numpy as np
import pytest
from scipy import stats

from seqlab.metrics.premium import pooled_ratio_ci, premium_parts


def test_parts_split_harm_by_exposure_share():
    harm = np.array([100.0, 30.0, 0.0])
    long_y = np.array([3.0, 0.0, 1.0])
    short_y = np.array([1.0, 2.0, 0.0])
    lev = np.array([10.0, 10.0, 5.0])
    parts = premium_parts(harm, long_y, short_y, lev)
    assert parts["long 10x"] == pytest.approx((75.0, 3.0))
    assert parts["short 10x"] == pytest.approx((25.0 + 30.0, 3.0))
    assert parts["long 5x"] == (0.0, 1.0) and parts["short 5x"] == (0.0, 0.0)
    # every leverage pooled by side, and both sides together
    assert parts["long (all)"] == pytest.approx((75.0, 4.0))
    assert parts["short (all)"] == pytest.approx((55.0, 3.0))
    assert parts["perps (all)"] == pytest.approx((130.0, 7.0))


def test_pooled_ratio_weighs_seeds_by_exposure():
    # a seed with a hundredth of the exposure must not count as much as the others
    mean, _ = pooled_ratio_ci([10.0, 10.0, 50.0], [1.0, 1.0, 0.01])
    assert mean == pytest.approx(70.0 / 2.01 * 1e4)


def test_delta_method_interval_by_hand():
    h, y = np.array([2.0, 3.0, 7.0, 4.0]), np.array([1.0, 2.0, 3.0, 2.0])
    r = h.sum() / y.sum()
    d = h - r * y
    se = math.sqrt((d ** 2).sum() / (4 * 3)) / y.mean()
    half = stats.t.ppf(0.975, 3) * se
    mean, ci = pooled_ratio_ci(list(h), list(y))
    assert mean == pytest.approx(r * 1e4)
    assert ci == pytest.approx([(r - half) * 1e4, (r + half) * 1e4])


def test_interval_covers_the_true_rate_about_95_percent():
    rng = np.random.default_rng(7)
    hits = 0
    for _ in range(400):
        y = rng.uniform(0.5, 2.0, 8)
        h = 0.003 * y + rng.normal(0, 0.002, 8) * np.sqrt(y)
        _, (lo, hi) = pooled_ratio_ci(list(h), list(y))
        hits += lo <= 30.0 <= hi
    assert 0.90 <= hits / 400 <= 0.99


def test_no_harm_is_exactly_zero_with_zero_width():
    assert pooled_ratio_ci([0.0, 0.0], [2.0, 3.0]) == (0.0, [0.0, 0.0])


def test_no_exposure_gives_zero_not_nan():
    assert pooled_ratio_ci([5.0], [0.0]) == (0.0, [0.0, 0.0])
    mean, ci = pooled_ratio_ci([5.0], [1.0])
    assert mean == 5e4 and ci == [5e4, 5e4]


def test_compare_marks_figures_whose_interval_contains_zero():
    from seqlab.cli import _ci_cell
    from seqlab.report.compare_html import format_cell

    entry = {"ordering_cost_usd": 10.0, "ci95": {"ordering_cost_usd": [-5.0, 25.0]}}
    assert _ci_cell(entry, "ordering_cost_usd").endswith("†")
    entry["significance"] = {"ordering_cost_usd": {"significant": False, "seeds_needed": 23}}
    assert _ci_cell(entry, "ordering_cost_usd").endswith("†~23")
    entry["ci95"]["ordering_cost_usd"] = [5.0, 15.0]
    assert "†" not in _ci_cell(entry, "ordering_cost_usd")
    assert "0 in CI" in format_cell(10.0, 15.0, 1.0, "usd")
    assert "0 in CI" not in format_cell(10.0, 5.0, 1.0, "usd")


def test_one_seed_is_said_to_have_no_interval():
    from seqlab.cli import _mark
    from seqlab.report.compare_html import significance_text

    one = {"mean_usd": 12.0, "ci95_usd": None, "significant": False, "seeds_needed": None}
    point = {"mean_bps": 3.0, "ci95_bps": [3.0, 3.0], "significant": False,
             "seeds_needed": None}
    for entry in (one, point):
        assert _mark(entry) == "one seed: no interval"
        assert significance_text(entry).startswith("no interval")
    zero = {"mean_usd": 0.0, "ci95_usd": [0.0, 0.0], "significant": False, "seeds_needed": None}
    assert _mark(zero) == "0 in CI" and significance_text(zero) == "0 in CI"
