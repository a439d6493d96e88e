#!/usr/bin/env bash
# Regenerates everything derived from the Go API types:
#   - deepcopy, defaulters and conversions (k8s.io/code-generator)
#   - the typed clientset, listers, informers and apply configurations for
#     edgeplace.io (k8s.io/code-generator)
#   - the CustomResourceDefinitions in manifests/crds (controller-gen)
# Usage: hack/update-codegen.sh [output-root]   (default: the repository)
set -o errexit -o nounset -o pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT="${1:-${ROOT}}"
cd "${ROOT}"

CODEGEN_DIR="$(go mod download -json "k8s.io/code-generator@${CODE_GENERATOR_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
# shellcheck source=/dev/null
source "${CODEGEN_DIR}/kube_codegen.sh"

if [[ "${OUT}" != "${ROOT}" ]]; then
	# Generate into a copy of the tree so that a stale checkout can be
	# compared with fresh output (hack/verify-codegen.sh).
	mkdir -p "${OUT}"
	tar -C "${ROOT}" --exclude=./bin --exclude=./.git -cf - . | tar -C "${OUT}" -xf -
	cd "${OUT}"
fi

kube::codegen::gen_helpers \
	--boilerplate hack/boilerplate.go.txt \
	./pkg/apis

# The rebalancer's args, which the descheduler decodes into the plugin's
# own type, as its in-tree plugins' args are.
kube::codegen::gen_helpers \
	--boilerplate hack/boilerplate.go.txt \
	./plugins/rebalance

kube::codegen::gen_client \
	--with-watch \
	--with-applyconfig \
	--output-dir pkg/generated \
	--output-pkg "${MODULE}/pkg/generated" \
	--boilerplate hack/boilerplate.go.txt \
	./pkg/apis

go run "sigs.k8s.io/controller-tools/cmd/controller-gen@${CONTROLLER_TOOLS_VERSION}" \
	crd:crdVersions=v1 \
	paths=./pkg/apis/edgeplace/... \
	output:crd:artifacts:config=manifests/crds
