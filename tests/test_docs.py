"""The documentation site builds with ``mkdocs build --strict`` (offline: no web fonts)."""
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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
    api = (site / "api" / "index.html").read_text()
    assert "Run every design on every seed" in api          # docstrings rendered
    assert "fonts.googleapis" not in home + api
