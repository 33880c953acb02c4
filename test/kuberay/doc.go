// Package kuberay is a test tier that makes KubeRay v1.5.0's own code the
// judge of every expansion raypilot accepts.
//
// For each accepted object (every accepted golden output of
// defaults/testdata/expand, and every accepted expansion the fuzz target
// produces) it does what the KubeRay operator does with it: the CRD's
// pruning, defaulting and validation (internal/crdschema), the operator's
// validators (utils.ValidateRayCluster*/RayJob*/RayService*), then the
// builders of package controllers/ray/common: the head and worker pods
// (DefaultHeadPodTemplate, DefaultWorkerPodTemplate, BuildPod), the head
// Service, the serve Service and, for a RayJob, the submitter. Every error,
// panic or empty result fails the tier, and so do a few properties of what
// KubeRay built (see judge_test.go): every env var and volume mount the
// expansion wrote is in the built pod with its value, every $(VAR) in an env
// value comes after VAR's definition, the head Service selects the head pod.
// TestJudgeCatches keeps the judge honest with expansions broken on purpose.
//
// It is its own Go module because KubeRay's controller packages pull in
// modules the product must not carry (gateway-api, OpenShift's API); its
// go.mod replaces github.com/raypilot/raypilot with this checkout, so
// k8s.io/* and controller-runtime resolve to the product's versions. `go
// test ./...` at the repository root does not descend into it; `make test`
// and `make unit` run it (`cd test/kuberay && go test -mod=mod ./...`: the
// -mod=mod picks up requirements the root module gains; commit what it adds
// to go.mod and go.sum), `make lint` vets it and `make fuzz` fuzzes it.
package kuberay
