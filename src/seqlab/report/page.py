"""The page skeleton every report shares: Jinja2 templates (autoescaped), the headline card.

Every report leads with a headline: a sentence of reading generated from the numbers, then
the three or four figures that matter (one card, or one card per design), each with its 95 %
interval when there are several seeds and a mark when that interval contains zero. Then the
figures, each with a one-line explanation under its title, then the full tables folded away.

Templates live in ``seqlab/report/templates`` (package data). Strings built in Python that are
already HTML (plotly divs, tables) are passed in as :class:`markupsafe.Markup`; everything
else is escaped by the templates.
"""
from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import plotly.graph_objects as go
from markupsafe import Markup
from plotly.offline import get_plotlyjs

_FIG_CONFIG = {"displaylogo": False, "responsive": True}
_TEMPLATE = "plotly_white"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; }
h1 { margin-bottom: 0.2rem; overflow-wrap: anywhere; }
.header { color: #555; margin-bottom: 1.5rem; overflow-wrap: anywhere; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
table.summary { border-collapse: collapse; font-size: 0.9rem; max-width: 100%; }
table.summary td, table.summary th { border-bottom: 1px solid #ddd; padding: 0.25rem 0.6rem;
                                     overflow-wrap: anywhere; }
table.summary th { text-align: left; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.fit { width: 100%; table-layout: fixed; }
.figure { height: 480px; margin: 0.5rem 0 2.5rem 0; }
.note { color: #777; font-style: italic; margin: 1rem 0 2rem 0; }
.explain { color: #444; margin: -0.4rem 0 0.3rem 0; max-width: 60rem; }
.ci { color: #777; font-size: 0.85em; }
.caption { color: #555; font-size: 0.9rem; margin: -2rem 0 2.5rem 0; }
section.headline { border: 1px solid #d0d7de; border-radius: 8px; background: #f8fafc;
                   padding: 0.8rem 1.2rem 1rem 1.2rem; margin: 0 0 2rem 0; }
section.headline .reading { font-size: 1.1rem; margin: 0.2rem 0 0.8rem 0; }
section.headline .cards { display: grid; gap: 0.8rem;
                          grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); }
section.headline .card { background: #fff; border: 1px solid #e3e8ee; border-radius: 6px;
                         padding: 0.5rem 0.8rem; }
section.headline .card.muted { background: #f3f4f6; }
section.headline h3 { margin: 0.1rem 0 0.4rem 0; font-size: 1rem; overflow-wrap: anywhere; }
section.headline dl { margin: 0; }
section.headline .fig { display: grid; grid-template-columns: minmax(6rem, auto) 1fr;
                        gap: 0.6rem; align-items: baseline; border-bottom: 1px dotted #e3e8ee;
                        padding: 0.15rem 0; }
section.headline dt { color: #555; }
section.headline dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
section.headline .value { font-weight: 600; }
section.headline .interval { display: block; }
section.headline .zero-mark { color: #8a5a00; background: #fff3cd; border-radius: 3px;
                              padding: 0 0.25rem; font-size: 0.8em; white-space: nowrap; }
section.headline .caption { margin: 0.6rem 0 0 0; }
details.full { margin: 1rem 0 2rem 0; }
details.full > summary { cursor: pointer; font-weight: 600; font-size: 1.1rem; margin: 0.5rem 0; }
"""


@dataclass
class Figure:
    """One headline figure: its label, the value as text, the 95 % interval as text (or
    None) and whether that interval contains zero."""

    label: str
    value: str
    interval: str | None = None
    zero: bool = False


@dataclass
class Card:
    figures: list[Figure]
    title: str | None = None
    tag: str | None = None      # e.g. "baseline"
    muted: bool = False


@dataclass
class Headline:
    reading: str
    cards: list[Card] = field(default_factory=list)
    note: str | None = None


def figure(label: str, mean: float | None, interval: Sequence[float] | None = None,
           fmt=None) -> Figure:
    """A headline figure from a mean and an optional ``[low, high]`` 95 % interval."""
    fmt = fmt or usd
    if mean is None or not math.isfinite(float(mean)):
        return Figure(label, "–")
    if interval is None or len(interval) != 2 or interval[0] == interval[1]:
        return Figure(label, fmt(mean))
    low, high = (float(v) for v in interval)
    return Figure(label, fmt(mean), f"[{fmt(low)}, {fmt(high)}]", low <= 0.0 <= high)


# --- number formats shared by the headline sentences ---------------------------------------


def usd(value: float) -> str:
    """USD with a magnitude suffix: ``12.3 k USD``, ``-4.56 M USD``."""
    v = float(value)
    for scale, suffix in ((1e9, " bn"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= scale:
            return f"{v / scale:,.3g}{suffix} USD"
    return f"{v:,.2f} USD" if v != round(v) else f"{v:,.0f} USD"


def count(value: float) -> str:
    v = float(value)
    return f"{v:,.0f}" if v == round(v) else f"{v:,.1f}"


def ms(value: float) -> str:
    v = float(value)
    if abs(v) >= 60_000:
        return f"{v / 60_000:,.1f} min"
    if abs(v) >= 1_000:
        return f"{v / 1_000:,.2f} s"
    return f"{v:,.0f} ms"


# --- templates ------------------------------------------------------------------------------


@cache
def environment() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader("seqlab.report", "templates"),
                              autoescape=True, trim_blocks=False, lstrip_blocks=False)


def _parts():
    return environment().get_template("parts.html.j2").module


def render_page(title: str, body: Iterable[str], extra_css: str = "", header: str = "",
                headline: Headline | None = None) -> str:
    """A whole offline document: title, header line, headline card, then ``body``.

    ``body`` holds HTML fragments (from :func:`section`, :func:`note`, :func:`folded` or
    tables built here); plotly.js is inlined once in the head.
    """
    return environment().get_template("base.html.j2").render(
        title=title, css=Markup(CSS + extra_css), plotlyjs=Markup(get_plotlyjs()),
        header=Markup(header), headline=headline, body=[Markup(b) for b in body])


def header_div(fields: Iterable[tuple[str, Any]], digest: Any | None = None) -> str:
    """``key: <b>value</b>`` pairs on one line, plus the digest in monospace when given."""
    return str(_parts().header(list(fields), digest))


def section(heading: str, fig: go.Figure | None, explain: str | None = None,
            height: int | None = None) -> str:
    """One figure (without plotly.js, which lives once in the head) under its heading and a
    one-line explanation of what it shows."""
    if fig is None:
        return note(heading, "no data in this run", explain)
    fig.update_layout(template=_TEMPLATE, title=heading, margin=dict(l=60, r=30, t=60, b=50))
    div = fig.to_html(full_html=False, include_plotlyjs=False, config=_FIG_CONFIG)
    return str(_parts().figure(heading, Markup(div), explain, height))


def note(heading: str, text: str, explain: str | None = None) -> str:
    """A heading plus a short note, used instead of an empty figure."""
    return str(_parts().note(heading, text, explain))


def folded(summary: str, content: str) -> str:
    """``content`` (HTML) folded away under a ``<details>`` summary line."""
    return str(_parts().folded(summary, Markup(content)))


def write_page(path: str | Path, document: str) -> Path:
    """Write a rendered document atomically at ``path`` and return it as a Path."""
    path = Path(path)
    _atomic_write_text(path, document)
    return path


def _atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file in the same directory and os.replace, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    # os.open with 0o666 respects the umask, unlike mkstemp's 0o600.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
