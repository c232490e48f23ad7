"""The HTML reports in a real headless browser: they open offline, log no errors, plots draw.

One Chromium (Debian's, see ``tests/browser.py``) is launched for the whole module; each
page gets its own network-less context. Screenshots of a failing page are kept in the
test's tmp dir and named in the failure message.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from browser import (REQUIRE_ENV, VIEWPORT_WIDTH, browser_required, find_chromium, image_stats,
                     open_report)

MIN_COLOURS = 16           # a blank or single-colour page/plot has far fewer
MIN_NON_WHITE = 0.01       # share of non-white pixels: the page, and its most-inked plot
# Every plot must have at least this much ink: a plot that failed to draw is pure white (0),
# while a drawn plot of all-zero values (axes, grid, labels only) is at ~1.1 %.
MIN_NON_WHITE_EACH = 0.002


def _unavailable(reason: str):
    if browser_required():
        pytest.fail(f"{reason} (and {REQUIRE_ENV}=1 requires the browser tests to run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    chromium = find_chromium()
    if chromium is None:
        _unavailable("browser tests need Debian's chromium (/usr/bin/chromium); `make test` "
                     "installs it with apt-get when run as root")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("browser tests need playwright: pip install -c constraints.txt -e '.[dev]'")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def check_page(browser, path: Path, shots: Path):
    """Open one report and assert it is offline, error-free and has drawn, non-blank plots."""
    assert path.is_file(), f"{path} was not written"
    page = open_report(browser, path)
    shots.mkdir(parents=True, exist_ok=True)
    (shots / f"{path.stem}.png").write_bytes(page.screenshot)
    for i, png in enumerate(page.plot_screenshots):
        (shots / f"{path.stem}-plot{i}.png").write_bytes(png)
    where = f"{path.name} (screenshots in {shots})"

    problems = page.problems()
    assert not problems, f"{where}:\n  " + "\n  ".join(problems)
    assert page.plot_divs >= 1, f"{where}: no plotly figure on the page"
    assert len(page.plot_screenshots) == page.plot_divs, where
    assert page.traces >= 1, f"{where}: plots have no drawn traces"

    full = image_stats(page.screenshot)
    assert full.colours > MIN_COLOURS, f"{where}: page looks blank: {full}"
    assert full.non_white > MIN_NON_WHITE, f"{where}: page looks blank: {full}"
    plots = [image_stats(png) for png in page.plot_screenshots]
    for i, stats in enumerate(plots):
        assert stats.non_white > MIN_NON_WHITE_EACH, f"{where}: plot {i} looks blank: {stats}"
        assert stats.colours > MIN_COLOURS, f"{where}: plot {i} looks blank: {stats}"
    assert max(s.non_white for s in plots) > MIN_NON_WHITE, \
        f"{where}: no plot has more than {MIN_NON_WHITE:.0%} non-white pixels: {plots}"
    # Leads with its answer: a headline card with a sentence and figures, above every plot.
    headline = page.headline
    assert headline is not None, f"{where}: no headline card (#headline)"
    assert headline["figures"] >= 2 and len(headline["text"]) > 40, f"{where}: {headline}"
    assert headline["top"] < headline["firstFigureTop"], f"{where}: headline below a figure"
    # Fits the page: no sideways scrolling at a 1,280 px viewport, folded tables opened.
    assert page.scroll_width <= VIEWPORT_WIDTH, \
        f"{where}: scrolls sideways ({page.scroll_width} px wide at {VIEWPORT_WIDTH} px)"
    return page


def test_run_report_in_browser(browser, tmp_path):
    import seqlab

    seqlab.run("tiny", out=tmp_path / "run")
    page = check_page(browser, tmp_path / "run" / "report.html", tmp_path / "shots")
    assert page.plot_divs >= 4  # price, liquidations, latency, bonuses


def test_compare_report_in_browser(browser, tmp_path):
    from seqlab.experiments.compare import compare

    compare("tiny", ["honest", "extractive", "priority"], seeds=2, out=tmp_path / "cmp")
    page = check_page(browser, tmp_path / "cmp" / "compare.html", tmp_path / "shots")
    assert "Under extractive the operator made" in page.headline["text"]


def test_sweep_report_in_browser(browser, tmp_path):
    from seqlab.experiments.sweep import sweep

    sweep("tiny", designs=["honest", "extractive"], seeds=2,
          store=tmp_path / "sw" / "sweep.duckdb", backend="inline")
    page = check_page(browser, tmp_path / "sw" / "sweep.html", tmp_path / "shots")
    assert "against honest" in page.headline["text"]


def test_price_report_in_browser(browser, tmp_path):
    from seqlab.experiments.price import price_surface
    from seqlab.report import write_price_report

    premium = {"long 10x": {"mean_bps": 120.0, "ci95_bps": [-30.0, 270.0]},
               "short 10x": {"mean_bps": -120.0, "ci95_bps": [-270.0, 30.0]}}
    res = price_surface(premium, "long 10x", 2000.0, 0.8)
    write_price_report(res, tmp_path / "price" / "price.html")
    page = check_page(browser, tmp_path / "price" / "price.html", tmp_path / "shots")
    assert "0 in CI" in page.headline["text"]


def test_price_term_sheet_report_in_browser(browser, tmp_path):
    """A whole term sheet (two designs, who pays, the calendar) fits and draws."""
    import seqlab
    from seqlab.scenario import load_scenario, parse_scenario

    data = load_scenario("tiny").scenario.model_dump(mode="python")
    data["protocol"]["options"].update(enabled=True, expiries=["4min", "8min"],
                                       buy_rate_per_s=3.0, writers=8,
                                       writer_collateral_usd=8000.0)
    seqlab.price(parse_scenario(data), "extractive,fcfs", seeds=2, out=tmp_path / "p",
                 calendar="large=4,moderate=40")
    page = check_page(browser, tmp_path / "p" / "price.html", tmp_path / "shots")
    assert "paired seeds" in page.headline["text"]


def test_several_rollup_report_in_browser(browser, tmp_path):
    """The gap-over-time and arbitrage figures draw, beside rollup a's usual ones."""
    import seqlab
    from seqlab.scenario import load_scenario, parse_scenario

    data = load_scenario("shared-outage").scenario.model_dump(mode="python")
    data["duration"] = "20min"
    data["sequencer"]["outages"] = [{"start": "5min", "duration": "5min"}]
    data["agents"]["traders"]["accounts"] = 200
    data["rollups"]["sequencing"] = "isolated"
    seqlab.run(parse_scenario(data), out=tmp_path / "multi")
    page = check_page(browser, tmp_path / "multi" / "report.html", tmp_path / "shots")
    assert page.plot_divs >= 6  # gap, arbitrage, then rollup a's price, liq., latency, …


def test_reports_rerendered_from_their_folders_in_browser(browser, tmp_path):
    """``seqlab report DIR`` makes a run's, a compare's and a sweep's report again from the
    stored files alone (the first ones deleted), and each is a whole report again."""
    import seqlab
    from typer.testing import CliRunner

    from seqlab.cli import app

    seqlab.run("tiny", out=tmp_path / "run", report=False)
    seqlab.compare("tiny", ["honest", "extractive"], seeds=2, out=tmp_path / "cmp", report=False)
    seqlab.sweep("tiny", designs=["honest", "extractive"], seeds=2, backend="inline",
                 store=tmp_path / "sw" / "sweep.duckdb", report=False)
    for folder, page in (("run", "report.html"), ("cmp", "compare.html"), ("sw", "sweep.html")):
        assert not (tmp_path / folder / page).exists()
        done = CliRunner().invoke(app, ["report", str(tmp_path / folder), "--json"])
        assert done.exit_code == 0, done.output
        assert done.stdout.strip().endswith(f'{page}"}}')
        check_page(browser, tmp_path / folder / page, tmp_path / "shots" / folder)
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "shots")])
    assert bad.exit_code == 2 and "no stored results here" in bad.output
