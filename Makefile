# tickcast: `make` is the front door. The same targets run in CI and on a laptop.
#   make run    run the whole system, embedded defaults (no servers to install)
#   make test   every test: Rust, Node, TA-Lib parity, real Kafka and Elasticsearch
#   make bench  benchmarks: ours against peers in the same run, ratios printed
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Builds may be cached outside the clone; a machine without the cache still works.
CACHE_DIR ?= $(HOME)/.cache/tickcast
export CARGO_TARGET_DIR ?= $(CACHE_DIR)/cargo-target
export KAFKAJS_NO_PARTITIONER_WARNING := 1
export TICKCAST_CACHE := $(CACHE_DIR)
PY_VENV ?= .venv
# CMake >= 3.28 for LightGBM 4.7 (Debian bookworm has 3.25): the PyPI cmake, in a venv outside the clone.
BUILD_VENV ?= $(CACHE_DIR)/build-venv
export CMAKE ?= $(BUILD_VENV)/bin/cmake
NODE_TEST_FILES = $(shell find ts/test -name '*.test.ts' | sort)

.PHONY: lint-rust test-rust-lightgbm build-tools system-deps help setup node-deps addons pyenv run test test-rust test-node typecheck check-generated bench services-up clean deploy-tools build deploy-check deploy-e2e soak test-data

help:
	@sed -n '1,5p' Makefile

setup: system-deps node-deps addons

# Debian packages the tests need: Chromium (dashboard browser test), libclang (LightGBM bindgen).
system-deps:
	@missing=""; command -v chromium >/dev/null || missing="$$missing chromium"; \
	  [ -n "$$(ls /usr/lib/llvm-*/lib/libclang.so* 2>/dev/null)" ] || missing="$$missing libclang-dev"; \
	  if [ -n "$$missing" ]; then echo "[setup] apt-get install$$missing"; \
	    if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	    else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; fi

node-deps:
	@if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  echo "[setup] npm ci"; npm ci --no-audit --no-fund; fi

# Native addons (napi-rs): release builds; index.d.ts / index.js are generated and committed.
build-tools:
	@if [ ! -x "$(CMAKE)" ]; then echo "[setup] cmake (PyPI) into $(BUILD_VENV)"; python3 -m venv $(BUILD_VENV) && \
	  $(BUILD_VENV)/bin/pip install -q --disable-pip-version-check -r crates/lightgbm/requirements-build.txt; fi

addons: node-deps build-tools
	@echo "[setup] building native addons (cargo target: $(CARGO_TARGET_DIR))"
	npm run build --workspaces --if-present

# Python test oracles (TA-Lib, LightGBM) in a local venv; tests and benchmarks only.
pyenv:
	@if [ ! -x $(PY_VENV)/bin/python ] || ! $(PY_VENV)/bin/python -c 'import talib, lightgbm' 2>/dev/null; then \
	  echo "[setup] python oracles into $(PY_VENV)"; python3 -m venv $(PY_VENV) && \
	  $(PY_VENV)/bin/pip install -q --disable-pip-version-check -r tests/oracles/requirements.txt -r tests/oracles/requirements-lightgbm.txt; fi

run: setup
	node --import tsx ts/src/cli.ts run all

typecheck: node-deps
	npx tsc --noEmit -p tsconfig.json

check-generated: addons
	@git diff --exit-code -- 'crates/*/node/index.d.ts' 'crates/*/node/index.js' || \
	  { echo "generated napi files drifted from the Rust: commit the rebuilt index.d.ts/index.js"; exit 1; }

# The LightGBM crates are left out here: their C++ would compile a second time in
# the test profile (about 8 min of CPU cold). The Node tests exercise the same
# code through the release addon (ts/test/lightgbm, parity with Python lightgbm);
# `make test-rust-lightgbm` runs the crate's own Rust tests.
test-rust:
	cargo test --workspace --exclude tickcast-lightgbm --exclude tickcast-lightgbm-node

