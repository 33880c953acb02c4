package manifest_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/manifest"
)

// Read takes each document as written or refuses it, every problem naming
// its field: nothing is dropped, folded or expanded without bound, and no
// message names a Go type.
func TestReadRefusals(t *testing.T) {
	const head = "apiVersion: ray.io/v1\nkind: RayCluster\n"
	deep := strings.Repeat("[", 102) + strings.Repeat("]", 102)
	bomb := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ns: &s " + strings.Repeat("x", 5000) + "\nl: &l [" + strings.Repeat("*s,", 100) + "]\nm: [" + strings.Repeat("*l,", 100) + "]\n"
	cases := []struct {
		name, text string
		want       []string
	}{
		{"metadata a list", head + "metadata: []\nspec: {}\n",
			[]string{"f.yaml: document 1: metadata: Invalid value: []: must be an object"}},
		{"kind a number", "apiVersion: v1\nkind: 5\nmetadata: {name: x}\n",
			[]string{"f.yaml: document 1: kind: Invalid value: 5: must be a string"}},
		{"name a list, labels with a number", head + "metadata: {name: [a], labels: {a: 1, b: x}}\n",
			[]string{"f.yaml: document 1: metadata.name: Invalid value: [\"a\"]: must be a string", "f.yaml: document 1: metadata.labels[a]: Invalid value: 1: must be a string"}},
		{"finalizers not strings", head + "metadata: {name: c, finalizers: [1]}\n",
			[]string{"f.yaml: document 1: metadata.finalizers[0]: Invalid value: 1: must be a string"}},
		{"owner reference field of the wrong type", head + "metadata: {name: c, ownerReferences: [{controller: yes-please}]}\n",
			[]string{`f.yaml: document 1: metadata.ownerReferences.controller: Invalid value: "string": must be of type boolean`}},
		{"not an object", "- a\n- b\n",
			[]string{`f.yaml: document 1: Invalid value: ["a","b"]: must be an object (a mapping with apiVersion, kind and metadata)`}},
		{"NaN", head + "metadata: {name: c}\nspec:\n  workerGroupSpecs: [{groupName: a, maxReplicas: .nan}]\n",
			[]string{`f.yaml: document 1: spec.workerGroupSpecs[0].maxReplicas: Invalid value: ".nan": not a number JSON can hold (line 5): NaN and infinities have no JSON form; quote it if you mean the text`}},
		{"infinity in an annotation key's value", head + "metadata: {name: c, annotations: {ray.io/x: .inf}}\n",
			[]string{`f.yaml: document 1: metadata.annotations[ray.io/x]: Invalid value: ".inf": not a number JSON can hold (line 3): NaN and infinities have no JSON form; quote it if you mean the text`}},
		{"key written twice", head + "metadata: {name: c}\nspec:\n  rayVersion: \"2.9.0\"\n  rayVersion: \"2.52.0\"\n",
			[]string{`f.yaml: document 1: spec.rayVersion: Duplicate value: "rayVersion": the key is written twice in one mapping (lines 5 and 6); the conversion to JSON would keep only one: remove one of them`}},
		{"nested deeper than 100", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + deep + "\n",
			[]string{"f.yaml: document 1: data" + strings.Repeat("[0]", 100) + ": Forbidden: nested more than 100 levels deep (line 4)"}},
		{"aliases past 3 MiB", bomb,
			[]string{fmt.Sprintf("f.yaml: document 1: Too long: its YAML aliases expand to more than 3145728 bytes of JSON (from %d bytes of text); write the content out without aliases, or shorten it", len(bomb))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, err := manifest.Read(strings.NewReader(c.text), "f.yaml")
			var bad *manifest.Error
			if !errors.As(err, &bad) {
				t.Fatalf("Read: %v, %d documents; want field errors", err, len(docs))
			}
			if got, want := err.Error(), strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
