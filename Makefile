# raypilot: `make test` builds the pinned tools it needs (hack/tools.sh) and
# runs unit, golden, property and integration tests.
SHELL := /usr/bin/env bash
export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# One set of compile flags for everything built here (vet, tests, the image,
# the local control plane's raypilot and raysim): static and path-free, as
# the image must be. From a cold cache each package then compiles once,
# not once for the tests and again for the image. (GOFLAGS keeps what `go
# env` had, from the environment or the go env file.)
export CGO_ENABLED := 0
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -trimpath)
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

.PHONY: all build test test-pods unit tools generate lint fuzz clean demo cluster-up cluster-down bench chaos image image-push image-docker image-runtime

all: build

build:
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN)/raypilot ./cmd/raypilot

## image: the container image with no container engine (hack/image, pure
## Go, reproducible): an OCI image archive, bin/raypilot-image.tar, tagged
## $(IMAGE):<the chart's appVersion>, the reference the chart pulls by default.
## Prints REFERENCE@DIGEST. Load it with podman load -i bin/raypilot-image.tar.
IMAGE ?= raypilot/raypilot
IMAGE_ARCHIVE := $(CURDIR)/$(BIN)/raypilot-image.tar
IMAGE_TOOL := cd hack/image && $(GO) run .
IMAGE_BUILD = $(IMAGE_TOOL) build --src $(CURDIR) --repository $(IMAGE) --out $(IMAGE_ARCHIVE)
image:
	$(IMAGE_BUILD)

## image-push: make image-push IMAGE=registry.example/raypilot pushes that
## archive as $(IMAGE):<appVersion>, with the credentials docker login or
## podman login stored ($$DOCKER_CONFIG, $$REGISTRY_AUTH_FILE)
image-push:
	@[ "$(origin IMAGE)" != file ] || { echo "make image-push: name the repository, e.g. make image-push IMAGE=registry.example/raypilot" >&2; exit 2; }
	$(IMAGE_BUILD)
	$(IMAGE_TOOL) push --archive $(IMAGE_ARCHIVE) --image $(IMAGE)

## image-docker: the same image from the Dockerfile, where a Docker engine runs
## (tagged $(IMAGE):<appVersion> unless IMAGE_TAG is given)
APP_VERSION = $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\} *$$/\1/p' charts/raypilot/Chart.yaml)
IMAGE_TAG ?= $(APP_VERSION)
image-docker:
	@docker info >/dev/null 2>&1 || { echo "make image-docker: no Docker engine (docker info failed). make image builds the same image without one." >&2; exit 1; }
	docker build --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$$(git rev-parse HEAD) \
		--build-arg SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct) -t $(IMAGE):$(IMAGE_TAG) .

## image-runtime: podman and runc, so test/image runs the image (apt-get, as root)
image-runtime:
	hack/image/runtime.sh

## tools: build (once, cached outside the checkout) etcd, the Kubernetes
## binaries (kube-apiserver, kubectl, kube-controller-manager, kube-scheduler,
## kubelet, kube-proxy), kwok, the KubeRay operator and helm
tools:
	hack/tools.sh build

## test: everything, including the real kube-apiserver integration tier,
## the KubeRay tier (KubeRay v1.5.0's own builders on every expansion) and
## the real-node tier (the chart's pods on a real kubelet); it builds the
## image first (make image), which also warms the Go build cache
## test/image's builds of it use. The four preparations run at once: from
## cold caches they are mostly compiling and downloading, and one at a
## time leaves a core idle through every link and download.
test:
	$(MAKE) --no-print-directory -j4 lint tools image-runtime image
	RAYPILOT_TOOLS_BIN="$$(hack/tools.sh bin-dir)" $(GO) test -count=1 ./...
	$(KUBERAY_TIER) test $(KUBERAY_TIER_FLAGS) -count=1 ./...
	cd hack/image && $(GO) test -count=1 ./...
	$(MAKE) test-pods

## test-pods: the real-node tier (e2e/pods): hack/local-cluster.sh up --pods
## (its own state folder and ports), the chart's pods on a real kubelet;
## needs root (installs containerd, CNI plugins, conntrack with apt-get)
test-pods: tools
	RAYPILOT_PODS_E2E=1 RAYPILOT_TOOLS_BIN="$$(hack/tools.sh bin-dir)" $(GO) test -count=1 -v -timeout 30m ./e2e/pods

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

## chart-docs: charts/raypilot/README.md regenerated with helm-docs from
## README.md.gotmpl and values.yaml's "# --" comments (hack/chart-docs.sh)
.PHONY: chart-docs chart-docs-check
chart-docs:
	hack/chart-docs.sh

## chart-docs-check: fail when the committed chart README is not helm-docs'
## output or a value has no description (test/chart runs the same check)
chart-docs-check:
	hack/chart-docs.sh --check

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
	cd hack/image && $(GO) vet ./...

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
