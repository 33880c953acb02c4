package goldencorpus

import (
	"bytes"
	"testing"

	"github.com/raypilot/raypilot/manifest"
)

// Check runs every case of dir through door, one subtest each, and fails
// a case whose rendered output differs from its golden file; name says
// which way in it was ("raypilot expand", "the webhooks").
func Check(t *testing.T, dir, name string, door func(Case) (*manifest.Output, error)) {
	t.Helper()
	cases, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, err := c.Golden()
			if err != nil {
				t.Fatal(err)
			}
			out, err := door(c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Render(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from %s; got:\n%s", name, c.GoldenPath(), got)
			}
		})
	}
}
