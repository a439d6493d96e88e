#!/usr/bin/env bash
# Shared settings for the hack/ scripts. Tool versions are pinned here; the
# tools come from the Go module proxy.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODULE="github.com/edgeplace/edgeplace"
CONTROLLER_TOOLS_VERSION="v0.23.0"
# code-generator follows the k8s.io staging version pinned in go.mod.
CODE_GENERATOR_VERSION="v0.37.2"
TOOLS_BIN="${ROOT}/bin/tools"

export GOBIN="${TOOLS_BIN}"
export PATH="${TOOLS_BIN}:${PATH}"
