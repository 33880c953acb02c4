package defaults_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

// rayObjects returns every Ray object of the corpus that expands without
// errors, with the template set and policy of its case.
type rayObject struct {
	name      string
	json      []byte
	templates *defaults.TemplateSet
	policy    *defaults.Policy
}

func expandableCorpus(t *testing.T) []rayObject {
	t.Helper()
	var out []rayObject
	for _, c := range loadCorpus(t) {
		set, err := manifest.Templates(c.Docs, "default")
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range c.Docs {
			if !defaults.IsExpandable(d.Kind) {
				continue
			}
			in := input(d.JSON, set, c.Policy)
			if res := defaults.Expand(in); len(res.Errors) == 0 {
				out = append(out, rayObject{name: fmt.Sprintf("%s/%d", c.Name, i), json: d.JSON, templates: set, policy: c.Policy})
			}
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d expandable objects in the corpus", len(out))
	}
	return out
}

func input(obj []byte, set *defaults.TemplateSet, p *defaults.Policy) defaults.Input {
	ns := "default"
	var h struct {
		Metadata struct{ Namespace string } `json:"metadata"`
	}
	if json.Unmarshal(obj, &h) == nil && h.Metadata.Namespace != "" {
		ns = h.Metadata.Namespace
	}
	return defaults.Input{Object: obj, Namespace: ns, Templates: set, Policy: p}
}

// Expanding an expanded object changes nothing, byte for byte.
func TestPropertyIdempotent(t *testing.T) {
	for _, o := range expandableCorpus(t) {
		first := defaults.Expand(input(o.json, o.templates, o.policy))
		second := defaults.Expand(input(first.Object, o.templates, o.policy))
		if len(second.Errors) > 0 {
			t.Errorf("%s: re-expansion failed: %v", o.name, second.Errors)
			continue
		}
		if !bytes.Equal(first.Object, second.Object) || second.Changed {
			t.Errorf("%s: not idempotent:\nfirst:  %s\nsecond: %s", o.name, first.Object, second.Object)
		}
		// UPDATE of the stored object with itself is a no-op as well.
		upd := input(first.Object, o.templates, o.policy)
		upd.Operation, upd.OldObject = defaults.Update, first.Object
		if res := defaults.Expand(upd); res.Changed || len(res.Errors) > 0 {
			t.Errorf("%s: UPDATE with the stored object changed it (errors %v)", o.name, res.Errors)
		}
	}
}

// The same input always gives the same bytes.
func TestPropertyDeterministic(t *testing.T) {
	for _, o := range expandableCorpus(t) {
		want := defaults.Expand(input(o.json, o.templates, o.policy)).Object
		for i := 0; i < 20; i++ {
			if got := defaults.Expand(input(o.json, o.templates, o.policy)).Object; !bytes.Equal(got, want) {
				t.Fatalf("%s: run %d differs:\n%s\n%s", o.name, i, got, want)
			}
		}
	}
}

// unknownValues are JSON values whose text must come out exactly as it went in.
var unknownValues = []string{
	`{"type":"Recreate"}`, `12345678901234567890`, `2.50`, `1e3`, `"x<y&z"`, `[1,{"a":null},[]]`, `true`, `null`, `{"nested":{"deep":[0.10]}}`,
}

// stringMaps hold only strings (by schema), so an unknown non-string value
// there is an error, not an unknown field.
var stringMaps = map[string]bool{
	"annotations": true, "labels": true, "rayStartParams": true, "nodeSelector": true,
	"requests": true, "limits": true, "resources": true, "headServiceAnnotations": true,
}

// Fields the engine does not know survive byte for byte wherever they are.
func TestPropertyUnknownFieldsSurvive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, o := range expandableCorpus(t) {
		var doc map[string]any
		dec := json.NewDecoder(bytes.NewReader(o.json))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		// Plant an unknown field in every object of the document.
		planted := map[string]string{}
		var plant func(v any, path string)
		plant = func(v any, path string) {
			switch x := v.(type) {
			case map[string]any:
				for k, child := range x {
					// An enforced security context is replaced whole, by design.
					// So are enforced lists: the policy's list is the final one.
					enforced := k == "securityContext" && (o.policy.Enforces("containerSecurityContext") || o.policy.Enforces("podSecurityContext")) ||
						k == "tolerations" && o.policy.Enforces("tolerations") || k == "imagePullSecrets" && o.policy.Enforces("imagePullSecrets")
					if !stringMaps[k] && !enforced {
						plant(child, path+"/"+k)
					}
				}
				key := fmt.Sprintf("zzUnknown%d", len(planted))
				val := unknownValues[rng.IntN(len(unknownValues))]
				x[key] = json.RawMessage(val)
				planted[path+"/"+key] = val
			case []any:
				for i, child := range x {
					plant(child, fmt.Sprintf("%s/%d", path, i))
				}
			}
		}
		plant(doc, "")
		in, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		res := defaults.Expand(input(in, o.templates, o.policy))
		if len(res.Errors) > 0 {
			t.Errorf("%s: unknown fields made expansion fail: %v", o.name, res.Errors)
			continue
		}
		var out any
		dec = json.NewDecoder(bytes.NewReader(res.Object))
		dec.UseNumber()
		if err := dec.Decode(&out); err != nil {
			t.Fatal(err)
		}
		for path, want := range planted {
			// Keys are unique; the engine may insert list items (built-in
			// env goes first), so the index on the way may move.
			got, ok := findKey(out, path[strings.LastIndex(path, "/")+1:])
			if !ok {
				t.Errorf("%s: unknown field %s was dropped", o.name, path)
				continue
			}
			if text := compact(t, got); text != compactText(t, want) {
				t.Errorf("%s: unknown field %s = %s, want %s", o.name, path, text, want)
			}
		}
	}
}

