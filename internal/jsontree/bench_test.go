package jsontree_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/internal/benchcpu"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/jsontree"
	"github.com/raypilot/raypilot/manifest"
)

// BenchmarkDecodeEncode decodes a document into a generic tree and encodes
// it back, with jsontree and, as the baseline in the same run, with
// encoding/json as the engine would have to use it (UseNumber into any,
// encoded without HTML escaping). The documents are the seed RayCluster of
// the golden corpus as the mutating webhook receives it (compact) and as
// the validating webhook receives it (expanded), and a large cluster (20
// worker groups, 10 compact volumes) both ways.
//
//	go test -run '^$' -bench DecodeEncode -benchmem -count 5 ./internal/jsontree/
func BenchmarkDecodeEncode(b *testing.B) {
	seed, set := seedCluster(b)
	large := largeCluster(b, seed, 20, 10)
	for _, c := range []struct {
		name string
		doc  []byte
	}{
		{"seed", seed},
		{"seed-expanded", expanded(b, seed, set)},
		{"large", large},
		{"large-expanded", expanded(b, large, set)},
	} {
		if a, b2 := roundTrip(b, c.doc), stdRoundTrip(b, c.doc); !bytes.Equal(a, b2) {
			b.Fatalf("%s: jsontree and encoding/json disagree:\n%s\n%s", c.name, a, b2)
		}
		b.Run(c.name+"/jsontree", func(b *testing.B) { benchRoundTrip(b, c.doc, roundTrip) })
		b.Run(c.name+"/encoding-json", func(b *testing.B) { benchRoundTrip(b, c.doc, stdRoundTrip) })
	}
}

// benchRoundTrip also reports the process CPU per round trip (garbage
// collection included): on a loaded machine the wall time per op also
// holds the time the benchmark waited for a core.
func benchRoundTrip(b *testing.B, doc []byte, rt func(*testing.B, []byte) []byte) {
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	runtime.GC()
	reportCPU := benchcpu.Start(b)
	for b.Loop() {
		rt(b, doc)
	}
	reportCPU()
}

func roundTrip(b *testing.B, doc []byte) []byte {
	v, err := jsontree.Decode(doc)
	if err != nil {
		b.Fatal(err)
	}
	out, err := jsontree.Encode(v)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func stdRoundTrip(b *testing.B, doc []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		b.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// seedCluster is the RayCluster of the golden corpus's seed case as JSON,
// with the seed's compute templates.
func seedCluster(b *testing.B) ([]byte, *defaults.TemplateSet) {
	path := filepath.Join("..", "..", "defaults", "testdata", "expand", "seed.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	docs, err := manifest.Read(bytes.NewReader(data), path)
	if err != nil {
		b.Fatal(err)
	}
	set, err := manifest.Templates(docs, "default")
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range docs {
		if d.Kind == "RayCluster" {
			return d.JSON, set
		}
	}
	b.Fatalf("%s has no RayCluster", path)
	return nil, nil
}

// largeCluster is the seed with groups copies of its worker group and vols
// compact volumes in its annotation.
func largeCluster(b *testing.B, seed []byte, groups, vols int) []byte {
	var c map[string]any
	if err := json.Unmarshal(seed, &c); err != nil {
		b.Fatal(err)
	}
	spec := c["spec"].(map[string]any)
	group := spec["workerGroupSpecs"].([]any)[0].(map[string]any)
	workers := make([]any, groups)
	for i := range workers {
		g := map[string]any{}
		for k, v := range group {
			g[k] = v
		}
		g["groupName"] = fmt.Sprintf("wg-%d", i)
		workers[i] = g
	}
	spec["workerGroupSpecs"] = workers
	var v strings.Builder
	for i := range vols {
		fmt.Fprintf(&v, "- {name: vol-%d, mountPath: /mnt/vol-%d, volumeType: CONFIGMAP, source: cm-%d}\n", i, i, i)
	}
	c["metadata"].(map[string]any)["annotations"].(map[string]any)[defaults.AnnotationVolumes] = v.String()
	out, err := json.Marshal(c)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

func expanded(b *testing.B, doc []byte, set *defaults.TemplateSet) []byte {
	res := defaults.Expand(defaults.Input{Object: doc, Namespace: "default", Templates: set})
	if len(res.Errors) > 0 {
		b.Fatal(res.Errors)
	}
	return res.Object
}
