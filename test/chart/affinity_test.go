package chart

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// TestAffinityKeepsUserTerms: the chart's anti-affinity term is added to the
// user's affinity, never in place of it, in every mode.
func TestAffinityKeepsUserTerms(t *testing.T) {
	user := corev1.Affinity{
		NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "pool", Operator: corev1.NodeSelectorOpIn, Values: []string{"system"}}}}}}},
		PodAntiAffinity: &corev1.PodAntiAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{Weight: 10, PodAffinityTerm: corev1.PodAffinityTerm{
				TopologyKey: "topology.kubernetes.io/zone", LabelSelector: selector("app", "zonal")}}},
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{TopologyKey: "kubernetes.io/hostname", LabelSelector: selector("app", "noisy")}},
		},
	}
	doc, err := yaml.Marshal(map[string]any{"webhook": map[string]any{"affinity": user}, "scaler": map[string]any{"affinity": user}})
	if err != nil {
		t.Fatal(err)
	}
	own := func(component string) *corev1.PodAffinityTerm {
		return &corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: selector(
			"app.kubernetes.io/name", "raypilot", "app.kubernetes.io/instance", "raypilot", "app.kubernetes.io/component", component)}
	}
	for _, mode := range []string{"soft", "hard", "none"} {
		t.Run(mode, func(t *testing.T) {
			r := render(t, "raypilot", append(valuesFile(t, string(doc)), "--set", "webhook.podAntiAffinity="+mode, "--set", "scaler.podAntiAffinity="+mode)...)
			for _, component := range []string{"webhook", "scaler"} {
				got := deployment(t, r, "raypilot-"+component).Spec.Template.Spec.Affinity
				want := user.DeepCopy()
				switch mode {
				case "soft":
					want.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution = append(want.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution,
						corev1.WeightedPodAffinityTerm{Weight: 100, PodAffinityTerm: *own(component)})
				case "hard":
					want.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution = append(want.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution, *own(component))
				}
				if !reflect.DeepEqual(got, want) {
					gy, _ := yaml.Marshal(got)
					wy, _ := yaml.Marshal(want)
					t.Errorf("%s affinity with podAntiAffinity=%s:\n%s\nwant:\n%s", component, mode, gy, wy)
				}
			}
		})
	}
}

func selector(kv ...string) *metav1.LabelSelector {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return &metav1.LabelSelector{MatchLabels: m}
}
