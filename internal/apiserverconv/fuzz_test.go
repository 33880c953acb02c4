package apiserverconv

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/manifest"
)

// maxFuzzInput bounds a fuzzed input: large enough for every request of
// testdata, small enough that each run stays fast.
const maxFuzzInput = 64 << 10

// FuzzConvert feeds arbitrary bytes to the JSON reading and the
// conversion. It must never panic; every field error must name a field of
// the request (one the request has, or a top-level field of its kind when
// a required one is missing); every conversion must render to YAML that
// reads back as that many objects, and to JSON; and the same input must
// give the same result.
func FuzzConvert(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*/*.json")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`{"cpu": "1e3", "memory": 1.0e1}`, `[{"name": "a"}, []]`, `{"a": {"b": [[[[]]]]}}`, "\xff", `{"clusterSpec": null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > maxFuzzInput {
			t.Skip()
		}
		raws, err := splitObjects("fuzz", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error does not name its input: %v", err)
			}
			return
		}
		for _, raw := range raws {
			_, _, errs, kindErr := convertRequest(raw, Options{})
			if kindErr != nil {
				continue
			}
			for _, e := range errs {
				if e.Field == "" || e.Field == "<nil>" {
					t.Fatalf("error names no field: %v", e)
				}
				first, _, _ := strings.Cut(strings.SplitN(e.Field, "[", 2)[0], ".")
				if q, err := strconv.QuotedPrefix(e.Field); err == nil {
					first, _ = strconv.Unquote(q) // a key child quoted
				}
				if !slices.Contains(raw.obj.keys, first) && !isTopField(first) {
					t.Fatalf("error names %q, neither a field of the request nor of any request kind: %v", first, e)
				}
			}
		}

		res := Convert([]Input{{Source: "fuzz", Data: data}}, Options{})
		again := Convert([]Input{{Source: "fuzz", Data: data}}, Options{})
		if len(res.Errors) > 0 {
			if !slices.Equal(res.Errors, again.Errors) {
				t.Fatalf("errors differ between runs:\n%q\n%q", res.Errors, again.Errors)
			}
			return
		}
		text, err := YAML(res.Objects)
		if err != nil {
			t.Fatal(err)
		}
		if text2, _ := YAML(again.Objects); !bytes.Equal(text, text2) {
			t.Fatalf("output differs between runs:\n%s\n%s", text, text2)
		}
		docs, err := manifest.Read(bytes.NewReader(text), "converted")
		if err != nil {
			t.Fatalf("output does not read back: %v\n%s", err, text)
		}
		if len(docs) != len(res.Objects) {
			t.Fatalf("%d objects printed as %d documents:\n%s", len(res.Objects), len(docs), text)
		}
		for i, d := range docs {
			js, err := JSON(res.Objects[i : i+1])
			if err != nil {
				t.Fatal(err)
			}
			var fromYAML, fromJSON any
			if json.Unmarshal(d.JSON, &fromYAML) != nil || json.Unmarshal(js, &fromJSON) != nil || !reflect.DeepEqual(fromYAML, fromJSON) {
				t.Fatalf("object %d reads back otherwise from YAML:\n%s\n%s", i, d.JSON, js)
			}
		}
		js, err := JSON(res.Objects)
		if err != nil || !json.Valid(js) {
			t.Fatalf("JSON output: %v\n%s", err, js)
		}
	})
}

// isTopField reports whether name is a top-level field (JSON name) of a
// request kind: where an error about a missing required field points.
func isTopField(name string) bool {
	for _, k := range kinds {
		if slices.ContainsFunc(topFields(k), func(f fieldSpec) bool { return f.json == name }) {
			return true
		}
	}
	return false
}
