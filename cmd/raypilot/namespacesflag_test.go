package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWatchNamespacesFlag: --watch-namespaces takes the comma-separated
// list the chart renders on both long-running commands (duplicates
// dropped, empty: all); a name that is no namespace is a usage error (exit
// 2). The webhook also takes --configmap-templates=false.
func TestWatchNamespacesFlag(t *testing.T) {
	var got []string
	f := namespacesFlag{&got}
	if err := f.Set("team-a,team-b,team-a"); err != nil || !slices.Equal(got, []string{"team-a", "team-b"}) {
		t.Errorf("Set(team-a,team-b,team-a) = %v, %v", got, err)
	}
	if err := f.Set(""); err != nil || got != nil {
		t.Errorf("Set(\"\") = %v, %v; want all namespaces", got, err)
	}
	absent := "--kubeconfig=" + filepath.Join(t.TempDir(), "absent")
	for _, cmd := range []string{"webhook", "scaler"} {
		for _, bad := range []string{"Team_A", "team-a,", "team-a,,team-b", "team-a team-b"} {
			code, _, errOut := runCLI(t, "", cmd, "--watch-namespaces="+bad, absent)
			if code != 2 || !strings.Contains(errOut, "namespace") {
				t.Errorf("%s --watch-namespaces=%q: exit %d, want 2 naming the namespace\n%s", cmd, bad, code, errOut)
			}
		}
		code, _, errOut := runCLI(t, "", cmd, "--watch-namespaces=team-a,team-b", absent)
		if code != 1 {
			t.Errorf("%s --watch-namespaces=team-a,team-b: exit %d, want 1 at the kubeconfig\n%s", cmd, code, errOut)
		}
	}
	code, _, errOut := runCLI(t, "", "webhook", "--watch-namespaces=team-a", "--configmap-templates=false", absent)
	if code != 1 {
		t.Errorf("webhook --configmap-templates=false: exit %d, want 1 at the kubeconfig\n%s", code, errOut)
	}
}
