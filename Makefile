PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip install -q -c constraints.txt

.PHONY: run test install install-dev browser bench docs clean

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(VENV)/bin/seqlab run --out runs/default

# Debian's chromium for the browser tests (tests/test_browser.py; never `playwright install`).
# Installed with apt-get when missing and running as root; otherwise those tests skip.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium for the browser tests"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "note: chromium not found and not installable here (needs root and apt-get);" \
	         "the browser tests will be skipped"; \
	  fi; }

test: install-dev browser
	$(PY) -m pytest

bench: install-dev
	$(VENV)/bin/seqlab bench

# The documentation site (mkdocs.yml) into site/; `.venv/bin/mkdocs serve` to browse it live.
docs: install-dev
	$(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) runs site .pytest_cache
