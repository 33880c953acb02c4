package defaults_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

func FuzzParseVolumes(f *testing.F) {
	for _, s := range []string{
		"- {name: a, mountPath: /a, volumeType: CONFIGMAP, source: x, items: {k: p}}",
		`[{"name":"e","mountPath":"/e","volumeType":"EPHEMERAL","storage":"1Gi","accessMode":"RWX"}]`,
		"- {name: h, mountPath: /h, volumeType: HOST_PATH, source: /x, hostPathType: FILE, mountPropagationMode: BIDIRECTIONAL}",
		"not a list", "- 1", "[{}]", "- {storage: 1e999}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		vols, errs := defaults.ParseVolumes(text, field.NewPath("v"))
		if len(errs) > 0 && vols != nil {
			t.Fatalf("errors and volumes both returned")
		}
		for i := range vols {
			_ = vols[i].PodVolume() // must not panic on validated input
			_ = vols[i].Mount()
		}
	})
}

// FuzzParsePolicy checks what the parser could get wrong: a rejected
// document yields no policy; an accepted one has the built-in defaults,
// enforces only fields of the enforceable-field table and each with its
// default set, and reads back unchanged from its own JSON.
func FuzzParsePolicy(f *testing.F) {
	for _, p := range []string{
		"defaults: {image: 'r:{rayVersion}', autoscaling: {mode: central, idleTimeoutSeconds: 5}}\nenforce: []\nlimits: {maxCPUPerPod: '4'}",
		"enforce: [image]", "limits: {allowedImagePrefixes: [a/]}", "{}", "- x",
		"enforce: [hostNetwork]", "enforce: [priorityClassName]",
		"defaults: {automountServiceAccountToken: false, podSecurityContext: {}}\nenforce: [automountServiceAccountToken, podSecurityContext]",
		"defaults: {runtimeClassName: Bad_Name}\nenforce: [runtimeClassName]",
		"defaults: {imagePullPolicy: Sometimes}", "defaults: {nodeSelector: {}}\nenforce: [nodeSelector]",
	} {
		f.Add(p)
	}
	policies, _ := filepath.Glob(filepath.Join("testdata", "expand", "*.policy.yaml"))
	for _, path := range policies {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	enforceable := defaults.EnforceableFields()
	f.Fuzz(func(t *testing.T, doc string) {
		p, err := defaults.ParsePolicy([]byte(doc))
		if err != nil {
			if p != nil {
				t.Fatalf("rejected (%v) but returned a policy: %+v", err, p)
			}
			return
		}
		if p.Defaults.Image == "" || p.Defaults.Autoscaling.Mode == "" {
			t.Fatalf("parsed policy lacks built-in defaults: %+v", p)
		}
		js, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		// Present in the JSON is what "set" means for every field: zero
		// values are omitted, a false or empty-object pointer is kept.
		var set struct {
			Defaults map[string]json.RawMessage `json:"defaults"`
		}
		if err := json.Unmarshal(js, &set); err != nil {
			t.Fatal(err)
		}
		for _, name := range p.Enforce {
			if !slices.Contains(enforceable, name) {
				t.Fatalf("accepted enforce %q, which is not enforceable (%v)", name, enforceable)
			}
			if _, ok := set.Defaults[name]; !ok {
				t.Fatalf("accepted enforce %q without defaults.%s: %s", name, name, js)
			}
		}
		again, err := defaults.ParsePolicy(js)
		if err != nil {
			t.Fatalf("its own JSON %s is refused: %v", js, err)
		}
		if js2, _ := json.Marshal(again); !bytes.Equal(js, js2) {
			t.Fatalf("read back differently:\n%s\n%s", js, js2)
		}
	})
}

func FuzzTemplateFromConfigMap(f *testing.F) {
	f.Add("2", "4", "Gi", "0", "", `{"example.com/fpga":1}`, `[{"key":"k","operator":"Exists"}]`)
	f.Add("500m", "1.5", "Gi", "1", "amd.com/gpu", "null", "")
	f.Add("x", "", "", "-1", "", "{", "[")
	f.Fuzz(func(t *testing.T, cpu, mem, unit, gpu, accel, ext, tols string) {
		tpl, err := defaults.TemplateFromConfigMap("ns", "n", map[string]string{
			"cpu": cpu, "memory": mem, "memory_unit": unit, "gpu": gpu, "gpu_accelerator": accel, "extended_resources": ext, "tolerations": tols,
		})
		if err != nil {
			return
		}
		if tpl.Spec.CPU.Sign() <= 0 || tpl.Spec.Memory.Sign() <= 0 || tpl.Spec.GPU < 0 {
			t.Fatalf("accepted a non-positive template: %+v", tpl.Spec)
		}
	})
}

// FuzzExpand checks the engine's invariants on arbitrary objects: no panic,
// errors or an object (never both), and an accepted expansion is idempotent.
func FuzzExpand(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "expand", "*.yaml"))
	var set *defaults.TemplateSet
	for _, in := range inputs {
		data, _ := os.ReadFile(in)
		docs, err := manifest.Read(bytes.NewReader(data), in)
		if err != nil {
			continue
		}
		for _, d := range docs {
			if defaults.IsExpandable(d.Kind) {
				f.Add(d.JSON)
			}
		}
		if filepath.Base(in) == "seed.yaml" {
			set, _ = manifest.Templates(docs, "default")
		}
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		in := defaults.Input{Object: obj, Namespace: "default", Templates: set}
		res := defaults.Expand(in)
		if (len(res.Errors) == 0) == (res.Object == nil) {
			t.Fatalf("errors %v with object %v", res.Errors, res.Object != nil)
		}
		if len(res.Errors) > 0 {
			return
		}
		in.Object = res.Object
		again := defaults.Expand(in)
		if len(again.Errors) > 0 || !bytes.Equal(again.Object, res.Object) {
			t.Fatalf("not idempotent:\n%s\n%s\n%v", res.Object, again.Object, again.Errors)
		}
	})
}
