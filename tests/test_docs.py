"""The documentation site builds with ``mkdocs build --strict`` (offline: no web fonts)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DESIGN_PAGE_SECTIONS = ["mechanism", "source", "what-the-operator-can-and-cannot-do",
                        "settings", "how-seqlab-checks-it", "reading-its-compare-row"]


def test_mkdocs_builds_strict(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False  # the Material theme must not fetch fonts
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"),
                                          *filter(None, [os.environ.get("PYTHONPATH")])])}
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file",
                           str(ROOT / "mkdocs.yml"), "--site-dir", str(site)],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    home = (site / "index.html").read_text()
    assert "A laboratory for sequencer risk" in home      # the README is the home page
    assert 'href="scenarios/"' in home                    # its docs/ links resolve
    designs = (site / "designs" / "index.html").read_text()
    from seqlab.sequencing import DESCRIPTIONS
    assert all(f"<code>{name}</code>" in designs for name in DESCRIPTIONS)
    for name in DESCRIPTIONS:  # the overview links each design to the page that has it
        link = rf'<a href="([^"]+)"><code>{re.escape(name)}</code></a>'
        (href,) = set(re.findall(link, designs))
        path, _, anchor = href.partition("#")
        page = (site / "designs" / path / "index.html").read_text()
        assert f"<code>{name}</code>" in page, name
        assert not anchor or f'id="{anchor}"' in page, href
    pages = [p for p in (site / "designs").glob("*/index.html")]
    assert len(pages) >= 9
    for page in pages:  # every design page has the same sections, in the same order
        assert re.findall(r'<h2 id="([^"]+)"', page.read_text()) == DESIGN_PAGE_SECTIONS, page
    api = (site / "api" / "index.html").read_text()
    assert "Run every design on every seed" in api          # docstrings rendered
    assert "fonts.googleapis" not in home + api
