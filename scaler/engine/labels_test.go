package engine

import (
	"reflect"
	"testing"
)

func TestGroupLabels(t *testing.T) {
	tests := []struct {
		name   string
		top    map[string]string
		params map[string]string
		want   map[string]string
	}{
		{"none", nil, nil, nil},
		{"top-level labels", map[string]string{"acc": "A100"}, nil, map[string]string{"acc": "A100"}},
		{"rayStartParams labels", nil, map[string]string{"labels": "acc=A100, zone = z1"}, map[string]string{"acc": "A100", "zone": "z1"}},
		{"quoted", nil, map[string]string{"labels": `"acc=A100"`}, map[string]string{"acc": "A100"}},
		{"top-level replaces rayStartParams, as KubeRay does", map[string]string{"acc": "H100"},
			map[string]string{"labels": "acc=A100,zone=z1"}, map[string]string{"acc": "H100"}},
		{"not key=value: no labels, as Ray", nil, map[string]string{"labels": "acc=A100,zone"}, nil},
		{"two = in a pair", nil, map[string]string{"labels": "acc=A=100"}, nil},
		{"not label syntax", nil, map[string]string{"labels": "acc=A 100"}, nil},
		{"empty", nil, map[string]string{"labels": ""}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := groupLabels(tc.top, tc.params); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzParseNodeLabels(f *testing.F) {
	for _, s := range []string{"a=b", `"a=b,c=d"`, "a==b", ",", "=", `"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range parseNodeLabels(s) {
			if k == "" || len(k) > 317 || len(v) > 63 {
				t.Fatalf("label %q=%q from %q", k, v, s)
			}
		}
	})
}
