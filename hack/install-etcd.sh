#!/usr/bin/env bash
# Builds the etcd binary that scheduler_perf starts for each workload, from
# the etcd server module pinned in go.mod, into bin/. Prints its directory.
set -o errexit -o nounset -o pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "${ROOT}/bin"
if [[ ! -x "${ROOT}/bin/etcd" ]]; then
	(cd "${ROOT}" && go build -o "${ROOT}/bin/etcd" go.etcd.io/etcd/server/v3) >&2
fi
echo "${ROOT}/bin"
