package jsontree

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
)

func mustDecode(t *testing.T, s string) any {
	t.Helper()
	v, err := Decode([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return v
}

func TestJSONPatch(t *testing.T) {
	cases := []struct {
		name, before, after, want string
	}{
		{"equal", `{"a":1,"b":[1,{"c":"x"}]}`, `{"b":[1,{"c":"x"}],"a":1}`, `[]`},
		{"number text kept", `{"a":1.50}`, `{"a":1.50}`, `[]`},
		{"add key escaped", `{"m":{}}`, `{"m":{"ray.io/x~y":"v"}}`, `[{"op":"add","path":"/m/ray.io~1x~0y","value":"v"}]`},
		{"remove key", `{"a":1,"b":2}`, `{"a":1}`, `[{"op":"remove","path":"/b"}]`},
		{"replace scalar", `{"a":true}`, `{"a":false}`, `[{"op":"replace","path":"/a","value":false}]`},
		{"replace type", `{"a":"1"}`, `{"a":1}`, `[{"op":"replace","path":"/a","value":1}]`},
		{"null to object", `{"a":null}`, `{"a":{"b":"c"}}`, `[{"op":"replace","path":"/a","value":{"b":"c"}}]`},
		{"list append", `{"l":[1,2]}`, `{"l":[1,2,3,4]}`, `[{"op":"add","path":"/l/2","value":3},{"op":"add","path":"/l/3","value":4}]`},
		{"list shrink", `{"l":[1,2,3]}`, `{"l":[1]}`, `[{"op":"remove","path":"/l/2"},{"op":"remove","path":"/l/1"}]`},
		{"nested in list", `{"l":[{"a":{}}]}`, `{"l":[{"a":{"b":"<&>"}}]}`, `[{"op":"add","path":"/l/0/a/b","value":"<&>"}]`},
		{"root", `[]`, `{}`, `[{"op":"replace","path":"","value":{}}]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, after := mustDecode(t, c.before), mustDecode(t, c.after)
			got, n, err := Patch(before, after)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("patch\n got %s\nwant %s", got, c.want)
			}
			if (n == 0) != (c.want == "[]") || Equal(before, after) != (n == 0) {
				t.Errorf("%d ops, Equal %v", n, Equal(before, after))
			}
			assertPatchApplies(t, c.before, got, c.after)
		})
	}
}

// assertPatchApplies applies patch to doc with the RFC 6902 implementation
// kube-apiserver applies webhook patches with (json-patch v4; v5 mishandles
// empty keys such as "//000") and compares the result with want.
func assertPatchApplies(t *testing.T, doc string, patch []byte, want string) {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatalf("patch %s: %v", patch, err)
	}
	out, err := p.Apply([]byte(doc))
	if err != nil {
		t.Fatalf("apply %s to %s: %v", patch, doc, err)
	}
	var got, exp any
	if json.Unmarshal(out, &got) != nil || json.Unmarshal([]byte(want), &exp) != nil || !reflect.DeepEqual(got, exp) {
		t.Errorf("patched\n got %s\nwant %s", out, want)
	}
}

// FuzzJSONPatch: for any two JSON documents the patch turns the first into
// the second.
func FuzzJSONPatch(f *testing.F) {
	f.Add(`{"a":[1,2,{"b":"c"}],"d":{"e/f":null}}`, `{"a":[1,{"b":"d"}],"d":{"e/f":{}},"g":"~"}`)
	f.Add(`{"l":[]}`, `{"l":[[],{}]}`)
	f.Fuzz(func(t *testing.T, a, b string) {
		before, err1 := Decode([]byte(a))
		after, err2 := Decode([]byte(b))
		if err1 != nil || err2 != nil || !json.Valid([]byte(a)) || !json.Valid([]byte(b)) {
			return
		}
		if _, ok := before.(Object); !ok {
			return // admission objects are JSON objects
		}
		if _, ok := after.(Object); !ok {
			return
		}
		patch, n, err := Patch(before, after)
		if err != nil {
			t.Fatal(err)
		}
		if Equal(before, after) != (n == 0) {
			t.Fatalf("Equal disagrees with %d ops", n)
		}
		// The canonical documents: the apiserver never sends duplicate keys,
		// whose meaning differs between JSON libraries.
		ca, _ := Encode(before)
		cb, _ := Encode(after)
		assertPatchApplies(t, string(ca), patch, string(cb))
	})
}

// FuzzAppendJSON: the fast encoder writes exactly what encoding/json does.
func FuzzAppendJSON(f *testing.F) {
	f.Add(`{"b":[1,2.50,"x<&>\u2028\u0001\"\\"],"a":{"z":null,"y":true,"é":"\t"}}`)
	f.Add(`"\ud800"`)
	f.Fuzz(func(t *testing.T, doc string) {
		v, err := Decode([]byte(doc))
		if err != nil {
			return
		}
		got, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		want, err := encodeTyped(v)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("Append %s\nencoding/json %s", got, want)
		}
	})
}

// FuzzDecodeJSON: the single-pass decoder means what encoding/json means.
func FuzzDecodeJSON(f *testing.F) {
	f.Add(`{"a":[1,-2.5e+3,"\u00e9\ud83d\ude00\ud800x\"\\\/\b\f\n\r\t",true,false,null],"a":{}}`)
	f.Add("\"\xff\xfe\"")
	f.Add(` [ {} , [ ] ] `)
	f.Fuzz(func(t *testing.T, doc string) {
		got, err := Decode([]byte(doc))
		var want any
		dec := json.NewDecoder(strings.NewReader(doc))
		dec.UseNumber()
		werr := dec.Decode(&want)
		if werr == nil {
			if _, terr := dec.Token(); terr != io.EOF {
				werr = errors.New("trailing data")
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("Decode error %v, encoding/json error %v", err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("Decode %#v\nencoding/json %#v", got, want)
		}
	})
}
