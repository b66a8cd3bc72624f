# End-to-end suite against real peers (kube-apiserver, etcd, olareg, notation, oras) built from
# the Go module proxy into $HOME/.cache/ecr-admission/rig/ by scripts/rig/build.sh.
# Included by the main Makefile.
#
#   make rig   build (or find) the peers; a no-op once built
#   make e2e   rig, then every test/e2e/**/*.test.ts on the newest Kubernetes, then the same
#              and the chart's install test on the oldest Kubernetes EKS supports (issue 20)
#
# The two Kubernetes versions are pinned, with the reason, in scripts/rig/versions.env; the test
# support picks the API server by ECR_ADMISSION_E2E_KUBE (test/e2e/rig/kube-version.ts), unset
# meaning the newest. Each run has its own log (test-output-e2e.log, test-output-e2e-oldest.log)
# and kept-failure folder (test-output/e2e/kube-<version>/... for the oldest), and the closing
# lines name the version of each run before the one "e2e: N passed, N failed" line for both.
#
# The test files are named explicitly: package.json's tap config excludes test/e2e/** so that
# plain `tap` stays fast, and tap applies that exclude to a directory argument (`tap test/e2e`
# finds nothing) but not to files given by name.

E2E_NODE_PATH := $(CURDIR)/node_modules/.bin
E2E_TESTS = $(shell find test/e2e -name '*.test.ts' | sort)
E2E_KUBE_NEWEST := $(shell . scripts/rig/versions.env && echo "$$KUBERNETES_VERSION")
E2E_KUBE_OLDEST := $(shell . scripts/rig/versions.env && echo "$$KUBERNETES_OLDEST_VERSION")
# On the oldest version: the same files (the issue asks at least for the decisions and the
# chart; all of them cost about a minute more) plus the chart's helm install and upgrade, which
# `make unit` already runs on the newest.
E2E_OLDEST_TESTS = $(E2E_TESTS) test/chart/install.test.ts
E2E_TAP = PATH="$(E2E_NODE_PATH):$$PATH" tap --timeout 900 --disable-coverage --jobs=1

.PHONY: rig e2e
rig:
	scripts/rig/build.sh

# Both runs always run (no pipefail: tee's status is the line's), so a failure on the newest still
# shows what the oldest does; the summary's exit status is the target's.
e2e: rig
	@echo "=== e2e on kube-apiserver $(E2E_KUBE_NEWEST) (newest): $(words $(E2E_TESTS)) files"
	ECR_ADMISSION_E2E_KUBE=$(E2E_KUBE_NEWEST) $(E2E_TAP) $(E2E_TESTS) 2>&1 | tee test-output-e2e.log
	@echo "=== e2e on kube-apiserver $(E2E_KUBE_OLDEST) (oldest supported): $(words $(E2E_OLDEST_TESTS)) files"
	ECR_ADMISSION_E2E_KUBE=$(E2E_KUBE_OLDEST) $(E2E_TAP) $(E2E_OLDEST_TESTS) 2>&1 | tee test-output-e2e-oldest.log
	@# The plain closing line CI reads, as for the unit run, after one line per version.
	node scripts/tap-summary.mjs e2e "kube-apiserver $(E2E_KUBE_NEWEST)=test-output-e2e.log" \
	  "kube-apiserver $(E2E_KUBE_OLDEST)=test-output-e2e-oldest.log"