# cargo clippy on every target (libs, tests, examples, benches) with the lints the
# workspace declares (Cargo.toml [workspace.lints]: no unwrap/expect/panic, docs),
# warnings as errors. The LightGBM crates are linted too (their binding is where a
# panic would cross the FFI): clippy does not link, but the lightgbm3-sys build
# script compiles LightGBM's C++. With the release profile and the explicit host
# target that `napi build --platform --release` uses, clippy reuses the addon's
# build-script output (23 s here instead of a second C++ compile, about 8 CPU-minutes
# cold); the rest is checked in the dev profile.
HOST_TRIPLE := $(shell rustc -vV 2>/dev/null | sed -n 's/^host: //p')
lint-rust: build-tools addons
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	cargo clippy --workspace --all-targets --exclude tickcast-lightgbm --exclude tickcast-lightgbm-node -- -D warnings
	cargo clippy --release --target $(HOST_TRIPLE) -p tickcast-lightgbm -p tickcast-lightgbm-node --all-targets -- -D warnings

test-rust-lightgbm: build-tools
	cargo test -p tickcast-lightgbm --release --target $(HOST_TRIPLE)

# Real test data that may not be committed (data/test/README.md): fetched once into
# $(CACHE_DIR)/test-data with a SHA-256 check, from TICKCAST_TEST_DATA_MIRROR, ../shared/data or the public URL.
test-data: node-deps
	node --import tsx ts/test/fixtures/fetch-test-data.ts

test-node: setup pyenv deploy-tools test-data
	bash scripts/services/with-services.sh node --import tsx --test --test-concurrency=1 $(NODE_TEST_FILES)

test: setup pyenv typecheck check-generated lint-rust test-rust test-node

# The benchmarks that need no server run with nothing else on the machine (an
# idle Kafka and Elasticsearch still take CPU from the measures); then both are
# started for the pipeline's production part alone.
bench: setup pyenv
	node --import tsx ts/test/fixtures/fetch-test-data.ts --all
	BENCH_PIPELINE_PARTS=embedded BENCH_LATENCY_PARTS=embedded node --import tsx bench/run.ts
	BENCH_PIPELINE_PARTS=kafka bash scripts/services/with-services.sh bash -c 'node --import tsx bench/pipeline.ts && node --import tsx bench/restore.ts && node --import tsx bench/latency.ts --parts kafka && node --import tsx bench/scale.ts'

# Longer scale-out runs (issue 19) than `make test` has: the candles+features rebalance test with 20 pairs,
# and the whole-path test with 40 (make test runs it with 20).
soak: setup test-data
	TICKCAST_TEST_REBALANCE_PAIRS=20 TICKCAST_TEST_SCALEOUT_PAIRS=40 bash scripts/services/with-services.sh node --import tsx --test --test-concurrency=1 ts/test/pipeline/rebalance.test.ts ts/test/pipeline/scale-out-full.test.ts

services-up:
	bash scripts/services/with-services.sh --keep

# Deployment tools (helm from the Go module proxy, kubernetes-validate, hadolint) into $(CACHE_DIR)/bin.
deploy-tools:
	bash scripts/deploy/ensure-tools.sh

# The image: docker if an engine answers, else podman/buildah, else addons + type-check + Dockerfile lint.
build: setup
	bash scripts/deploy/build.sh

# The deployment proven here (not part of `make test`: cold it builds the image and a
# Kubernetes control plane from source): image built and run (embedded, then production
# against real Kafka + Elasticsearch), chart installed/upgraded/rolled back/uninstalled
# on a real kube-apiserver. Needs root + podman/mmdebstrap. See docs/deployment.md.
deploy-e2e: deploy-tools
	bash scripts/deploy/e2e.sh

# Offline checks: hadolint, helm lint --strict, helm template, kubernetes-validate (Kubernetes 1.34.0).
deploy-check: deploy-tools
	bash scripts/deploy/validate.sh

clean:
	rm -rf node_modules $(PY_VENV) crates/*/node/*.node
