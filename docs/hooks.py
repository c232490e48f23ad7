"""mkdocs hooks: the home page is the README, the designs page lists ``seqlab designs``.

Both are generated at build time, so the site never repeats text that lives elsewhere.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme() -> str:
    # README links point into docs/ from the repository root; the site is rooted in docs/.
    return (ROOT / "README.md").read_text(encoding="utf-8").replace("](docs/", "](")


def _designs() -> str:
    from seqlab.sequencing import DESCRIPTIONS

    pipe = "\\|"
    rows = [f"| `{name}` | {text.replace('|', pipe)} |" for name, text in DESCRIPTIONS.items()]
    return "\n".join(["| design | what it is |", "|---|---|", *rows])


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if page.file.src_uri == "index.md":
        return _readme()
    if page.file.src_uri == "designs.md":
        marker = next(line for line in markdown.splitlines() if line.startswith("<!-- designs"))
        return markdown.replace(marker, _designs())
    return markdown
