# Two commands after cloning:  `make serve`  (start the server on embedded defaults)  and  `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JS := tests/interop/js

.PHONY: serve test lint install test-deps bench clean

$(BIN)/fabric: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/fabric

serve: install
	$(BIN)/fabric serve

$(JS)/node_modules/.installed: $(JS)/package.json $(JS)/package-lock.json
	npm ci --prefix $(JS) --no-audit --no-fund
	@touch $@

test-deps: install $(JS)/node_modules/.installed
	scripts/neo4j-prepare
	scripts/services-prepare

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: test-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) $(JS)/node_modules scripts/neo4j/target
