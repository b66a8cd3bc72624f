# ecr-admission: every target does its own set-up (npm ci, Node 24 from the npm registry's
# `node` package), so `make demo` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_BIN := $(CURDIR)/node_modules/.bin
export PATH := $(NODE_BIN):$(PATH)
# Tests and tools find the real peers and helm in a cache outside the checkout.
export ECR_ADMISSION_CACHE ?= $(HOME)/.cache/ecr-admission

.PHONY: help deps build typecheck layers lint fmt fmt-check demo test unit e2e bench clean redis-server

help:
	@echo "make demo   run the webhook on its embedded default against the built-in AWS sandbox"
	@echo "make test   type-check, unit and integration tests, chart tests, end-to-end suite"
	@echo "make bench  benchmarks (not part of make test), results in bench/results/"
	@echo "make lint   ESLint (type-aware) and the layer rules; make fmt formats with Prettier"

# npm ci is redone only when the lock file changes. The npm registry's `node` package brings
# Node 24 into node_modules/.bin, which PATH above puts first.
node_modules/.deps-installed: package.json package-lock.json
	npm ci --no-audit --no-fund --foreground-scripts
	@$(NODE_BIN)/node -e 'if (!process.versions.node.startsWith("24.")) { console.error("expected Node 24 from the npm node package, got " + process.version); process.exit(1) }'
	@# tap compiles its plugin set on first use; build it now so the first run already uses
	@# package.json's (Node's own type stripping instead of the ts-node plugin).
	tap build
	@touch $@

deps: node_modules/.deps-installed

build: deps
	npx tsc -p tsconfig.build.json

typecheck: deps
	npx tsc -p tsconfig.json

# The layer rules of src/ (.dependency-cruiser.cjs): one direction of dependency, no cycles,
# nothing outside src/dev/ importing it.
layers: deps
	depcruise --config .dependency-cruiser.cjs src

FORMATTED := "src/**/*.ts" "test/**/*.ts" "bench/**/*.ts" "scripts/**/*.{ts,mjs}" "*.{js,cjs}"

lint: layers
	eslint .

fmt: deps
	prettier --write $(FORMATTED)

fmt-check: deps
	prettier --check --log-level warn $(FORMATTED)

demo: deps
	node src/dev/main.ts demo

# The shared fact cache's tests run a real redis-server (Debian's package, installed when missing).
redis-server:
	scripts/tools/ensure-redis.sh >/dev/null

unit: deps redis-server
	set -o pipefail; tap 2>&1 | tee test-output.log; node scripts/tap-summary.mjs test-output.log

test: typecheck lint fmt-check unit e2e

clean:
	rm -rf dist .tap coverage test-output test-output.log

-include mk/*.mk
