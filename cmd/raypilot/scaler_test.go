package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestRayClientServiceAccountFlag: --ray-client-service-account takes
// NAMESPACE/NAME of valid Kubernetes names; anything else is a usage error
// (exit 2) naming what is wrong.
func TestRayClientServiceAccountFlag(t *testing.T) {
	absent := "--kubeconfig=" + filepath.Join(t.TempDir(), "absent")
	for bad, want := range map[string]string{
		"raypilot-ray-client":          "NAMESPACE/NAME",
		"raypilot-system/":             "NAMESPACE/NAME",
		"a/b/c":                        "NAMESPACE/NAME",
		"Raypilot/raypilot-ray-client": "namespace",
		"raypilot/ray_client":          "ServiceAccount name",
	} {
		code, _, errOut := runCLI(t, "", "scaler", "--ray-client-service-account", bad, absent)
		if code != 2 || !strings.Contains(errOut, want) {
			t.Errorf("--ray-client-service-account %q: exit %d, want 2 mentioning %q\n%s", bad, code, want, errOut)
		}
	}
	for _, good := range []string{"raypilot-system/raypilot-ray-client", ""} {
		code, _, errOut := runCLI(t, "", "scaler", "--ray-client-service-account", good, absent)
		if code != 1 {
			t.Errorf("--ray-client-service-account %q: exit %d, want 1 at the kubeconfig\n%s", good, code, errOut)
		}
	}
}
