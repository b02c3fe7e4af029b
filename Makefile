# Set-up is two commands: `make run` and `make test`. Everything they need is
# installed or built by hack/ scripts and cached by version under ~/.cache/switchyard.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin:$(HOME)/go/bin
GO ?= go
FUZZTIME ?= 20s
BIN := bin

.PHONY: all build run stop test unit scenarios fuzz infra bench lint clean image e2e-kind docs

all: build

build:
	$(GO) build -o $(BIN)/ ./cmd/switchyard ./cmd/fly

# The OCI image of switchyard (hub and spoke), without a container engine:
# bin/image/oci (an OCI layout) and bin/image/switchyard.tar; the digest is printed.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
image:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags="-s -w -buildid=" -o $(BIN)/image/switchyard ./cmd/switchyard
	SOURCE_DATE_EPOCH=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct 2>/dev/null || echo 0)} $(GO) run ./hack/image --binary $(BIN)/image/switchyard \
		--version $(VERSION) --revision "$$(git rev-parse HEAD 2>/dev/null || echo unknown)" --layout $(BIN)/image/oci --tarball $(BIN)/image/switchyard.tar

# The end-to-end suite on real kind clusters (a hub cluster, two spoke
# clusters, both charts): needs a Docker engine; without one it says so and
# exits 0 without running anything (e2e/kind/run.sh).
e2e-kind:
	e2e/kind/run.sh

# The main job: PostgreSQL, a hub on 127.0.0.1:8080 and a local spoke, the
# example pipeline set and its build watched to success; the hub stays up.
run: build
	hack/run.sh

stop:
	hack/stop.sh

# The documents' generated sections, rewritten from the code: pipeline keys,
# API routes, the policy input's schema, metrics, and the stock fly's
# commands as they ran against a hub that make run started (docs/).
docs:
	$(GO) test -count=1 -timeout 20m ./docs -update

# Unit and integration tests on a real PostgreSQL, Kubernetes control plane, MinIO, Ory Hydra, OCI registry, sshd, Jaeger, Prometheus and Chromium, bounded fuzz runs of the
# pipeline parser and of the WASM rewrite in policy/preempt, and a smoke test of the Kubernetes control plane, the
# virtual-kubelet test node and MinIO.
test: lint unit scenarios fuzz infra

unit:
	hack/with-postgres.sh hack/with-kube.sh hack/with-minio.sh hack/with-hydra.sh hack/with-registry.sh hack/with-sshd.sh hack/with-jaeger.sh hack/with-prometheus.sh hack/with-chromium.sh $(GO) test -race -count=1 -timeout 30m ./...

# The input-algorithm scenarios through the CLI, on the real store.
scenarios: build
	hack/with-postgres.sh sh -c 'for f in algorithm/testdata/scenarios.json algorithm/testdata/classes.json; do bin/switchyard algorithm check --database-url "$$SWITCHYARD_TEST_DATABASE_URL" --scenarios $$f || exit 1; done'

fuzz:
	GO=$(GO) hack/fuzz.sh $(FUZZTIME) FuzzLoad:./pipeline FuzzExpansionBound:./pipeline FuzzExtract:./volumes/extract FuzzInstrument:./policy/preempt FuzzParse:./vars FuzzWriter:./redact

infra:
	hack/test-infra.sh

# Every benchmark, one package at a time; e2e's BenchmarkHotPath also runs the
# commit in hack/bench-baseline in the same run (hack/bench.sh).
bench:
	GO=$(GO) hack/bench.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd hack/vknode && $(GO) vet ./...
	$(GO) mod verify >/dev/null

clean:
	hack/stop.sh >/dev/null 2>&1 || true
	rm -rf $(BIN) .switchyard
