package chart

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFlagsAcceptedByBinary runs the raypilot binary built from this tree
// with exactly the arguments each rendered Deployment passes, so a flag the
// chart names but the binary lacks or has deprecated (or self-managed
// settings the binary refuses, such as a CA validity under 3× the
// certificate's) fails here and not in a cluster. The kubeconfig points
// nowhere: a run that gets past flag parsing and validation stops there with
// exit code 1 (2 = bad flags).
func TestFlagsAcceptedByBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "raypilot")
	build := exec.Command("go", "build", "-o", bin, "./cmd/raypilot")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/raypilot: %v\n%s", err, out)
	}
	noKubeconfig := "--kubeconfig=" + filepath.Join(t.TempDir(), "absent")
	cases := map[string][]string{"self-managed": nil, "cert-manager": allOptional, "every value": everyValue(t),
		"watched namespaces":                      watchedNamespaces(t),
		"watched namespaces, ConfigMap templates": append(watchedNamespaces(t), "--set", "policy.limits.readAPIServerConfigMaps=true"),
		"single call":                             singleCall}
	for name, flags := range cases {
		r := render(t, "raypilot", flags...)
		for _, d := range []struct{ deployment, container string }{{"raypilot-webhook", "webhook"}, {"raypilot-scaler", "scaler"}} {
			c := container(t, deployment(t, r, d.deployment), d.container)
			args := make([]string, 0, len(c.Args)+1)
			for _, a := range c.Args {
				// The kubelet expands $(POD_NAMESPACE) from the env var.
				args = append(args, strings.ReplaceAll(a, "$(POD_NAMESPACE)", releaseNamespace))
			}
			cmd := exec.Command(bin, append(args, noKubeconfig)...)
			cmd.Env = []string{"HOME=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "kubeconfig") {
				t.Errorf("%s %s: raypilot %s: %v (want exit 1 at the kubeconfig)\n%s", name, d.deployment, strings.Join(args, " "), err, out)
			}
			if strings.Contains(string(out), "deprecated") {
				t.Errorf("%s %s: the chart passes a deprecated flag:\n%s", name, d.deployment, out)
			}
		}
	}
}

// TestMemoryLimitReachesBinary: both containers learn their own memory
// limit from the downward API, which raypilot turns into the Go runtime's
// soft limit (cmd/raypilot/memlimit.go); without it a heap growing towards
// the limit is OOM-killed before the collector works harder.
func TestMemoryLimitReachesBinary(t *testing.T) {
	r := render(t, "raypilot")
	for _, d := range []struct{ deployment, container string }{{"raypilot-webhook", "webhook"}, {"raypilot-scaler", "scaler"}} {
		c := container(t, deployment(t, r, d.deployment), d.container)
		found := false
		for _, e := range c.Env {
			if e.Name != "RAYPILOT_MEMORY_LIMIT_BYTES" {
				continue
			}
			found = true
			ref := e.ValueFrom
			if ref == nil || ref.ResourceFieldRef == nil || ref.ResourceFieldRef.Resource != "limits.memory" ||
				(ref.ResourceFieldRef.Divisor.Value() != 0 && ref.ResourceFieldRef.Divisor.Value() != 1) {
				t.Errorf("%s: RAYPILOT_MEMORY_LIMIT_BYTES = %+v, want the container's limits.memory in bytes", d.deployment, e)
			}
		}
		if !found {
			t.Errorf("%s: no RAYPILOT_MEMORY_LIMIT_BYTES in the container's env", d.deployment)
		}
	}
}
