#!/usr/bin/env bash
# Prints the directory holding a kind binary, built on first use from the Go module proxy
# (kind is a plain Go module with no replaces, so `go install` works):
#   $HOME/.cache/ecr-admission/tools/kind-<version>/bin/kind
# kind itself needs a Docker (or Podman) engine to create clusters; this only gets the CLI.
# Env: ECR_ADMISSION_TOOLS_CACHE overrides the cache root (default $ECR_ADMISSION_CACHE/tools).
set -euo pipefail

# Keep in step with the node image pinned in kind-config.yaml: each kind release lists the
# node images (and their digests) built for it.
KIND_VERSION="v0.33.0"

cache_root="${ECR_ADMISSION_TOOLS_CACHE:-${ECR_ADMISSION_CACHE:-${HOME:?HOME is not set}/.cache/ecr-admission}/tools}"
bin_dir="$cache_root/kind-$KIND_VERSION/bin"

if [[ ! -x "$bin_dir/kind" ]]; then
  command -v go >/dev/null || { echo "ensure-kind: error: go is not on PATH" >&2; exit 1; }
  mkdir -p "$bin_dir"
  exec 9>"$cache_root/.kind.lock"
  flock 9
  if [[ ! -x "$bin_dir/kind" ]]; then
    echo "ensure-kind: building sigs.k8s.io/kind@$KIND_VERSION" >&2
    # go install writes the binary in one piece at the end, so a failed build leaves nothing.
    GOBIN="$bin_dir" GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
      go install "sigs.k8s.io/kind@$KIND_VERSION" >&2
  fi
fi
printf '%s\n' "$bin_dir"
