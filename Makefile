# raypilot: `make test` builds the pinned tools it needs (hack/tools.sh) and
# runs unit, golden, property and integration tests.
SHELL := /usr/bin/env bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
BIN := bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
CONTROLLER_GEN := $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.23.0
FUZZTIME ?= 5m
# The KubeRay tier (test/kuberay) is its own Go module: KubeRay's controller
# packages need modules the product must not carry. -mod=mod lets it pick up
# requirements the root module gains (its go.mod replaces raypilot with
# this checkout); commit what it adds to test/kuberay/go.mod and go.sum.
KUBERAY_TIER := cd test/kuberay && $(GO)
KUBERAY_TIER_FLAGS := -mod=mod

.PHONY: all build test unit tools generate lint fuzz clean demo cluster-up cluster-down bench chaos image

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/raypilot ./cmd/raypilot

## image: the container image (Dockerfile), where a Docker engine runs
IMAGE ?= raypilot/raypilot:$(VERSION)
image:
	@docker info >/dev/null 2>&1 || { echo "make image: no Docker engine (docker info failed); the image needs one. On this project's CI machines there is none: use make build for the binary." >&2; exit 1; }
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .

## tools: build (once, cached outside the checkout) etcd, kube-apiserver, kubectl
tools:
	hack/tools.sh build

## test: everything, including the real kube-apiserver integration tier and
## the KubeRay tier (KubeRay v1.5.0's own builders on every expansion)
test: lint tools
	RAYPILOT_TOOLS_BIN="$$(hack/tools.sh bin-dir)" $(GO) test -count=1 ./...
	$(KUBERAY_TIER) test $(KUBERAY_TIER_FLAGS) -count=1 ./...

## chaos: fault-injection e2e on the local control plane (about 12 min; CI runs it)
chaos: tools
	RAYPILOT_CHAOS=1 RAYPILOT_TOOLS_BIN="$$(hack/tools.sh bin-dir)" $(GO) test -count=1 -timeout 40m -run TestChaos ./e2e

## demo: the seed walkthrough on the local control plane
demo:
	hack/demo.sh

cluster-up:
	hack/local-cluster.sh up

cluster-down:
	hack/local-cluster.sh down

## bench: every benchmark, BENCHMARKS.md regenerated (not part of make test)
bench:
	hack/bench.sh

## unit: the tests that need no control plane
unit:
	$(GO) test ./...
	$(KUBERAY_TIER) test $(KUBERAY_TIER_FLAGS) -count=1 ./...

## generate: deepcopy and CRDs (controller-gen), Go code of the GCS proto (needs protoc)
generate:
	$(CONTROLLER_GEN) object paths=./api/... crd output:crd:artifacts:config=charts/raypilot/crds
	hack/gen-proto.sh

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(KUBERAY_TIER) vet $(KUBERAY_TIER_FLAGS) ./...

## fuzz: run every fuzz target of every package for FUZZTIME each (targets
## are found in the sources: go test -list would run TestMains that start
## control planes), from the package's directory so that the KubeRay tier's
## own module is fuzzed too
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "== $$(dirname $$f) $$t"; (cd $$(dirname $$f) && $(GO) test . -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME)); done; done

clean:
	rm -rf $(BIN)
