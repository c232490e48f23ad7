"""Test helper: open a seqlab HTML report in headless Chromium and collect what went wrong.

Uses Playwright for Python with the system's Chromium (Debian package ``chromium``), never a
browser downloaded by ``playwright install``: CI has no internet apart from package
registries. ``make test`` installs Debian's chromium when it is missing; where it still is
not available (no root), the browser tests skip, unless ``SEQLAB_REQUIRE_BROWSER=1`` is set,
which turns that skip into a failure.

Every network request the page makes is aborted and recorded (a report must open offline):
only ``file:`` and ``data:`` URLs are let through.
"""
from __future__ import annotations

import io
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_FALLBACK = "/usr/bin/chromium"
REQUIRE_ENV = "SEQLAB_REQUIRE_BROWSER"
# Local schemes a report may load; anything else is a network request and is blocked.
LOCAL_SCHEMES = ("file:", "data:")
# A pixel is "white" when every channel is at least this bright.
WHITE_MIN = 250

# True once every plotly div on the page has been drawn: plotly.js has taken it over
# (class js-plotly-plot), laid it out (_fullLayout) and drawn its SVG (svg.main-svg).
# Counting ``.plotly-graph-div`` (the div plotly's to_html writes) rather than
# ``.js-plotly-plot`` means a div whose newPlot never ran keeps the wait from passing.
_PLOTS_DRAWN_JS = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return divs.length > 0 && divs.every(d =>
      d.classList.contains('js-plotly-plot') && d._fullLayout && d.querySelector('svg.main-svg'));
}"""

_UNDRAWN_JS = "() => [...document.querySelectorAll('.plotly-graph-div')]" \
    ".filter(d => !d.querySelector('svg.main-svg')).map(d => d.id)"
_PLOT_DIVS_JS = "() => document.querySelectorAll('.plotly-graph-div').length"
# Drawn trace groups (g.trace; legend entries are g.traces and do not match).
_TRACES_JS = "() => document.querySelectorAll('.js-plotly-plot .trace').length"
# Open every folded table first: a table that is too wide must count even when folded.
_OPEN_DETAILS_JS = "() => document.querySelectorAll('details').forEach(d => d.open = true)"
_SCROLL_WIDTH_JS = "() => document.documentElement.scrollWidth"
_HEADLINE_JS = """() => {
  const h = document.querySelector('#headline');
  if (!h) return null;
  return {text: h.innerText, figures: h.querySelectorAll('.fig').length,
          top: h.getBoundingClientRect().top,
          firstFigureTop: Math.min(...[...document.querySelectorAll('.figure')]
                                   .map(f => f.getBoundingClientRect().top))};
}"""
VIEWPORT_WIDTH = 1280


def find_chromium() -> str | None:
    """Path of the system Chromium, or None when there is none."""
    path = shutil.which("chromium") or CHROMIUM_FALLBACK
    return path if os.access(path, os.X_OK) else None


def browser_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0")


@dataclass
class PageReport:
    """What happened when one page was opened."""

    path: Path
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    plot_divs: int = 0
    undrawn_plots: list[str] = field(default_factory=list)  # ids of divs not drawn in time
    traces: int = 0
    scroll_width: int = 0        # document width with every <details> open
    headline: dict | None = None  # text, number of figures, position of the headline card
    load_s: float = 0.0
    screenshot: bytes = field(default=b"", repr=False)                      # full page, PNG
    plot_screenshots: list[bytes] = field(default_factory=list, repr=False)  # one per plot

    def problems(self) -> list[str]:
        """Human-readable list of everything that should not have happened."""
        out = [f"console error: {m}" for m in self.console_errors]
        out += [f"page error: {m}" for m in self.page_errors]
        out += [f"network request (blocked, page must be offline): {u}"
                for u in self.blocked_requests]
        out += [f"request failed: {u}" for u in self.failed_requests]
        out += [f"websocket opened: {u}" for u in self.websockets]
        if self.undrawn_plots:
            out.append(f"{len(self.undrawn_plots)} of {self.plot_divs} plots not drawn "
                       f"(no svg.main-svg) before the timeout: {self.undrawn_plots}")
        return out


def open_report(browser, path: Path, timeout_ms: float = 30_000) -> PageReport:
    """Load ``path`` in a fresh, network-less context; wait for its plots; screenshot it.

    Plots still undrawn after ``timeout_ms`` are recorded (``undrawn_plots``), not raised,
    so the caller's assertion lists them together with the page's errors.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    path = Path(path).resolve()
    report = PageReport(path)
    context = browser.new_context(viewport={"width": VIEWPORT_WIDTH, "height": 900})
    try:
        def route(r) -> None:
            url = r.request.url
            if url.startswith(LOCAL_SCHEMES):
                r.continue_()
            else:
                report.blocked_requests.append(url)
                r.abort("internetdisconnected")

        context.route("**/*", route)

        def on_console(message) -> None:
            if message.type == "error":
                report.console_errors.append(f"{message.text} ({_location(message)})")

        def on_request_failed(request) -> None:
            if request.url not in report.blocked_requests:  # those are recorded already
                report.failed_requests.append(f"{request.url}: {request.failure}")

        page = context.new_page()
        page.on("console", on_console)
        page.on("pageerror", lambda error: report.page_errors.append(str(error)))
        page.on("requestfailed", on_request_failed)
        page.on("websocket", lambda ws: report.websockets.append(ws.url))

        t0 = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
        report.plot_divs = page.evaluate(_PLOT_DIVS_JS)
        if report.plot_divs:
            try:
                page.wait_for_function(_PLOTS_DRAWN_JS, timeout=timeout_ms)
            except PlaywrightTimeoutError:
                report.undrawn_plots = page.evaluate(_UNDRAWN_JS)
        report.load_s = time.perf_counter() - t0
        report.traces = page.evaluate(_TRACES_JS)
        report.headline = page.evaluate(_HEADLINE_JS)
        page.evaluate(_OPEN_DETAILS_JS)
        report.scroll_width = page.evaluate(_SCROLL_WIDTH_JS)
        report.screenshot = page.screenshot(full_page=True, animations="disabled")
        plots = page.locator(".js-plotly-plot")
        report.plot_screenshots = [plots.nth(i).screenshot(animations="disabled")
                                   for i in range(plots.count())]
    finally:
        context.close()
    return report


def _location(message) -> str:
    loc = message.location or {}
    return f"{loc.get('url', '?')[-60:]}:{loc.get('lineNumber', '?')}"


@dataclass(frozen=True)
class ImageStats:
    width: int
    height: int
    colours: int          # distinct RGB colours
    non_white: float      # share of pixels with some channel below WHITE_MIN


def image_stats(png: bytes) -> ImageStats:
    """Decode a PNG screenshot and measure how much is drawn on it."""
    from PIL import Image, ImageChops

    with Image.open(io.BytesIO(png)) as im:
        rgb = im.convert("RGB")
    w, h = rgb.size
    colours = rgb.getcolors(maxcolors=w * h)
    n_colours = len(colours) if colours is not None else w * h
    # Per pixel: the darkest channel; "white" when it is still >= WHITE_MIN.
    r, g, b = rgb.split()
    darkest = ImageChops.darker(ImageChops.darker(r, g), b)
    hist = darkest.histogram()
    non_white = sum(hist[:WHITE_MIN]) / float(w * h) if w * h else 0.0
    return ImageStats(w, h, n_colours, non_white)
