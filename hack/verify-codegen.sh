#!/usr/bin/env bash
# Fails when generated code or CRDs differ from what the generators produce
# from the current API types.
set -o errexit -o nounset -o pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TMP="$(mktemp -d)"
trap 'rm -rf "${TMP}"' EXIT

"${ROOT}/hack/update-codegen.sh" "${TMP}/tree" >/dev/null

status=0
for path in pkg/apis pkg/generated plugins/rebalance manifests/crds; do
	if ! diff -Nru "${ROOT}/${path}" "${TMP}/tree/${path}"; then
		status=1
	fi
done
if [[ ${status} -ne 0 ]]; then
	echo "generated files are stale: run hack/update-codegen.sh" >&2
fi
exit ${status}
