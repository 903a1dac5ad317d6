# Equivariant Workbench: two commands for a new user (see README.md).
#   make lab    create .venv if needed, install, open JupyterLab on notebooks/
#   make test   same install, then lint + every test (unit, notebooks, browser)
#   make bench  side-by-side benchmarks against the reference codes

PYTHON ?= python3
VENV   ?= .venv
EXTRAS ?= dev,jets,chem,md,scattering
PORT   ?= 8888
PYTEST_ARGS ?=
BIN    := $(VENV)/bin
comma  := ,
# The install is redone only when pyproject.toml, constraints.txt or EXTRAS change.
HASH   := $(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
STAMP  := $(VENV)/.installed-$(HASH)-$(subst $(comma),-,$(EXTRAS))
CHROMIUM ?= /usr/bin/chromium

.PHONY: install lab test lint format bench browser-deps clean docs-images

install: $(STAMP)

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || { \
	  echo "error: could not create $(VENV) with $(PYTHON); on Debian: apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
	  -c constraints.txt -e ".[$(EXTRAS)]"
	@find $(VENV) -maxdepth 1 -name '.installed-*' ! -name '.installed-$(HASH)-*' -delete
	@touch $@
	@echo "installed equivariant-workbench[$(EXTRAS)] into $(VENV)"

lab: install
	@token=$$($(BIN)/python -c "import secrets; print(secrets.token_hex(16))"); \
	echo ""; \
	echo "  JupyterLab: http://127.0.0.1:$(PORT)/lab/tree/00_tour.ipynb?token=$$token"; \
	echo "  (Ctrl-C to stop; PORT=NNNN make lab to use another port)"; \
	echo ""; \
	root=$$([ "$$(id -u)" = 0 ] && echo --allow-root); \
	exec $(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(PORT) $$root \
	  --ServerApp.port_retries=0 --IdentityProvider.token=$$token \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate \
	  --ServerApp.root_dir=notebooks

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
browser-deps:
	@if [ ! -x $(CHROMIUM) ]; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null || { \
	    echo "error: could not install chromium; install it (apt-get install chromium) or"; \
	    echo "set CHROMIUM=/path/to/chromium"; exit 1; }; \
	fi

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: install browser-deps lint
	WORKBENCH_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest $(PYTEST_ARGS)

# The reference codes (lie-nn) are benchmark-only dependencies: the `bench` extra.
bench:
	$(MAKE) --no-print-directory install EXTRAS=dev,jets,chem,md,scattering,bench
	$(BIN)/python -m benchmarks $(BENCH)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache tests/browser/screenshots

# Refresh the README picture from the browser test's screenshot.
docs-images:
	cp tests/browser/screenshots/00_tour-0-EquivarianceCheck.png docs/equivariance_check.png
