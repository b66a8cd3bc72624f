# Benchmarks (issue 7): `make bench` runs every scenario against the real webhook over TLS,
# with the AWS sandbox, the allow-all baseline and the autocannon load generator each in its
# own process, and writes bench/results/latest.{json,md}. Not part of `make test`.
# Included by the main Makefile, which declares bench .PHONY.
#
#   make bench                          every scenario, about 8 minutes on 2 cores
#   make bench BENCH_SCALE=0.2          a quick look (durations and image counts x 0.2)
#   make bench BENCH_ONLY=warm,cold     some scenarios: warm cold rollout churn degraded ecr-facts
#   make bench BENCH_LATENCY_MS=50      injected latency per AWS call (default 20)
#   make bench BENCH_WEBHOOK=src        run node src/main.ts instead of the compiled build
#   make bench BENCH_OUT=/tmp/results   write the results elsewhere
#   make bench BENCH_WEBHOOK_NODE_FLAGS=--max-semi-space-size=8   node flags for the webhook (default: the chart's server.nodeOptions; none: no flags)

BENCH_NODE_PATH := $(CURDIR)/node_modules/.bin
export BENCH_SCALE BENCH_ONLY BENCH_LATENCY_MS BENCH_WEBHOOK BENCH_OUT BENCH_WEBHOOK_NODE_FLAGS

bench: deps
	PATH="$(BENCH_NODE_PATH):$$PATH" node bench/run.ts
