package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyConfigMapFlag: --policy-configmap takes NAMESPACE/NAME on both
// long-running commands; anything else is a usage error (exit 2).
func TestPolicyConfigMapFlag(t *testing.T) {
	absent := "--kubeconfig=" + filepath.Join(t.TempDir(), "absent")
	for _, cmd := range []string{"webhook", "scaler"} {
		for _, bad := range []string{"raypilot-policy", "/raypilot-policy", "raypilot-system/", "a/b/c"} {
			code, _, errOut := runCLI(t, "", cmd, "--policy-configmap", bad, absent)
			if code != 2 || !strings.Contains(errOut, "NAMESPACE/NAME") {
				t.Errorf("%s --policy-configmap %q: exit %d, want 2 naming NAMESPACE/NAME\n%s", cmd, bad, code, errOut)
			}
		}
		// Accepted: the run goes on to the (absent) kubeconfig.
		code, _, errOut := runCLI(t, "", cmd, "--policy-configmap", "raypilot-system/raypilot-policy", "--policy-poll-interval", "2s", absent)
		if code != 1 {
			t.Errorf("%s --policy-configmap raypilot-system/raypilot-policy: exit %d, want 1 at the kubeconfig\n%s", cmd, code, errOut)
		}
	}
}
