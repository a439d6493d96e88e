# edgeplace. `make demo` and `make test` are all a newcomer needs.
SHELL := /usr/bin/env bash
GO    ?= go
BIN   := $(CURDIR)/bin

# Packages whose state is read by concurrent scheduling goroutines; their
# tests also run under the race detector.
RACE_PKGS := ./pkg/netmap/... ./plugins/... ./pkg/agent/... ./pkg/verdicts/... ./pkg/cyclestate/... ./pkg/placement/... ./pkg/feed/...

.PHONY: all build test unit race integration bench-smoke verify generate demo bench bench-e2e bench-rebalance fuzz clean

all: build

# Every binary's --version names its release, commit and Kubernetes
# release (pkg/version); kube-scheduler's own build-info metric gets the
# Kubernetes release too.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
K8S_VERSION := $(shell $(GO) list -m -f '{{.Version}}' k8s.io/kubernetes)
VERSION_PKG := github.com/edgeplace/edgeplace/pkg/version
LDFLAGS     := -X $(VERSION_PKG).release=$(VERSION) -X $(VERSION_PKG).commit=$(COMMIT) \
  -X $(VERSION_PKG).kubernetesRelease=$(K8S_VERSION) -X k8s.io/component-base/version.gitVersion=$(K8S_VERSION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# Unit tests, race tests of the concurrent parts, then the integration tests
# against the embedded control plane and the real scheduler binary.
test: unit race integration bench-smoke

unit:
	$(GO) test ./pkg/... ./plugins/... ./cmd/... ./manifests/...
	@# The estimation accuracy figure on the RIPE Atlas matrix, printed.
	set -o pipefail; $(GO) test -count=1 -v -run TestEstimationOnRIPEAtlas ./pkg/estimate | grep -E 'RIPE Atlas|^(ok|FAIL)'

race:
	$(GO) test -race $(RACE_PKGS)

integration: $(BIN)/edgeplace-scheduler $(BIN)/edgeplace-probe $(BIN)/edgeplace-descheduler
	EDGEPLACE_SCHEDULER=$(BIN)/edgeplace-scheduler EDGEPLACE_PROBE=$(BIN)/edgeplace-probe \
	  EDGEPLACE_DESCHEDULER=$(BIN)/edgeplace-descheduler $(GO) test -count=1 -timeout 20m ./test/integration/...

# The benchmarks once each at their smallest size, so that they never rot.
bench-smoke: $(BIN)/etcd $(BIN)/edgeplace-scheduler $(BIN)/edgeplace-probe $(BIN)/edgeplace-descheduler
	$(GO) test ./bench ./pkg/agent/probe ./pkg/agent/responder ./plugins/rebalance ./cmd/kubectl-edgeplace/evaluate \
	  -short -run '^$$' -bench . -benchtime 1x
	mkdir -p $(E2E_LOGS)
	PATH=$(BIN):$$PATH ARTIFACTS=$(E2E_LOGS) $(GO) test ./bench/e2e -run '^$$' \
	  -bench 'BenchmarkPerfScheduling/.*/100Nodes' -benchtime 1x -timeout 30m \
	  -perf-scheduling-label-filter=short -data-items-dir=$(E2E_LOGS) >$(E2E_LOGS)/smoke.txt \
	  || { tail -50 $(E2E_LOGS)/smoke.txt; exit 1; }
	@# The rebalancing replay on 20 slices, as fast as they publish; the real probe's own cost over 10 s.
	EDGEPLACE_SCHEDULER=$(BIN)/edgeplace-scheduler EDGEPLACE_PROBE=$(BIN)/edgeplace-probe \
	  EDGEPLACE_DESCHEDULER=$(BIN)/edgeplace-descheduler $(GO) test ./test/integration -short -run '^$$' \
	  -bench 'BenchmarkRebalanceReplay|BenchmarkProbeProcess|BenchmarkProbeAPILoad' -benchtime 1x -timeout 20m -args -replay-tick=250ms \
	  >$(E2E_LOGS)/integration-bench.txt 2>&1 || { tail -50 $(E2E_LOGS)/integration-bench.txt; exit 1; }
	grep -E '^(replay|rebalance|api load|BenchmarkProbe|ok)' $(E2E_LOGS)/integration-bench.txt

# Hot path, scheduling cycle and network map benchmarks; BENCH_ARGS=-large
# adds 50,000 and 100,000 nodes.
BENCH_COUNT ?= 3
BENCH_ARGS  ?=
RESULTS     := $(CURDIR)/bench/results
E2E_LOGS    := $(CURDIR)/_output/e2e-logs

bench:
	mkdir -p $(RESULTS)
	set -o pipefail; $(GO) test ./bench -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) -timeout 120m \
	  -args $(BENCH_ARGS) | tee $(RESULTS)/bench.txt
	$(GO) run ./bench/report -bench $(RESULTS)/bench.txt -out $(RESULTS)

