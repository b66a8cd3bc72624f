#!/usr/bin/env bash
# Decisions against the kind cluster `make kind-up` made: the webhook runs in the cluster with
# the demo's AWS sandbox beside it (chart/ecr-admission/ci/kind-values.yaml), and kubectl's
# server-side dry run shows what `kubectl apply` would print, without leaving anything behind.
# Needs KUBECONFIG pointing at the kind cluster and kubectl on PATH.
set -euo pipefail

registry=111122223333.dkr.ecr.us-east-1.amazonaws.com
namespace=ecr-admission-smoke
failures=0

kubectl create namespace "$namespace" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

# expect NAME IMAGE (allow | deny TEXT)
expect() {
  local name=$1 image=$2 want=$3 text=${4:-}
  local out
  if out=$(kubectl run "$name" --namespace "$namespace" --image "$image" --restart=Never --dry-run=server -o name 2>&1); then
    got=allow
  else
    got=deny
  fi
  if [[ $got != "$want" ]] || { [[ -n $text ]] && [[ $out != *"$text"* ]]; }; then
    echo "FAIL $name: wanted $want ${text:+($text)}, got $got: $out" >&2
    failures=$((failures + 1))
  else
    echo "ok   $name: $got ${text:+($text)}"
  fi
}

expect origin      busybox:1.36                   deny  '[origin] registry docker.io is not allowed'
expect unknown-tag "$registry/web:1.4.3"          deny  '[digest] tag 1.4.3 not found'
expect mutable     "$registry/worker:2"           deny  '[immutability] repository worker has MUTABLE tags'
expect critical    "$registry/legacy:1.0"         deny  '[vulnerabilities]'
expect good        "$registry/web-migrate:1.4.2"  allow
expect pause       registry.k8s.io/pause:3.10     allow

kubectl delete namespace "$namespace" --wait=false >/dev/null
echo "kind smoke: $((6 - failures)) passed, $failures failed"
[[ $failures -eq 0 ]]
