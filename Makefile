# Two commands after cloning:  `make serve`  (start the server on embedded defaults)  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JS := tests/interop/js
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1  # the portal tests drive the system's chromium
PORTAL := portal
PORTAL_BUILT := fabric/portal/static/index.html

.PHONY: serve test lint install portal test-deps bench clean

$(BIN)/fabric: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/fabric

serve: install portal
	$(BIN)/fabric serve

# The web portal: JavaScript pinned by portal/package-lock.json, built by esbuild into fabric/portal/static.
$(PORTAL)/node_modules/.installed: $(PORTAL)/package.json $(PORTAL)/package-lock.json
	npm ci --prefix $(PORTAL) --no-audit --no-fund
	@touch $@

$(PORTAL_BUILT): $(PORTAL)/node_modules/.installed $(PORTAL)/build.mjs $(shell find $(PORTAL)/src -type f)
	npm run --prefix $(PORTAL) --silent build

portal: $(PORTAL_BUILT)

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	npm ci --prefix $(JS) --no-audit --no-fund
	@touch $@

test-deps: install portal $(JS)/node_modules/.installed
	scripts/neo4j-prepare
	scripts/services-prepare

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: test-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(JS)/node_modules $(PORTAL)/node_modules fabric/portal/static scripts/neo4j/target