# The rebalancer on 688 minutes of measured, changing RTT (a minute takes 3 s,
# so about 70 minutes in all), with and without it; ends with the one-line
# summary. REPLAY_ARGS=-replay-slices=240 replays the first 4 hours.
REPLAY_ARGS ?=
bench-rebalance: $(BIN)/edgeplace-scheduler $(BIN)/edgeplace-probe $(BIN)/edgeplace-descheduler
	mkdir -p $(RESULTS)
	set -o pipefail; EDGEPLACE_SCHEDULER=$(BIN)/edgeplace-scheduler EDGEPLACE_PROBE=$(BIN)/edgeplace-probe \
	  EDGEPLACE_DESCHEDULER=$(BIN)/edgeplace-descheduler $(GO) test ./test/integration -run '^$$' \
	  -bench BenchmarkRebalanceReplay -benchtime 1x -timeout 120m -args $(REPLAY_ARGS) | tee $(RESULTS)/rebalance.txt
	@grep '^rebalance' $(RESULTS)/rebalance.txt

# End-to-end throughput with scheduler_perf: stock vs edgeplace at 1,000
# and 5,000 nodes.
bench-e2e: $(BIN)/etcd
	rm -rf $(RESULTS)/e2e && mkdir -p $(RESULTS)/e2e $(E2E_LOGS)
	set -o pipefail; PATH=$(BIN):$$PATH ARTIFACTS=$(E2E_LOGS) EDGEPLACE_E2E_RESULTS=$(RESULTS)/e2e \
	  $(GO) test ./bench/e2e -run '^$$' -bench 'BenchmarkPerfScheduling' -benchtime 1x -timeout 180m \
	  -perf-scheduling-label-filter=performance -data-items-dir=$(RESULTS)/e2e \
	  | grep -v '^    ' | tee $(RESULTS)/e2e.txt
	$(GO) run ./bench/report -e2e $(RESULTS)/e2e -out $(RESULTS)

$(BIN)/etcd:
	hack/install-etcd.sh

$(BIN)/edgeplace-scheduler $(BIN)/edgeplace-descheduler: FORCE
	$(GO) build -ldflags "$(LDFLAGS)" -o $@ ./cmd/$(notdir $@)

# The probe is built as its image builds it (cmd/Dockerfile: static, no
# symbol tables), so that the tests and its cost benchmark run what runs on
# every node.
$(BIN)/edgeplace-probe: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $@ ./cmd/edgeplace-probe

# Every fuzz target for FUZZTIME each (their seed corpora also run in
# `make unit`, as ordinary tests).
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzForPod:./pkg/intent FuzzFromLabels:./pkg/topology FuzzLoad:./cmd/kubectl-edgeplace/evaluate FuzzLoadSites:./cmd/kubectl-edgeplace/evaluate \
  FuzzArgs:./pkg/apis/config/scheme FuzzNodeNetwork:./pkg/netmap

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
	  echo "== $${t%%:*} ($(FUZZTIME))"; \
	  $(GO) test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) $${t#*:}; \
	done

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
demo: $(BIN)/edgeplace-scheduler $(BIN)/edgeplace-descheduler
	$(GO) run ./cmd/edgeplace-demo --scheduler $(BIN)/edgeplace-scheduler --descheduler $(BIN)/edgeplace-descheduler

clean:
	rm -rf $(BIN) _output

.PHONY: FORCE
FORCE:
