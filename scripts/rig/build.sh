#!/usr/bin/env bash
# Builds the e2e rig's real peers (kube-apiserver, etcd, olareg, notation, oras) from the Go
# module proxy into a cache outside the checkout. On stdout (progress goes to stderr) it prints
# one line per kube-apiserver version, a cosign line, then the bin dir as the last line:
#
#   kube-apiserver v1.32.13 /root/.cache/ecr-admission/rig/kube-apiserver-v1.32.13_go1.26.8_r1/bin/kube-apiserver
#   kube-apiserver v1.37.2 /root/.cache/ecr-admission/rig/k8s-v1.37.2_..._r1/bin/kube-apiserver
#   cosign v3.1.3 /root/.cache/ecr-admission/rig/cosign-v3.1.3_go1.26.8_r1/bin/cosign
#   /root/.cache/ecr-admission/rig/k8s-v1.37.2_..._r1/bin
#
#   $HOME/.cache/ecr-admission/rig/<key>/bin/     <key> names every pinned version + Go version;
#                                                 the newest kube-apiserver lives here
#   $HOME/.cache/ecr-admission/rig/kube-apiserver-<version>_<go>_r<revision>/bin/
#                                                 the oldest supported kube-apiserver, in its own
#                                                 key so that adding or changing it never
#                                                 rebuilds the other peers
#   $HOME/.cache/ecr-admission/rig/cosign-<version>_<go>_r<revision>/bin/
#                                                 the cosign CLI (issue 19), its own key too
#
# Idempotent: a binary that already exists is skipped, so a second run is a no-op that only
# prints the lines above. Binaries are built under a temporary name and renamed at the end, so an
# interrupted build never leaves a half-written binary that a later run would take as done.
# A lock serialises concurrent runs (two test files asking for the rig at once).
#
# Env: ECR_ADMISSION_RIG_CACHE overrides the cache root.
set -euo pipefail

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$script_dir/versions.env"

export GOTOOLCHAIN="$RIG_GOTOOLCHAIN"
export GOWORK=off
export CGO_ENABLED=0
export GOFLAGS="-buildvcs=false"

log() { printf 'rig: %s\n' "$*" >&2; }

go_version="$(go env GOVERSION)"
key="k8s-${KUBERNETES_VERSION}_etcd-${ETCD_VERSION}_olareg-${OLAREG_VERSION}_notation-${NOTATION_VERSION}_oras-${ORAS_VERSION}_${go_version}_r${RIG_BUILD_REVISION}"
cache_root="${ECR_ADMISSION_RIG_CACHE:-$HOME/.cache/ecr-admission/rig}"
bin_dir="$cache_root/$key/bin"
oldest_key="kube-apiserver-${KUBERNETES_OLDEST_VERSION}_${go_version}_r${RIG_BUILD_REVISION}"
oldest_bin_dir="$cache_root/$oldest_key/bin"
# cosign (issue 19): its own key too, for the same reason.
cosign_bin_dir="$cache_root/cosign-${COSIGN_VERSION}_${go_version}_r${RIG_BUILD_REVISION}/bin"
mkdir -p "$bin_dir" "$oldest_bin_dir" "$cosign_bin_dir"

# Locks taken in this order by every run, so two runs never deadlock.
exec 9>"$cache_root/$key/.lock"
flock 9
exec 8>"$cache_root/$oldest_key/.lock"
flock 8
exec 7>"$cosign_bin_dir/../.lock"
flock 7

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/ecr-admission-rig.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

# install_built DIR NAME FILE: atomic move of a finished binary into the cache dir DIR.
install_built() {
  mv -f "$3" "$1/.$2.tmp"
  mv -f "$1/.$2.tmp" "$1/$2"
}

# timed NAME CMD...: runs CMD, logging how long it took.
timed() {
  local name="$1" start end
  shift
  start=$(date +%s)
  "$@"
  end=$(date +%s)
  log "built $name in $((end - start))s"
}

