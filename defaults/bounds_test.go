package defaults_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/benchcpu"

	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
)

// volumesCluster is a RayCluster whose raypilot.io/volumes annotation holds
// n EMPTY_DIR volumes, with groups worker groups; each group's Ray
// container already mounts written volumes of its own (and the pod has
// them), which compact volumes are checked against, and each group's
// template has perGroup compact volumes of its own.
func volumesCluster(n, groups, written, perGroup int) []byte {
	compact := func(prefix string, n int) string {
		var ann strings.Builder
		for i := range n {
			fmt.Fprintf(&ann, "- {name: %s%d, mountPath: /%s%d, volumeType: EMPTY_DIR}\n", prefix, i, prefix, i)
		}
		return strings.ReplaceAll(ann.String(), "\n", `\n`)
	}
	var vols, mounts strings.Builder
	for i := range written {
		if i > 0 {
			vols.WriteByte(',')
			mounts.WriteByte(',')
		}
		fmt.Fprintf(&vols, `{"name":"w%d","emptyDir":{}}`, i)
		fmt.Fprintf(&mounts, `{"name":"w%d","mountPath":"/w%d"}`, i, i)
	}
	tmpl := func(g int) string {
		meta := ""
		if perGroup > 0 {
			meta = fmt.Sprintf(`"metadata":{"annotations":{"raypilot.io/volumes":"%s"}},`, compact(fmt.Sprintf("g%dv", g), perGroup))
		}
		return fmt.Sprintf(`{%s"spec":{"containers":[{"name":"ray","volumeMounts":[%s]}],"volumes":[%s]}}`, meta, mounts.String(), vols.String())
	}
	var workers []string
	for g := range groups {
		workers = append(workers, fmt.Sprintf(`{"groupName":"g%d","minReplicas":0,"maxReplicas":2,"template":%s}`, g, tmpl(g)))
	}
	return fmt.Appendf(nil, `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"vols","namespace":"default","annotations":{"raypilot.io/volumes":"%s"}},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":%s},"workerGroupSpecs":[%s]}}`,
		compact("v", n), tmpl(-1), strings.Join(workers, ","))
}

// Compact volumes are bounded in number and text, per annotation and per
// object, each refusal one line naming the annotation and the fix. A
// 4,000-volume annotation took seconds and hundreds of MB before.
func TestVolumeBounds(t *testing.T) {
	const fix = "mount a few ConfigMaps or Secrets with several items, or one volume with subdirectories, instead of one volume per file"
	cases := []struct {
		name string
		obj  []byte
		want string
	}{
		{"4000 volumes, 230 KB", volumesCluster(4000, 20, 0, 0),
			"metadata.annotations[raypilot.io/volumes]: Too long: may not be more than 65536 bytes (it has 229780): it holds at most 256 volumes; " + fix},
		{"1000 short volumes, 52 KB", volumesCluster(1000, 20, 0, 0),
			"metadata.annotations[raypilot.io/volumes]: Too many: 1000: must have at most 256 volumes; " + fix},
		{"256 volumes in each of 20 groups", volumesCluster(0, 20, 0, 256),
			"spec.workerGroupSpecs[3].template.metadata.annotations[raypilot.io/volumes]: Too long: the raypilot.io/volumes annotations of this object add up to more than 65536 bytes; write volumes the groups share once, in the object's own annotation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// How fast the refusal comes is BenchmarkVolumes' to measure.
			for _, out := range []defaults.Output{defaults.OutputPatch, defaults.OutputNone} {
				res := defaults.Expand(defaults.Input{Object: c.obj, Output: out})
				if len(res.Errors) != 1 || res.Errors[0].Error() != c.want {
					t.Fatalf("errors %v, want one: %s", res.Errors, c.want)
				}
			}
		})
	}
	at := defaults.Expand(defaults.Input{Object: volumesCluster(defaults.MaxCompactVolumes, 2, 0, defaults.MaxCompactVolumes)})
	if len(at.Errors) > 0 {
		t.Fatalf("%d volumes refused: %v", defaults.MaxCompactVolumes, at.Errors)
	}
}

// Adding compact volumes to a pod template that already has many costs
// time linear in the two: names and mount paths are looked up in maps, not
// by scanning the pod's lists once per compact volume (256 compact volumes
// over 4,000 written ones in 20 groups were 60 million comparisons).
func TestVolumesLinear(t *testing.T) {
	obj := volumesCluster(defaults.MaxCompactVolumes, 20, 4000, 0)
	// The same object without compact volumes: decoding, encoding and the
	// rest of the expansion, which the volumes must not dwarf.
	base := volumesCluster(0, 20, 4000, 0)
	measure := func(data []byte) time.Duration {
		best := time.Duration(1 << 62)
		for range 3 {
			start := time.Now()
			res := defaults.Expand(defaults.Input{Object: data, Output: defaults.OutputNone})
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			best = min(best, time.Since(start))
		}
		return best
	}
	with, without := measure(obj), measure(base)
	t.Logf("with 256 compact volumes %v, without %v", with, without)
	if with > 4*without+200*time.Millisecond {
		t.Errorf("256 compact volumes over 4,000 written ones take %v, the same object without them %v", with, without)
	}
}

// BenchmarkVolumes admits (or refuses) clusters with many compact volumes
// in every group. The seed is the baseline of the same run.
//
//	go test -run '^$' -bench Volumes -benchmem ./defaults/
func BenchmarkVolumes(b *testing.B) {
	cases := []struct {
		name  string
		obj   []byte
		input func([]byte) defaults.Input
	}{
		{"seed", seedJSON(b), nil},
		{"4000x20-refused", volumesCluster(4000, 20, 0, 0), nil},
		{"1000x20-refused", volumesCluster(1000, 20, 0, 0), nil},
		{"256-in-each-of-20-groups-refused", volumesCluster(0, 20, 0, 256), nil},
		{"256x20", volumesCluster(256, 20, 0, 0), nil},
		{"200-in-each-of-20-groups-refused", volumesCluster(0, 20, 0, 200), nil},
		{"50-in-each-of-20-groups", volumesCluster(0, 20, 0, 50), nil},
	}
	for _, c := range cases {
		for _, out := range []struct {
			name string
			o    defaults.Output
		}{{"mutate", defaults.OutputPatch}, {"validate", defaults.OutputNone}} {
			b.Run(c.name+"/"+out.name, func(b *testing.B) {
				in := defaults.Input{Object: c.obj, Output: out.o, Templates: templateSet("default-template")}
				b.ReportAllocs()
				b.SetBytes(int64(len(c.obj)))
				reportCPU := benchcpu.Start(b)
				for b.Loop() {
					defaults.Expand(in)
				}
				reportCPU()
			})
		}
	}
}

func seedJSON(tb testing.TB) []byte {
	tb.Helper()
	js, err := yaml.YAMLToJSON([]byte(`apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: test-cluster
  namespace: default
  annotations:
    ray.io/compute-template: default-template
    raypilot.io/volumes: |
      - {name: code-sample, mountPath: /home/ray/samples, volumeType: CONFIGMAP, source: ray-example}
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: true
  autoscalerOptions: {upscalingMode: Default, idleTimeoutSeconds: 30}
  headGroupSpec:
    serviceType: NodePort
    rayStartParams: {num-cpus: "0"}
    template: {}
  workerGroupSpecs:
  - {groupName: small-wg, minReplicas: 0, maxReplicas: 5, template: {}}
`))
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// withVolumes is a RayCluster with the given raypilot.io/volumes text.
func withVolumes(text string) []byte {
	ann, _ := json.Marshal(text)
	return fmt.Appendf(nil, `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c","namespace":"default","annotations":{"raypilot.io/volumes":%s}},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}`, ann)
}

func errorText(errs field.ErrorList) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// The annotation's text is taken as written or refused: nothing in it is
// dropped, folded or expanded without bound, and every error names its
// field (never a Go type).
func TestVolumesAnnotationRefusals(t *testing.T) {
	const fld = "metadata.annotations[raypilot.io/volumes]"
	big := strings.Repeat("x", 30000)
	cases := []struct {
		name, text string
		want       []string
	}{
		{"second document", "- {name: a, mountPath: /a, volumeType: EMPTY_DIR}\n---\n- {name: b, mountPath: /b, volumeType: EMPTY_DIR}\n",
			[]string{fld + ": Forbidden: a second YAML document starts at line 3; only one document is allowed here (the conversion to JSON would drop the rest): remove the `---` line or merge the documents"}},
		{"case variant key", "- {name: a, mountPath: /a, VolumeType: EMPTY_DIR}",
			[]string{fld + `[0]: Invalid value: "{\"VolumeType\":\"EMPTY_DIR\",\"mountPath\":\"/a\",\"name\":\"a\"}": must be a volume {name, mountPath, volumeType, source, items, readOnly, storage, storageClassName, accessMode, hostPathType, mountPropagationMode}: unknown field "VolumeType" (keys are case-sensitive: write "volumeType")`,
				fld + "[0].volumeType: Required value: one of CONFIGMAP, SECRET, PERSISTENT_VOLUME_CLAIM, HOST_PATH, EMPTY_DIR, EPHEMERAL"}},
		{"case variant folded into another", "- {name: a, mountPath: /a, volumeType: CONFIGMAP, source: cm, SOURCE: other}",
			[]string{fld + `[0]: Invalid value: "{\"SOURCE\":\"other\",\"mountPath\":\"/a\",\"name\":\"a\",\"source\":\"cm\",\"volumeType\":\"CONFIGMAP\"}": must be a volume {name, mountPath, volumeType, source, items, readOnly, storage, storageClassName, accessMode, hostPathType, mountPropagationMode}: unknown field "SOURCE" (keys are case-sensitive: write "source")`}},
		{"key written twice", "- name: a\n  mountPath: /a\n  volumeType: CONFIGMAP\n  source: cm\n  source: other\n",
			[]string{fld + `[0].source: Duplicate value: "source": the key is written twice in one mapping (lines 4 and 5); the conversion to JSON would keep only one: remove one of them`}},
		{"NaN", "- {name: a, mountPath: /a, volumeType: EMPTY_DIR, storage: .nan}",
			[]string{fld + `[0].storage: Invalid value: ".nan": not a number JSON can hold (line 1): NaN and infinities have no JSON form; quote it if you mean the text`}},
		{"infinity", "- {name: a, mountPath: /a, volumeType: EMPTY_DIR, readOnly: -.inf}",
			[]string{fld + `[0].readOnly: Invalid value: "-.inf": not a number JSON can hold (line 1): NaN and infinities have no JSON form; quote it if you mean the text`}},
		{"entry not an object", "- just-a-name",
			[]string{fld + `[0]: Invalid value: "just-a-name": must be a volume {name, mountPath, volumeType, source, items, readOnly, storage, storageClassName, accessMode, hostPathType, mountPropagationMode}`}},
		{"wrong types", "- {name: 5, mountPath: /a, volumeType: CONFIGMAP, source: cm, readOnly: \"yes\", items: {a: [1]}}",
			[]string{fld + "[0].name: Invalid value: 5: must be a string",
				fld + `[0].readOnly: Invalid value: "yes": must be true or false`,
				fld + "[0].items[a]: Invalid value: [1]: must be a string (a file path)",
				fld + "[0].name: Required value: a DNS-1123 label naming the pod volume"}},
		{"items not a map", "- {name: a, mountPath: /a, volumeType: CONFIGMAP, source: cm, items: [a]}",
			[]string{fld + `[0].items: Invalid value: ["a"]: must be a map of keys to file paths`}},
		{"aliases expanding a 30 KB entry 100 times", "- &v {name: a, mountPath: /a, volumeType: EMPTY_DIR, colour: " + big + "}\n" + strings.Repeat("- *v\n", 100),
			[]string{fld + fmt.Sprintf(": Too long: its YAML aliases expand to more than 131072 bytes of JSON (from %d bytes of text); write the content out without aliases, or shorten it", 63+len(big)+5*100)}},
		{"alias containing itself", "- &v [*v]",
			[]string{fld + ": Forbidden: a YAML alias refers to the node that contains it; write the content out"}},
		{"nested deeper than 100", strings.Repeat("[", 102) + strings.Repeat("]", 102),
			[]string{fld + strings.Repeat("[0]", 101) + ": Forbidden: nested more than 100 levels deep (line 1)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := defaults.Expand(defaults.Input{Object: withVolumes(c.text), Output: defaults.OutputNone})
			if got, want := errorText(res.Errors), strings.Join(c.want, "\n")+"\n"; got != want {
				t.Errorf("got:\n%swant:\n%s", got, want)
			}
		})
	}
}

// Errors quote bounded values and a denial lists a bounded number of them:
// 250 entries each with a 250-byte unknown key were 250 errors quoting
// every entry whole.
func TestErrorTextBounded(t *testing.T) {
	var text strings.Builder
	for i := range 250 {
		fmt.Fprintf(&text, "- {name: v%d, mountPath: /v%d, volumeType: NFS, %s: 1}\n", i, i, strings.Repeat("k", 180))
	}
	res := defaults.Expand(defaults.Input{Object: withVolumes(text.String()), Output: defaults.OutputNone})
	if n := len(res.Errors); n > defaults.MaxErrors+1 {
		t.Errorf("%d errors, want at most %d and a count of the rest", n, defaults.MaxErrors)
	}
	all := errorText(res.Errors)
	if len(all) > defaults.MaxErrorBytes+1024 {
		t.Errorf("%d bytes of error text", len(all))
	}
	last := res.Errors[len(res.Errors)-1].Error()
	if !strings.HasPrefix(last, "metadata.annotations[raypilot.io/volumes]: Too many: ") || !strings.Contains(last, "more problems not listed (at most 50, or 16384 bytes, are); fix the ones above and submit again to see the rest") {
		t.Errorf("last error %q", last)
	}
	for _, e := range res.Errors {
		if len(e.Error()) > defaults.MaxErrorValue+defaults.MaxErrorDetail+defaults.MaxErrorField+100 {
			t.Errorf("error of %d bytes: %s", len(e.Error()), e.Error())
		}
	}
}

func TestBoundErrors(t *testing.T) {
	errs := field.ErrorList{field.Invalid(field.NewPath("spec", "rayVersion"), strings.Repeat("v", 1000), "bad")}
	for i := range 1000 {
		errs = append(errs, field.Invalid(field.NewPath("spec", "workerGroupSpecs").Index(i).Child("image"), "i", "bad"))
	}
	errs = append(errs, field.InternalError(field.NewPath("metadata", "annotations"), fmt.Errorf("lookup failed")))
	got := defaults.BoundErrors(errs)
	if len(got) != defaults.MaxErrors+2 {
		t.Fatalf("%d errors, want %d kept, the lookup failure and the count", len(got), defaults.MaxErrors)
	}
	if !defaults.Retryable(got) {
		t.Error("the lookup failure was dropped")
	}
	if want := `spec.rayVersion: Invalid value: "` + strings.Repeat("v", 256) + `... (1000 bytes in all)": bad`; got[0].Error() != want {
		t.Errorf("first error %q, want %q", got[0].Error(), want)
	}
	if want := "spec.workerGroupSpecs: Too many: 951: more problems not listed (at most 50, or 16384 bytes, are); fix the ones above and submit again to see the rest"; got[len(got)-1].Error() != want {
		t.Errorf("count %q, want %q", got[len(got)-1].Error(), want)
	}
	few := field.ErrorList{field.Required(field.NewPath("spec"), "x")}
	if got := defaults.BoundErrors(few); len(got) != 1 || got[0] != few[0] {
		t.Errorf("a short list changed: %v", got)
	}
	// The text bound, before the count: 40 errors of 1 KB.
	var long field.ErrorList
	for i := range 40 {
		long = append(long, field.Invalid(field.NewPath("spec", "headGroupSpec", "rayStartParams").Key(fmt.Sprint(i)), "x", strings.Repeat("d", 1000)))
	}
	got = defaults.BoundErrors(long)
	if n := len(errorText(got)); n > defaults.MaxErrorBytes+512 || len(got) >= 40 {
		t.Errorf("%d errors, %d bytes", len(got), n)
	}
	if last := got[len(got)-1].Error(); !strings.HasPrefix(last, "spec.headGroupSpec.rayStartParams: Too many: ") {
		t.Errorf("count %q", last)
	}
}

func TestWarningsBounded(t *testing.T) {
	// num-cpus above the container's CPU: a warning quoting rayStartParams.
	var groups []string
	for i := range 100 {
		groups = append(groups, fmt.Sprintf(`{"groupName":"g%d","maxReplicas":1,"rayStartParams":{"num-cpus":"%d%s"},"template":{"spec":{"containers":[{"name":"ray","resources":{"limits":{"cpu":"1"}}}]}}}`, i, i+2, strings.Repeat("0", 100)))
	}
	obj := fmt.Appendf(nil, `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c"},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}},"workerGroupSpecs":[%s]}}`, strings.Join(groups, ","))
	res := defaults.Expand(defaults.Input{Object: obj, Output: defaults.OutputNone})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	runes := 0
	for _, w := range res.Warnings {
		runes += len([]rune(w))
	}
	if len(res.Warnings) == 0 || runes > 4096+256 {
		t.Errorf("%d warnings, %d runes", len(res.Warnings), runes)
	}
}
