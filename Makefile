# Two commands for a fresh machine (see README):
#   make run    set up the environment and start the app on the shipped network
#   make test   set up the environment (Python packages and Debian's chromium) and run the whole suite
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test setup system-deps clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m bn.engines.case_tree   # numba compiles one case's tree once per install (bn/engines/case_tree.py)
	touch $@

setup: $(VENV)/.installed

# Debian's chromium drives the real-browser tests (Playwright's own browser download does not work here).
system-deps:
	@# Only what is missing: a machine with another nodejs (e.g. NodeSource's, which bundles npm) must not be
	@# asked for Debian's npm, which conflicts with it.
	@MISSING="$$(command -v chromium >/dev/null 2>&1 || echo chromium fonts-dejavu-core) \
		$$(command -v npm >/dev/null 2>&1 || echo nodejs npm)"; \
	if [ -n "$$(echo $$MISSING)" ]; then \
		SUDO=$$(command -v sudo >/dev/null 2>&1 && [ "$$(id -u)" != 0 ] && echo sudo); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$MISSING; \
	fi

# axe-core (npm), injected into the app by the accessibility browser test.
AXE := build/axe/node_modules/axe-core/axe.min.js
$(AXE):
	npm install --silent --no-audit --no-fund --prefix build/axe axe-core@$(AXE_VERSION)
AXE_VERSION := 4.14.1

# MALLOC_ARENA_MAX: the server's memory stays flat as sessions come and go (bench.load, docs/reliability.md).
run: setup
	MALLOC_ARENA_MAX=2 $(VENV)/bin/streamlit run app.py --server.headless true --server.port $(PORT) --browser.gatherUsageStats false

test: setup system-deps $(AXE)
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -n 2 --dist loadfile --durations=15   # two cores; a file's tests stay on one worker (one app server, one browser)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
