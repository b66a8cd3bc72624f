# End-to-end suite against real peers (kube-apiserver, etcd, olareg, notation, oras) built from
# the Go module proxy into $HOME/.cache/ecr-admission/rig/<key>/bin by scripts/rig/build.sh.
# Included by the main Makefile.
#
#   make rig   build (or find) the peers; a no-op once built
#   make e2e   rig, then every test/e2e/**/*.test.ts
#
# The test files are named explicitly: package.json's tap config excludes test/e2e/** so that
# plain `tap` stays fast, and tap applies that exclude to a directory argument (`tap test/e2e`
# finds nothing) but not to files given by name.

E2E_NODE_PATH := $(CURDIR)/node_modules/.bin
E2E_TESTS = $(shell find test/e2e -name '*.test.ts' | sort)

.PHONY: rig e2e
rig:
	scripts/rig/build.sh

e2e: rig
	set -o pipefail; PATH="$(E2E_NODE_PATH):$$PATH" tap --timeout 900 --disable-coverage --jobs=1 $(E2E_TESTS) 2>&1 | tee test-output-e2e.log
	@# The plain closing line CI reads, as for the unit run.
	node scripts/tap-summary.mjs test-output-e2e.log e2e
