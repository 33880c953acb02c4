package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// The webhook and the scaler of this control plane run with tokens of the
// chart's ServiceAccounts (hack/local-cluster.sh chart_install), so every
// e2e test passing shows the chart grants enough. This test shows it grants
// no more than the issue allows, asking the API server (SelfSubjectAccessReview
// through `kubectl auth can-i`) as each identity.
func TestChartIdentitiesAreLeastPrivilege(t *testing.T) {
	state := filepath.Dir(kubeconfig) // the identities' kubeconfigs sit next to the admin's
	cases := []struct {
		identity string
		verb     string
		resource string
		allowed  bool
	}{
		// What each component needs.
		{"scaler", "patch", "rayclusters.ray.io", true},
		{"scaler", "watch", "pods", true},
		{"scaler", "create", "events.events.k8s.io", true},
		{"webhook", "watch", "computetemplates.raypilot.io", true},
		{"webhook", "watch", "clustercomputetemplates.raypilot.io", true},
		// What they must not do.
		{"scaler", "delete", "pods", false},
		{"scaler", "create", "pods", false},
		{"scaler", "get", "secrets", false},
		{"scaler", "list", "secrets", false},
		{"scaler", "delete", "rayclusters.ray.io", false},
		{"scaler", "update", "mutatingwebhookconfigurations", false},
		{"webhook", "create", "rayclusters.ray.io", false},
		{"webhook", "patch", "rayclusters.ray.io", false},
		{"webhook", "update", "rayclusters.ray.io", false},
		{"webhook", "create", "pods", false},
		{"webhook", "patch", "pods", false},
		{"webhook", "delete", "pods", false},
		{"webhook", "list", "secrets", false}, // only its own Secret, by name
		{"webhook", "create", "mutatingwebhookconfigurations", false},
		{"webhook", "delete", "validatingwebhookconfigurations", false},
	}
	for _, c := range cases {
		kubeconfig := filepath.Join(state, c.identity+".kubeconfig")
		for _, ns := range []string{"default", "raypilot-system"} {
			out, _, _ := kubectl(t, "", "--kubeconfig", kubeconfig, "auth", "can-i", c.verb, c.resource, "-n", ns)
			got := strings.TrimSpace(out) == "yes"
			if got != c.allowed {
				t.Errorf("%s: can-i %s %s -n %s = %q, want allowed=%v", c.identity, c.verb, c.resource, ns, strings.TrimSpace(out), c.allowed)
			}
		}
	}
	// The identities are the chart's ServiceAccounts, not the admin.
	for _, id := range []string{"webhook", "scaler"} {
		out := mustKubectl(t, "", "--kubeconfig", filepath.Join(state, id+".kubeconfig"), "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if want := "system:serviceaccount:raypilot-system:raypilot-" + id; out != want {
			t.Errorf("%s kubeconfig authenticates as %q, want %q", id, out, want)
		}
	}
}
