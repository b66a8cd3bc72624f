# kind targets, included by the main Makefile. They need a Docker engine, which the build
# machine does not have: there they stop at the first line with a message. On a machine with
# Docker:
#
#   make kind-up     create the cluster (kind-config.yaml), build the image, load it into
#                    kind, install the chart with the in-pod AWS sandbox, run `helm test`
#   make kind-e2e    kind-up, then scripts/kind-smoke.sh: allow/deny decisions in that cluster
#   make kind-down   delete the cluster
#
# helm, kubectl and kind come from scripts/tools/ensure-*.sh (npm registry and Go module
# proxy, cached under $HOME/.cache/ecr-admission/tools). The cluster's kubeconfig is written to
# its own file, never merged into ~/.kube/config.

KIND_CLUSTER    ?= ecr-admission
KIND_IMAGE      ?= ecr-admission:dev
# The development image (Dockerfile target dev): the AWS sandbox the kind values run in each pod.
KIND_DEV_IMAGE  ?= ecr-admission-dev:dev
KIND_NAMESPACE  ?= ecr-admission
KIND_RELEASE    ?= ecr-admission
KIND_VALUES     ?= chart/ecr-admission/ci/kind-values.yaml
KIND_KUBECONFIG ?= $(HOME)/.cache/ecr-admission/kind/$(KIND_CLUSTER).kubeconfig

# Resolved when a recipe runs, not when the Makefile is read, so `make test` never downloads
# tools it does not use.
KIND_TOOLS = export PATH="$$(scripts/tools/ensure-kind.sh):$$(scripts/tools/ensure-helm.sh):$$PATH" KUBECONFIG="$(KIND_KUBECONFIG)"

.PHONY: kind-check-docker kind-up kind-e2e kind-down

kind-check-docker:
	@docker info >/dev/null 2>&1 || { \
	  echo "kind targets need a running Docker engine (docker info failed); they cannot run on this machine." >&2; \
	  exit 1; }

kind-up: kind-check-docker
	@mkdir -p "$(dir $(KIND_KUBECONFIG))"
	$(KIND_TOOLS); \
	  if ! kind get clusters 2>/dev/null | grep -qx '$(KIND_CLUSTER)'; then \
	    kind create cluster --name '$(KIND_CLUSTER)' --config kind-config.yaml --kubeconfig "$$KUBECONFIG" --wait 180s; \
	  fi
	docker build --tag '$(KIND_IMAGE)' .
	docker build --target dev --tag '$(KIND_DEV_IMAGE)' .
	$(KIND_TOOLS); kind load docker-image '$(KIND_IMAGE)' '$(KIND_DEV_IMAGE)' --name '$(KIND_CLUSTER)'
	@# --wait: the release is only done when both webhook pods are ready behind the Service.
	$(KIND_TOOLS); helm upgrade --install '$(KIND_RELEASE)' chart/ecr-admission \
	  --namespace '$(KIND_NAMESPACE)' --create-namespace \
	  --values '$(KIND_VALUES)' \
	  --set image.repository='$(firstword $(subst :, ,$(KIND_IMAGE)))' \
	  --set image.tag='$(lastword $(subst :, ,$(KIND_IMAGE)))' \
	  --wait --timeout 5m
	$(KIND_TOOLS); helm test '$(KIND_RELEASE)' --namespace '$(KIND_NAMESPACE)' --logs --timeout 2m
	@echo "kind cluster '$(KIND_CLUSTER)' is up; use it with: export KUBECONFIG=$(KIND_KUBECONFIG)"

# Decisions made by the webhook inside the cluster (scripts/kind-smoke.sh, kubectl server-side
# dry runs against the demo sandbox in the webhook's pods). The full e2e suite (`make e2e`)
# brings its own kube-apiserver and does not need kind.
kind-e2e: kind-up
	$(KIND_TOOLS); scripts/kind-smoke.sh

kind-down: kind-check-docker
	$(KIND_TOOLS); kind delete cluster --name '$(KIND_CLUSTER)' --kubeconfig "$$KUBECONFIG"
	rm -f "$(KIND_KUBECONFIG)"