// findKey returns the value of key in the first object holding it.
func findKey(v any, key string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		if got, ok := x[key]; ok {
			return got, true
		}
		for _, child := range x {
			if got, ok := findKey(child, key); ok {
				return got, true
			}
		}
	case []any:
		for _, child := range x {
			if got, ok := findKey(child, key); ok {
				return got, true
			}
		}
	}
	return nil, false
}

func compact(t *testing.T, v any) string {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return compactText(t, buf.String())
}

func compactText(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(s)); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// The mutating webhook's patch (OutputPatch) applied to the input gives the
// expanded object (OutputObject), and both agree on Changed.
func TestPropertyPatchMatchesObject(t *testing.T) {
	for _, o := range expandableCorpus(t) {
		whole := defaults.Expand(input(o.json, o.templates, o.policy))
		in := input(o.json, o.templates, o.policy)
		in.Output = defaults.OutputPatch
		patched := defaults.Expand(in)
		if len(patched.Errors) > 0 || patched.Object != nil {
			t.Errorf("%s: OutputPatch gave errors %v, object %d bytes", o.name, patched.Errors, len(patched.Object))
			continue
		}
		if patched.Changed != whole.Changed || patched.Changed != (patched.PatchOps > 0) {
			t.Errorf("%s: Changed %v (%d ops), OutputObject Changed %v", o.name, patched.Changed, patched.PatchOps, whole.Changed)
		}
		p, err := jsonpatch.DecodePatch(patched.Patch)
		if err != nil {
			t.Fatalf("%s: patch %s: %v", o.name, patched.Patch, err)
		}
		out, err := p.Apply(o.json)
		if err != nil {
			t.Fatalf("%s: apply: %v", o.name, err)
		}
		if !jsonpatch.Equal(out, whole.Object) {
			t.Errorf("%s: patched input differs from the expansion:\n%s\n%s", o.name, out, whole.Object)
		}
		for _, op := range mustOps(t, patched.Patch) {
			if op["op"] != "add" && !strings.HasPrefix(op["path"].(string), "/spec") {
				t.Errorf("%s: %v outside spec", o.name, op)
			}
		}
	}
}

func mustOps(t *testing.T, patch []byte) []map[string]any {
	t.Helper()
	var ops []map[string]any
	if err := json.Unmarshal(patch, &ops); err != nil {
		t.Fatal(err)
	}
	return ops
}
