package chart

import (
	"strings"
	"testing"
)

// singleCall is the single-call mode: no validating webhook configuration,
// the mutating webhook checks its own result.
var singleCall = []string{"--set", "webhook.validating.enabled=false"}

// TestSingleCallRender: webhook.validating.enabled=false renders no
// ValidatingWebhookConfiguration, passes the webhook --single-call and no
// validating configuration to inject a CA bundle into; the default renders
// the validating configuration and neither flag change.
func TestSingleCallRender(t *testing.T) {
	for _, tc := range []struct {
		name       string
		flags      []string
		validating bool
	}{{"default", nil, true}, {"single call", singleCall, false}, {"single call with cert-manager", append(append([]string{}, singleCall...), allOptional...), false}} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, "raypilot", tc.flags...)
			mutating(t, r, "raypilot")
			if got := r.lookup("ValidatingWebhookConfiguration", "raypilot") != nil; got != tc.validating {
				t.Errorf("ValidatingWebhookConfiguration rendered: %v, want %v", got, tc.validating)
			}
			args := container(t, deployment(t, r, "raypilot-webhook"), "webhook").Args
			if _, single := flagValue(args, "single-call"); single == tc.validating {
				t.Errorf("--single-call passed: %v, want %v (args %v)", single, !tc.validating, args)
			}
			_, selfManaged := flagValue(args, "mutating-webhook-configuration")
			if _, v := flagValue(args, "validating-webhook-configuration"); v != (tc.validating && selfManaged) {
				t.Errorf("--validating-webhook-configuration passed: %v, want %v (args %v)", v, tc.validating && selfManaged, args)
			}
		})
	}
}

// TestSingleCallUpgrade: switching an installed release to the single-call
// mode with `helm upgrade` removes its ValidatingWebhookConfiguration and
// keeps the mutating one; switching back restores it. The real API server
// accepts each step (a Ray object is then refused by the mutating webhook
// alone, which no pod serves here).
func TestSingleCallUpgrade(t *testing.T) {
	const release = "raypilot-single"
	if out, err := helm("install", release, chartDir, "--namespace", releaseNamespace); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = helm("uninstall", release, "--namespace", releaseNamespace, "--wait") })
	has := func(kind string) bool {
		out, err := kubectl(nil, "get", kind, "-l", "app.kubernetes.io/instance="+release, "-o", "name")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return strings.TrimSpace(out) != ""
	}
	steps := []struct {
		flags      []string
		validating bool
		notes      string
	}{
		{singleCall, false, "failurePolicy mutating=Fail (single call: no validating webhook, the mutating one checks its result), timeout 3s"},
		{[]string{"--set", "webhook.validating.enabled=true"}, true, "failurePolicy mutating=Fail validating=Fail, timeout 3s"},
	}
	for _, s := range steps {
		out, err := helm(append([]string{"upgrade", release, chartDir, "--namespace", releaseNamespace, "--reuse-values"}, s.flags...)...)
		if err != nil {
			t.Fatalf("helm upgrade %v: %v\n%s", s.flags, err, out)
		}
		if !strings.Contains(out, s.notes) {
			t.Errorf("helm upgrade %v: NOTES do not say %q:\n%s", s.flags, s.notes, out)
		}
		if !has("mutatingwebhookconfigurations") {
			t.Errorf("helm upgrade %v: no MutatingWebhookConfiguration left", s.flags)
		}
		if got := has("validatingwebhookconfigurations"); got != s.validating {
			t.Errorf("helm upgrade %v: ValidatingWebhookConfiguration present %v, want %v", s.flags, got, s.validating)
		}
	}
}