# replaces_from_gomod GOMOD PATTERN VERSION: prints a replace line "module => module VERSION"
# for every replace in GOMOD whose target is a local directory matching PATTERN. Generated from
# the published go.mod because the set of replaced (staging / sibling) modules changes between
# releases.
replaces_from_gomod() {
  local gomod="$1" pattern="$2" version="$3"
  awk -v pat="$pattern" -v ver="$version" '
    /^replace[ \t]*\(/ { in_block = 1; next }
    in_block && /^\)/ { in_block = 0; next }
    {
      line = $0
      if (!in_block && !sub(/^replace[ \t]+/, "", line)) next
      sub(/^[ \t]+/, "", line)
      # line: module [version] => target [version]
      n = split(line, f, /[ \t]+/)
      for (i = 2; i < n; i++) {
        if (f[i] == "=>" && f[i + 1] ~ pat) printf "\t%s => %s %s\n", f[1], f[1], ver
      }
    }
  ' "$gomod" | sort -u
}

# gomod_path MODULE@VERSION: downloads the module, prints the path of its go.mod file.
gomod_path() {
  go mod download -json "$1" | awk -F'"' '/"GoMod":/ { print $4 }'
}

# godebug_from_gomod GOMOD: the module's godebug lines. A dependency's godebug lines are ignored
# (only the main module's count, and the wrapper's `go` line is the machine's Go), so the wrapper
# copies them to give the binary the runtime defaults (GODEBUG) of the upstream build.
godebug_from_gomod() {
  awk '/^godebug[ \t]/ { print }' "$1"
}

# build_in_wrapper NAME MODULE VERSION PACKAGE REPLACES LDFLAGS [DIR [GOMOD_LINES]]: builds PACKAGE
# into the cache dir DIR (default the main bin dir) from a throwaway wrapper module that requires
# MODULE@VERSION (plus the given replace lines and extra go.mod lines). This is what
# `go install PACKAGE@VERSION` does, but the proxy answers 403 for some modules' version list,
# which `go install` reads (for deprecation notices) and `go get` in a module does not; and the
# wrapper is the only way to apply replaces the upstream go.mod cannot give its dependents.
build_in_wrapper() {
  local name="$1" module="$2" version="$3" package="$4" replaces="$5" ldflags="$6"
  local dest="${7:-$bin_dir}" gomod_lines="${8:-}"
  local dir="$work_dir/$name-$version"
  mkdir -p "$dir"
  {
    printf 'module ecr-admission.local/rig/%s\n\ngo %s\n\nrequire %s %s\n' \
      "$name" "${go_version#go}" "$module" "$version"
    if [[ -n "$gomod_lines" ]]; then printf '\n%s\n' "$gomod_lines"; fi
    if [[ -n "$replaces" ]]; then printf '\nreplace (\n%s\n)\n' "$replaces"; fi
  } >"$dir/go.mod"
  (
    cd "$dir"
    go get "$package@$version" >&2
    go build -trimpath -ldflags "$ldflags" -o "$dir.bin" "$package" >&2
  )
  install_built "$dest" "$name" "$dir.bin"
}

# build_kube_apiserver VERSION DIR: kube-apiserver VERSION into the cache dir DIR.
build_kube_apiserver() {
  local version="$1" dest="$2"
  local minor="${version#v1.}" staging_version gomod replaces godebug
  minor="${minor%%.*}"
  staging_version="v0.${version#v1.}"
  gomod="$(gomod_path "k8s.io/kubernetes@$version")"
  replaces="$(replaces_from_gomod "$gomod" '^\./staging/' "$staging_version")"
  [[ -n "$replaces" ]] || { log "no staging replaces found in $gomod"; return 1; }
  godebug="$(godebug_from_gomod "$gomod")"
  log "kube-apiserver $version: $(wc -l <<<"$replaces") staging modules => $staging_version; ${godebug//$'\n'/, }"
  # Every version ldflag the upstream build sets, so the API server reports its real version.
  local pkg ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  build_in_wrapper kube-apiserver k8s.io/kubernetes "$version" \
    k8s.io/kubernetes/cmd/kube-apiserver "$replaces" "$ldflags" "$dest" "$godebug"
}

