package apiserverconv

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// -o json prints the same objects as -o yaml: one object as itself,
// several as a v1 List; <, > and & as written.
func TestJSONMatchesYAML(t *testing.T) {
	paths, _ := filepath.Glob("testdata/convert/[^e]*.json")
	paths = append(paths, "testdata/seed/cluster.json")
	for _, p := range paths {
		res := convertFiles(t, Options{}, p)
		if len(res.Errors) > 0 {
			t.Fatalf("%s: %q", p, res.Errors)
		}
		text, err := YAML(res.Objects)
		if err != nil {
			t.Fatal(err)
		}
		var fromYAML []any
		for _, doc := range strings.Split(string(text), "\n---\n") {
			var v any
			if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			fromYAML = append(fromYAML, v)
		}
		js, err := JSON(res.Objects)
		if err != nil {
			t.Fatal(err)
		}
		var fromJSON any
		if err := json.Unmarshal(js, &fromJSON); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		want := any(fromYAML[0])
		if len(fromYAML) > 1 {
			want = map[string]any{"apiVersion": "v1", "kind": "List", "items": fromYAML}
		}
		if !reflect.DeepEqual(normalize(t, want), normalize(t, fromJSON)) {
			t.Errorf("%s: JSON and YAML differ:\n%s\n%s", p, js, text)
		}
	}

	res := Convert([]Input{{Source: "x", Data: []byte(`{"name": "j", "entrypoint": "python a.py > out && cat <out", "clusterSelector": {"ray.io/cluster": "c"}}`)}}, Options{})
	js, err := JSON(res.Objects)
	if err != nil || !bytes.Contains(js, []byte(`"entrypoint": "python a.py > out && cat <out"`)) {
		t.Errorf("entrypoint not as written: %v\n%s", err, js)
	}
}

// normalize round-trips v through JSON, so that numbers compare alike.
func normalize(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
