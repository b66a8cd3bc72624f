#!/usr/bin/env bash
# Prints the path of a redis-server (or valkey-server) binary, installing Debian's redis-server
# package on first use (the tests of the shared fact cache run a real server, issue 16):
#   "$(scripts/tools/ensure-redis.sh)" --version
# Debian bookworm has redis-server 7 (built with TLS); valkey-server is packaged from trixie on.
# Idempotent and safe to run concurrently: a lock file serialises the install, and a machine
# that already has redis-server (or valkey-server) is left as it is. ECR_ADMISSION_REDIS_SERVER
# names a binary to use instead (another build, another distribution).
set -euo pipefail

if [[ -n "${ECR_ADMISSION_REDIS_SERVER:-}" ]]; then
  echo "$ECR_ADMISSION_REDIS_SERVER"
  exit 0
fi
found() { command -v redis-server 2>/dev/null || command -v valkey-server 2>/dev/null || true; }
bin="$(found)"
if [[ -z "$bin" ]]; then
  lock="${TMPDIR:-/tmp}/ecr-admission-ensure-redis.lock"
  exec 9>"$lock"
  flock 9
  bin="$(found)"
  if [[ -z "$bin" ]]; then
    as_root=()
    if [[ "$(id -u)" != 0 ]]; then
      command -v sudo >/dev/null || { echo "ensure-redis: redis-server is missing and installing it needs root (apt-get install redis-server)" >&2; exit 1; }
      as_root=(sudo -n)
    fi
    echo "ensure-redis: installing Debian's redis-server" >&2
    # The package's service is not wanted (tests start their own server): policy-rc.d 101 tells
    # invoke-rc.d not to start it where an init system would.
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq >&2
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends redis-server >&2
    bin="$(found)"
    [[ -n "$bin" ]] || { echo "ensure-redis: redis-server still missing after apt-get install" >&2; exit 1; }
  fi
fi
echo "$bin"
