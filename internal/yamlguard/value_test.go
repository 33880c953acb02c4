package yamlguard

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var scalars = []string{
	"1", "-1", "+1", "0", "-0", "017", "0x1F", "0X1f", "0o17", "0b101", "-0b101", "0b2", "1_000", "1__0", "_1", "1_0.5",
	"9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "-9223372036854775809",
	"1.0", "1.", ".5", "-.5", "+.5", "1e3", "1E3", "1e+3", "1e-3", "1e", "1e999", "-1e999", "0.1e-3", "1_000.5", ".", "-", "+", "..5",
	"yes", "Yes", "YES", "yEs", "no", "No", "on", "On", "off", "OFF", "y", "Y", "n", "N", "true", "True", "false", "FALSE", "tRue",
	"~", "null", "Null", "NULL", "nul", "", `""`, "''", "'1'", `"true"`, "abc", "a b", "12:30", "1:20:30", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
	"2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10 -5", "2001-1-2", "20011-1-2", "1-2-3", "0.0.0.0", "1.2.3", "10Gi", "500m", "/a/b", "$MY_POD_IP",
	"|\n  block\n", ">\n  folded\n  text\n", "!!str 1", "!!int 1", "!!float 1", "!!bool yes", "&a 1",
}

func inputs() []string {
	var out []string
	for _, s := range scalars {
		if strings.HasPrefix(s, "|") || strings.HasPrefix(s, ">") {
			out = append(out, "k: "+s)
			continue
		}
		out = append(out, "k: "+s, "- "+s, s+": v", "{k: "+s+"}", "["+s+"]")
	}
	return append(out,
		"- {name: code-sample, mountPath: /home/ray/samples, volumeType: CONFIGMAP, source: ray-example}",
		"[{name: a, mountPath: /a, volumeType: EMPTY_DIR, readOnly: yes, items: {a: b, 1: c, true: d}}]",
		"a:\n  b:\n    - c\n    - d: e\n",
		"<<: {a: 1}\nb: 2\n", "a: &x 1\nb: *x\n", "null: 1", "~: 1", "1.5: x", "[1, 2]: x",
		"# only a comment\n", "---\na: 1\n", "a: 1\n...\n", `{"a": [1, 2.50, "x", {"deep": true}], "big": 12345678901234567890}`,
	)
}

// viaYAMLToJSON is what ParseVolumes did: sigs.k8s.io/yaml's YAMLToJSON,
// decoded with numbers kept as written.
func viaYAMLToJSON(text string) (any, error) {
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	err = dec.Decode(&v)
	return v, err
}

func checkValue(t *testing.T, text string) {
	rep, err := Check([]byte(text), nil, Limits{MaxExpandedBytes: 1 << 20, MaxDepth: MaxDepth})
	if err != nil || len(rep.Errors) > 0 {
		return
	}
	got, ok := rep.Value()
	if !ok {
		return
	}
	want, err := viaYAMLToJSON(text)
	if err != nil {
		t.Fatalf("%q: Value gives %#v, YAMLToJSON fails: %v", text, got, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: Value gives %#v, YAMLToJSON %#v", text, got, want)
	}
}

func TestValueAgreesWithYAMLToJSON(t *testing.T) {
	converted := 0
	for _, in := range inputs() {
		checkValue(t, in)
		if rep, err := Check([]byte(in), nil, Limits{}); err == nil && len(rep.Errors) == 0 {
			if _, ok := rep.Value(); ok {
				converted++
			}
		}
	}
	if converted < 300 {
		t.Errorf("only %d inputs converted without YAMLToJSON", converted)
	}
}

func FuzzValue(f *testing.F) {
	for _, in := range inputs() {
		f.Add(in)
	}
	f.Fuzz(checkValue)
}
