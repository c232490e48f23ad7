"""mkdocs hooks: the home page is the README, the designs overview lists ``seqlab designs``.

Both are generated at build time, so the site never repeats text that lives elsewhere.
The overview links every design to its page: ``designs/<name>.md`` when the design has a
page of its own, otherwise the page with a heading that is exactly its name in code
(variants such as ``extractive-backrun`` share their family's page, a section each). A
design with neither fails the build, so a new design cannot ship without its page.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DESIGN_PAGES = ROOT / "docs" / "designs"


def _readme() -> str:
    # README links point into docs/ from the repository root; the site is rooted in docs/.
    return (ROOT / "README.md").read_text(encoding="utf-8").replace("](docs/", "](")


def design_link(name: str) -> str:
    """The link, relative to the designs overview, of the page that documents ``name``."""
    if (DESIGN_PAGES / f"{name}.md").exists():
        return f"{name}.md"
    heading = re.compile(rf"^(#+) `{re.escape(name)}`\s*$", re.M)
    for page in sorted(DESIGN_PAGES.glob("*.md")):
        found = heading.search(page.read_text(encoding="utf-8"))
        if found:  # a section's anchor is its slug, which for a design name is the name
            return page.name if found.group(1) == "#" else f"{page.name}#{name}"
    raise ValueError(f"design '{name}' has no page in docs/designs/: add {name}.md "
                     f"or a heading `{name}` on its family's page")


def _designs() -> str:
    from seqlab.sequencing import DESCRIPTIONS

    pipe = "\\|"
    rows = [f"| [`{name}`]({design_link(name)}) | {text.replace('|', pipe)} |"
            for name, text in DESCRIPTIONS.items()]
    return "\n".join(["| design | what it is |", "|---|---|", *rows])


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if page.file.src_uri == "index.md":
        return _readme()
    if page.file.src_uri == "designs/index.md":
        marker = next(line for line in markdown.splitlines() if line.startswith("<!-- designs"))
        return markdown.replace(marker, _designs())
    return markdown
