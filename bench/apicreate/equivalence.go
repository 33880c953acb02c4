package main

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ignoredInComparison lists what differs by design between the cluster
// stored through raypilot's webhook and the one stored through Kyverno, and
// is left out before they are compared.
var ignoredInComparison = []string{
	"metadata.name/uid/resourceVersion/creationTimestamp/generation/managedFields (set per object by the API server)",
	"status",
	"metadata.annotations[policies.kyverno.io/last-applied-patches] (Kyverno's record of its patches)",
	"pod template annotations raypilot.io/expanded (raypilot's audit hash) and ray.io/compute-template (raypilot's copy of the cluster's template name)",
}

// captureStored creates the seed in mode m (admission already set up by
// enter), reads back what the API server stored, deletes it, and keeps it
// normalized for compareStored.
func (e *environment) captureStored(ctx context.Context, m string) error {
	obj := e.object("equivalence-" + m)
	if err := e.client.Create(ctx, obj); err != nil {
		return fmt.Errorf("create through %s: %w", m, err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(obj.GroupVersionKind())
	if err := e.client.Get(ctx, client.ObjectKeyFromObject(obj), got); err != nil {
		return fmt.Errorf("read back the cluster created through %s: %w", m, err)
	}
	if err := client.IgnoreNotFound(e.client.Delete(ctx, got)); err != nil {
		return fmt.Errorf("delete the cluster created through %s: %w", m, err)
	}
	if e.stored == nil {
		e.stored = map[string]map[string]any{}
	}
	e.stored[m] = normalizeStored(got.Object)
	return nil
}

// checkKyvernoEquivalent fails when Kyverno's policy stores a different
// cluster than raypilot's webhook: then the kyverno mode would not measure
// the same work.
func (e *environment) checkKyvernoEquivalent() error {
	if e.kyverno == nil {
		return nil
	}
	diffs := diffPaths("", e.stored[modeWebhook], e.stored[modeKyverno])
	if len(diffs) > 0 {
		return fmt.Errorf("Kyverno's policy (bench/apicreate/kyverno/policy.yaml) stores a different RayCluster than raypilot's webhook; differences (raypilot | kyverno):\n  %s", strings.Join(diffs, "\n  "))
	}
	fmt.Printf("apicreate: kyverno stores the same RayCluster as raypilot's webhook (checked on one create each; ignored: %s)\n", strings.Join(ignoredInComparison, "; "))
	return nil
}

// normalizeStored is a copy of a stored object without what
// ignoredInComparison lists.
func normalizeStored(in map[string]any) map[string]any {
	obj := runtime.DeepCopyJSON(in)
	for _, f := range []string{"name", "uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(obj, "metadata", f)
	}
	unstructured.RemoveNestedField(obj, "status")
	removeAnnotations(obj, []string{"metadata"}, "policies.kyverno.io/last-applied-patches")
	raypilots := []string{"raypilot.io/expanded", "ray.io/compute-template"}
	removeAnnotations(obj, []string{"spec", "headGroupSpec", "template", "metadata"}, raypilots...)
	// NestedSlice returns a copy; the groups are edited in place and set
	// back.
	groups, _, _ := unstructured.NestedSlice(obj, "spec", "workerGroupSpecs")
	for _, g := range groups {
		if gm, ok := g.(map[string]any); ok {
			removeAnnotations(gm, []string{"template", "metadata"}, raypilots...)
		}
	}
	if groups != nil {
		_ = unstructured.SetNestedSlice(obj, groups, "spec", "workerGroupSpecs")
	}
	return obj
}

// removeAnnotations deletes keys from the annotations of the metadata at
// path, and the annotations and metadata maps that are left empty.
func removeAnnotations(obj map[string]any, path []string, keys ...string) {
	md, ok, _ := unstructured.NestedMap(obj, path...)
	if !ok {
		return
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		for _, k := range keys {
			delete(ann, k)
		}
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	if len(md) == 0 {
		unstructured.RemoveNestedField(obj, path...)
		return
	}
	_ = unstructured.SetNestedMap(obj, md, path...)
}

// diffPaths lists the JSON paths where a and b differ, with both values.
func diffPaths(path string, a, b any) []string {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		keys := map[string]bool{}
		for k := range am {
			keys[k] = true
		}
		for k := range bm {
			keys[k] = true
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out = append(out, diffPaths(path+"."+k, am[k], bm[k])...)
		}
		return out
	}
	as, aok := a.([]any)
	bs, bok := b.([]any)
	if aok && bok && len(as) == len(bs) {
		var out []string
		for i := range as {
			out = append(out, diffPaths(fmt.Sprintf("%s[%d]", path, i), as[i], bs[i])...)
		}
		return out
	}
	if reflect.DeepEqual(a, b) {
		return nil
	}
	return []string{fmt.Sprintf("%s: %v | %v", path, a, b)}
}
