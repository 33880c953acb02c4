package manifest_test

import (
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/goldencorpus"
	"github.com/raypilot/raypilot/internal/goldencorpus/webhookdoor"
	"github.com/raypilot/raypilot/manifest"
)

// parityInputs are inputs outside the golden corpus (whose cases both
// doors must render to the golden files: TestGoldenCorpus here and in the
// webhook package) where `raypilot expand` used to differ from the
// webhooks behind an API server.
func parityInputs() []struct{ name, text, policy string } {
	cluster := func(spec string) string {
		return "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec:\n  rayVersion: \"2.9.0\"\n" + spec
	}
	const limits = "limits: {maxReplicasPerGroup: 100, maxWorkersPerCluster: 8}\n"
	return []struct{ name, text, policy string }{
		{"group without maxReplicas under a per-group limit", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), limits},
		{"group without maxReplicas", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), ""},
		{"RayJob group without maxReplicas under a per-group limit", "apiVersion: ray.io/v1\nkind: RayJob\nmetadata: {name: j}\nspec:\n  entrypoint: python x.py\n  rayClusterSpec:\n    rayVersion: \"2.9.0\"\n    headGroupSpec: {template: {}}\n    workerGroupSpecs: [{groupName: a, template: {}}]\n", limits},
		{"image an object", cluster("  headGroupSpec: {template: {spec: {containers: [{name: r, image: {a: 1}}]}}}\n"), ""},
		{"limits a list", cluster("  headGroupSpec: {template: {spec: {containers: [{name: r, resources: {limits: [1]}}]}}}\n"), ""},
		{"headGroupSpec null", cluster("  headGroupSpec: null\n"), ""},
		{"numOfHosts 0.5", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: 0.5, template: {}}]\n"), ""},
		{"numOfHosts a string", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: \"4\", template: {}}]\n"), ""},
		{"managedBy outside the CEL enum", cluster("  managedBy: me\n  headGroupSpec: {template: {}}\n"), ""},
		{"label value with a space", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c, labels: {team: a b}}\nspec:\n  rayVersion: \"2.9.0\"\n  headGroupSpec: {template: {}}\n", ""},
		{"unknown field of a newer KubeRay", cluster("  upgradeStrategy: {type: Recreate}\n  headGroupSpec: {template: {}}\n"), ""},
		{"warnings alongside errors", cluster("  headGroupSpec:\n    rayStartParams: {num-cpus: \"16\"}\n    template: {spec: {containers: [{name: ray, resources: {limits: {cpu: 4}}}]}}\n  workerGroupSpecs: [{groupName: a, minReplicas: 6, maxReplicas: 5, template: {}}]\n"), ""},
		{"a RayCluster in a List", "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(cluster("  headGroupSpec: {template: {}}\n"), "\n", "\n  ") + "\n- {apiVersion: v1, kind: Service, metadata: {name: s}, spec: {ports: [{port: 80}]}}\n", ""},
	}
}

// wordedDifferently are parity inputs both doors deny, in other words;
// only the verdict is compared for them.
var wordedDifferently = map[string]string{
	"numOfHosts 0.5": "the API server reports the format error of a wrongly typed integer without a field; raypilot expand names its field and drops it as a repeat of the type error (schema.go, namedFields)",
}

// Offline and online say the same: `raypilot expand` (manifest.Expand)
// prints for each input what the webhooks behind an API server with the
// KubeRay CRDs answer (webhookdoor): the same warnings, errors and output.
func TestOfflineOnlineParity(t *testing.T) {
	for _, in := range parityInputs() {
		t.Run(in.name, func(t *testing.T) {
			docs, err := manifest.Read(strings.NewReader(in.text), in.name)
			if err != nil {
				t.Fatal(err)
			}
			policy := defaults.DefaultPolicy()
			if in.policy != "" {
				if policy, err = defaults.ParsePolicy([]byte(in.policy)); err != nil {
					t.Fatal(err)
				}
			}
			offline, err := manifest.Expand(docs, policy, goldencorpus.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			online, err := webhookdoor.Expand(docs, policy)
			if err != nil {
				t.Fatal(err)
			}
			if why, ok := wordedDifferently[in.name]; ok {
				if len(offline.Errors) == 0 || len(online.Errors) == 0 {
					t.Errorf("listed as denied in other words (%s), but offline errors %q, online errors %q", why, offline.Errors, online.Errors)
				}
				return
			}
			a, err := goldencorpus.Render(offline)
			if err != nil {
				t.Fatal(err)
			}
			b, err := goldencorpus.Render(online)
			if err != nil {
				t.Fatal(err)
			}
			if string(a) != string(b) {
				t.Errorf("raypilot expand:\n%s\nthe webhooks:\n%s", a, b)
			}
		})
	}
}
