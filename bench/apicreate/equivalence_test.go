package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// stored decodes a RayCluster as the API server would return it.
func stored(t *testing.T, doc string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const viaRaypilot = `
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: equivalence-webhook
  uid: a
  resourceVersion: "1"
  annotations: {ray.io/compute-template: default-template}
spec:
  headGroupSpec:
    template:
      metadata: {annotations: {ray.io/compute-template: default-template, raypilot.io/expanded: abc}}
      spec: {containers: [{name: ray-head, resources: {limits: {memory: 4Gi}}}]}
  workerGroupSpecs:
  - groupName: small-wg
    template:
      metadata: {annotations: {ray.io/compute-template: default-template, raypilot.io/expanded: abc}}
      spec: {containers: [{name: ray-worker}]}
status: {state: ready}
`

const viaKyverno = `
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: equivalence-kyverno
  uid: b
  resourceVersion: "2"
  annotations: {ray.io/compute-template: default-template, policies.kyverno.io/last-applied-patches: "x"}
spec:
  headGroupSpec:
    template:
      spec: {containers: [{name: ray-head, resources: {limits: {memory: 4Gi}}}]}
  workerGroupSpecs:
  - groupName: small-wg
    template:
      spec: {containers: [{name: ray-worker}]}
`

func TestNormalizedStoredIgnoresOnlyWhatDiffersByDesign(t *testing.T) {
	if d := diffPaths("", normalizeStored(stored(t, viaRaypilot)), normalizeStored(stored(t, viaKyverno))); len(d) > 0 {
		t.Fatalf("differences left after normalizing:\n%s", strings.Join(d, "\n"))
	}
	other := strings.Replace(viaKyverno, "memory: 4Gi", "memory: 2Gi", 1)
	d := diffPaths("", normalizeStored(stored(t, viaRaypilot)), normalizeStored(stored(t, other)))
	want := ".spec.headGroupSpec.template.spec.containers[0].resources.limits.memory: 4Gi | 2Gi"
	if len(d) != 1 || d[0] != want {
		t.Fatalf("diff = %q, want [%q]", d, want)
	}
	// The cluster-level template name is compared: only the pod templates'
	// copies are raypilot's own.
	noTemplate := strings.Replace(viaKyverno, "annotations: {ray.io/compute-template: default-template, ", "annotations: {", 1)
	if d := diffPaths("", normalizeStored(stored(t, viaRaypilot)), normalizeStored(stored(t, noTemplate))); len(d) != 1 {
		t.Fatalf("diff = %q, want the cluster's ray.io/compute-template", d)
	}
}