build_etcd() {
  local gomod replaces
  gomod="$(gomod_path "go.etcd.io/etcd/server/v3@$ETCD_VERSION")"
  # Sibling modules (../api, ../client/v3, ...) => the same etcd release. The FORBIDDEN_DEPENDENCY
  # guards (./...) are not sibling modules and are left out.
  replaces="$(replaces_from_gomod "$gomod" '^\.\./' "$ETCD_VERSION")"
  [[ -n "$replaces" ]] || { log "no sibling replaces found in $gomod"; return 1; }
  build_in_wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3 \
    "$replaces" "-s -w"
}

built_any=0
# build_if_missing DIR NAME CMD...: runs CMD unless DIR/NAME is in the cache already.
build_if_missing() {
  local dir="$1" name="$2"
  shift 2
  if [[ -x "$dir/$name" ]]; then return 0; fi
  log "building $name into $dir"
  timed "$name" "$@"
  built_any=1
}

start=$(date +%s)
build_if_missing "$bin_dir" olareg build_in_wrapper olareg github.com/olareg/olareg "$OLAREG_VERSION" \
  github.com/olareg/olareg/cmd/olareg "" "-s -w"
build_if_missing "$bin_dir" oras build_in_wrapper oras oras.land/oras "$ORAS_VERSION" \
  oras.land/oras/cmd/oras "" "-s -w"
# Empty BuildMetadata, as notation's release build sets it: `notation version` says v1.3.2, not
# v1.3.2+unreleased.
build_if_missing "$bin_dir" notation build_in_wrapper notation github.com/notaryproject/notation "$NOTATION_VERSION" \
  github.com/notaryproject/notation/cmd/notation "" \
  "-s -w -X github.com/notaryproject/notation/internal/version.BuildMetadata="
build_if_missing "$bin_dir" etcd build_etcd
build_if_missing "$bin_dir" kube-apiserver build_kube_apiserver "$KUBERNETES_VERSION" "$bin_dir"
build_if_missing "$oldest_bin_dir" kube-apiserver \
  build_kube_apiserver "$KUBERNETES_OLDEST_VERSION" "$oldest_bin_dir"
# cosign's release build sets its version through sigs.k8s.io/release-utils (`cosign version`).
build_if_missing "$cosign_bin_dir" cosign build_in_wrapper cosign github.com/sigstore/cosign/v3 "$COSIGN_VERSION" \
  github.com/sigstore/cosign/v3/cmd/cosign "" \
  "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION -X sigs.k8s.io/release-utils/version.gitTreeState=clean" \
  "$cosign_bin_dir"

if [[ $built_any == 1 ]]; then
  log "rig built in $(($(date +%s) - start))s into $bin_dir and $oldest_bin_dir"
  # Cheap proof that the binaries run and carry the pinned versions.
  "$bin_dir/kube-apiserver" --version >&2
  "$oldest_bin_dir/kube-apiserver" --version >&2
  "$bin_dir/etcd" --version | head -1 >&2
  "$cosign_bin_dir/cosign" version 2>&1 | grep GitVersion >&2
fi
printf 'kube-apiserver %s %s\n' "$KUBERNETES_OLDEST_VERSION" "$oldest_bin_dir/kube-apiserver"
printf 'kube-apiserver %s %s\n' "$KUBERNETES_VERSION" "$bin_dir/kube-apiserver"
printf 'cosign %s %s\n' "$COSIGN_VERSION" "$cosign_bin_dir/cosign"
printf '%s\n' "$bin_dir"
