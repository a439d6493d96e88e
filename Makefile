# edgeplace. `make demo` and `make test` are all a newcomer needs.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Packages whose state is read by concurrent scheduling goroutines; their
# tests also run under the race detector.
RACE_PKGS := ./pkg/netmap/... ./plugins/...

.PHONY: all build test unit race integration verify generate demo clean

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/...

# Unit tests, race tests of the concurrent parts, then the integration tests
# against the embedded control plane and the real scheduler binary.
test: unit race integration

unit:
	$(GO) test ./pkg/... ./plugins/... ./cmd/... ./manifests/...

race:
	$(GO) test -race $(RACE_PKGS)

integration: $(BIN)/edgeplace-scheduler
	EDGEPLACE_SCHEDULER=$(BIN)/edgeplace-scheduler $(GO) test -count=1 -timeout 20m ./test/integration/...

$(BIN)/edgeplace-scheduler: FORCE
	$(GO) build -o $@ ./cmd/edgeplace-scheduler

# Regenerate deepcopy, conversions, defaults, clients and CRDs.
generate:
	hack/update-codegen.sh

# Fails when generated files are stale, code is not gofmt'ed or vet complains.
verify:
	hack/verify-codegen.sh
	@out="$$(gofmt -l cmd pkg plugins manifests test bench 2>/dev/null)"; \
	  if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The main job on an embedded control plane: no cluster needed.
demo: $(BIN)/edgeplace-scheduler
	$(GO) run ./cmd/edgeplace-demo --scheduler $(BIN)/edgeplace-scheduler

clean:
	rm -rf $(BIN)

.PHONY: FORCE
FORCE:
