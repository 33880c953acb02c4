package kuberay

import (
	"regexp"
	"strings"
	"sync"
	"testing"

	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/crdschema"
)

var (
	fuzzCorpusOnce sync.Once
	fuzzCorpus     []corpusCase
)

// FuzzExpandBuildsWithKubeRay expands arbitrary objects with the templates
// and policy of a golden case and runs KubeRay v1.5.0 over every accepted
// expansion (judgeObject). Seeds: every object of every golden input, with
// its case's policy, as written (raypilot expand) and as the apiserver hands
// it to the mutating webhook (pruned and defaulted by the CRD).
//
// Inputs are judged by what the webhook is there to do: an input is
// skipped when, its empty Ray pod templates given a container and its
// containers an image (webhookFilled), the KubeRay CRD schema still rejects
// it (internal/crdschema, the filter FuzzAdmissionStructured uses) or
// KubeRay's validators do: the apiserver or the operator refuses those
// whatever the webhook writes. A problem KubeRay finds with that filled-in
// input too (an env var of the user's referring to one defined after it,
// say) is the user's, not the expansion's, and is not reported.
func FuzzExpandBuildsWithKubeRay(f *testing.F) {
	fuzzCorpusOnce.Do(func() { fuzzCorpus = loadCorpus(f) })
	for i, c := range fuzzCorpus {
		for _, obj := range c.objects {
			f.Add(uint16(i), obj, false)
			f.Add(uint16(i), obj, true)
		}
	}
	f.Fuzz(func(t *testing.T, which uint16, obj []byte, admitted bool) {
		c := fuzzCorpus[int(which)%len(fuzzCorpus)]
		rejected, known := inputVerdict(webhookFilled(obj))
		if rejected {
			return
		}
		in := obj
		if admitted {
			v, err := crdschema.For(kindOf(obj))
			if err != nil {
				return
			}
			if in, err = v.Decode(obj); err != nil {
				return
			}
		}
		res := defaults.Expand(defaults.Input{Object: in, Namespace: "default", Templates: c.templates, Policy: c.policy, Output: defaults.OutputObject})
		if len(res.Errors) > 0 {
			return
		}
		var problems []string
		for _, p := range judgeObject(res.Object) {
			if !known[blankEntries(p)] {
				problems = append(problems, p)
			}
		}
		if len(problems) > 0 {
			t.Fatalf("templates and policy of golden case %s: KubeRay v1.5.0 on an accepted expansion:\n  %s\ninput  %s\noutput %s",
				c.name, strings.Join(problems, "\n  "), in, res.Object)
		}
	})
}

// inputVerdict is what the apiserver and KubeRay say about an input:
// rejected when the CRD schema or KubeRay's validators refuse it (or it
// does not decode into KubeRay's types), and the problems judgeObject finds
// with it otherwise, their env entry numbers blanked.
func inputVerdict(data []byte) (rejected bool, problems map[string]bool) {
	s, _, err := stored(data)
	if err != nil || s == nil {
		return true, nil
	}
	o, err := decodeObject(s)
	if err != nil {
		return true, nil
	}
	o.defaultNamespace()
	if len(o.validate()) > 0 {
		return true, nil
	}
	problems = map[string]bool{}
	for _, p := range judgeObject(data) {
		problems[blankEntries(p)] = true
	}
	return false, problems
}

var entryNumber = regexp.MustCompile(`entry \d+`)

// blankEntries drops env entry numbers from a problem: the expansion adds
// entries, so the input's and the output's differ.
func blankEntries(problem string) string { return entryNumber.ReplaceAllString(problem, "entry N") }

// webhookFilled returns data with what the webhook is there to supply
// filled in: a container in every Ray pod template without one, an image in
// every container of those templates without one. data is returned as it is
// when it is not a JSON object.
func webhookFilled(data []byte) []byte {
	var obj map[string]any
	if utiljson.Unmarshal(data, &obj) != nil || obj == nil {
		return data
	}
	spec, _ := obj["spec"].(map[string]any)
	switch obj["kind"] {
	case "RayJob":
		spec, _ = spec["rayClusterSpec"].(map[string]any)
	case "RayService":
		spec, _ = spec["rayClusterConfig"].(map[string]any)
	}
	var groups []any
	if spec != nil {
		groups = append(groups, spec["headGroupSpec"])
		if ws, ok := spec["workerGroupSpecs"].([]any); ok {
			groups = append(groups, ws...)
		}
	}
	for _, g := range groups {
		group, _ := g.(map[string]any)
		if group == nil {
			continue
		}
		tmpl, _ := group["template"].(map[string]any)
		if tmpl == nil {
			tmpl = map[string]any{}
			group["template"] = tmpl
		}
		ps, _ := tmpl["spec"].(map[string]any)
		if ps == nil {
			ps = map[string]any{}
			tmpl["spec"] = ps
		}
		cs, _ := ps["containers"].([]any)
		if len(cs) == 0 {
			ps["containers"] = []any{map[string]any{"name": "ray", "image": "ray"}}
			continue
		}
		for _, c := range cs {
			if cm, ok := c.(map[string]any); ok {
				if image, _ := cm["image"].(string); image == "" {
					cm["image"] = "ray"
				}
			}
		}
	}
	out, err := utiljson.Marshal(obj)
	if err != nil {
		return data
	}
	return out
}
