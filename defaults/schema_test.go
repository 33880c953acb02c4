package defaults_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/crdschema"
	"github.com/raypilot/raypilot/manifest"
)

// TestCorpusOutputAcceptedByKubeRay expands every accepted case of the golden
// corpus and checks each output object the way KubeRay v1.5.0 will see it:
// the apiserver with its CRD (pruning, schema defaults, OpenAPI schema,
// list-type and CEL validation; internal/crdschema), then the operator's
// ValidateRayClusterSpec on reconcile. Two paths are checked:
//   - as written: what `raypilot expand | kubectl apply` sends;
//   - as admitted: the input first pruned and defaulted by the CRD, which is
//     what the apiserver hands to the mutating webhook.
//
// Fields the user wrote that v1.5.0 does not know (newer KubeRay's) may be
// pruned; a field the engine adds must never be.
func TestCorpusOutputAcceptedByKubeRay(t *testing.T) {
	checked := 0
	for _, c := range loadCorpus(t) {
		if strings.HasPrefix(c.Name, "err-") {
			continue
		}
		set, err := manifest.Templates(c.Docs, "default")
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		for _, d := range c.Docs {
			if !defaults.IsExpandable(d.Kind) {
				continue
			}
			v, err := crdschema.For(d.Kind)
			if err != nil {
				t.Fatal(err)
			}
			admitted, err := v.Decode(d.JSON)
			if err != nil {
				t.Fatal(err)
			}
			for _, path := range []struct {
				name string
				in   []byte
			}{{"as-written", d.JSON}, {"as-admitted", admitted}} {
				t.Run(c.Name+"/"+d.Kind+"/"+d.Name+"/"+path.name, func(t *testing.T) {
					res := defaults.Expand(defaults.Input{Object: path.in, Namespace: "default", Templates: set, Policy: c.Policy})
					if len(res.Errors) > 0 {
						t.Fatalf("corpus case rejected: %v", res.Errors)
					}
					checkAcceptedByKubeRay(t, v, path.in, res.Object)
					checked++
				})
			}
		}
	}
	if checked == 0 {
		t.Fatal("no corpus output checked")
	}
}

// checkAcceptedByKubeRay fails t if out (the expansion of in) would be
// rejected by the apiserver or KubeRay, or loses a field the engine wrote.
func checkAcceptedByKubeRay(t testing.TB, v *crdschema.Validator, in, out []byte) {
	t.Helper()
	before, err := v.CheckJSON(in)
	if err != nil {
		t.Fatal(err)
	}
	after, err := v.CheckJSON(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(after.Errors) > 0 {
		t.Errorf("the KubeRay v1.5.0 CRD rejects the output:\n%s\n%s", after, out)
	}
	for _, p := range after.Pruned {
		if !slices.Contains(before.Pruned, p) {
			t.Errorf("the apiserver would drop %s, which the engine wrote", p)
		}
	}
	if err := crdschema.ValidateKubeRay(out); err != nil {
		t.Errorf("KubeRay's ValidateRayClusterSpec rejects the output: %v\n%s", err, out)
	}
}
