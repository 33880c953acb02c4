package chart

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestInstallUpgradeUninstall runs a real release against the API server:
// while no webhook answers, Ray objects are refused outside the excluded
// namespaces (failurePolicy Fail); an injected CA bundle survives
// `helm upgrade` (the chart never renders one); a policy change reaches the
// ConfigMap; `helm uninstall` removes everything it created and keeps the
// CRDs, the compute templates and the RayClusters.
func TestInstallUpgradeUninstall(t *testing.T) {
	const release = "raypilot"
	// A RayCluster from before the install: helm must never own or delete it.
	if out, err := kubectl([]byte(rayCluster("before-install", "default")), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := helm("install", release, chartDir, "--namespace", releaseNamespace)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	t.Logf("helm install:\n%s", out)
	for _, want := range []string{"TLS:    self-managed (Secret raypilot-webhook-tls", "failurePolicy mutating=Fail validating=Fail, timeout 3s",
		`namespaces excluded: ["kube-system","raypilot"]`, "all active, each scaling its share of the clusters (Leases labelled raypilot.io/scaler-shards=raypilot-scaler)"} {
		if !strings.Contains(out, want) {
			t.Errorf("NOTES do not say %q", want)
		}
	}
	uninstalled := false
	t.Cleanup(func() {
		if !uninstalled {
			_, _ = helm("uninstall", release, "--namespace", releaseNamespace)
		}
	})

	// No webhook pod runs here (no kubelet): Ray objects are refused...
	out, err = kubectl([]byte(rayCluster("while-down", "default")), "create", "-f", "-")
	if err == nil || !strings.Contains(out, `failed calling webhook "expand.raypilot.io"`) {
		t.Errorf("a RayCluster was admitted with the webhook down (failurePolicy Fail): %v\n%s", err, out)
	}
	// ...except in the release namespace, which the webhook never sees.
	if out, err := kubectl([]byte(rayCluster("in-release-ns", releaseNamespace)), "create", "-f", "-"); err != nil {
		t.Errorf("a RayCluster in the excluded release namespace was refused: %v\n%s", err, out)
	}
	// And a ComputeTemplate (not matched) is created fine.
	ct := "apiVersion: raypilot.io/v1alpha1\nkind: ComputeTemplate\nmetadata: {name: default-template, namespace: default}\nspec: {cpu: \"2\", memory: 4Gi}\n"
	if out, err := kubectl([]byte(ct), "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}

	// The self-managed controller injects the CA bundle; simulate it.
	bundle := base64.StdEncoding.EncodeToString([]byte("-----BEGIN CERTIFICATE-----\nMIIBinjected\n-----END CERTIFICATE-----\n"))
	for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
		patch := fmt.Sprintf(`[{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":%q}]`, bundle)
		if out, err := kubectl(nil, "patch", kind, release, "--type=json", "-p", patch); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	if out, err := helm("upgrade", release, chartDir, "--namespace", releaseNamespace, "--reuse-values",
		"--set", "policy.limits.maxReplicasPerGroup=10", "--set", "webhook.timeoutSeconds=2"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
		out, err := kubectl(nil, "get", kind, release, "-o", "json")
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var cfg struct {
			Webhooks []struct {
				ClientConfig   struct{ CABundle string }
				TimeoutSeconds int
			}
		}
		if err := json.Unmarshal([]byte(out), &cfg); err != nil {
			t.Fatal(err)
		}
		if got := cfg.Webhooks[0].ClientConfig.CABundle; got != bundle {
			t.Errorf("%s: helm upgrade changed the injected caBundle to %q", kind, got)
		}
		if cfg.Webhooks[0].TimeoutSeconds != 2 {
			t.Errorf("%s: upgrade did not apply timeoutSeconds: %d", kind, cfg.Webhooks[0].TimeoutSeconds)
		}
	}
	policy, err := kubectl(nil, "get", "configmap", "raypilot-policy", "-n", releaseNamespace, "-o", `jsonpath={.data.policy\.yaml}`)
	if err != nil || !strings.Contains(policy, "maxReplicasPerGroup: 10") {
		t.Errorf("policy change not in the ConfigMap: %v\n%s", err, policy)
	}

	if out, err := helm("uninstall", release, "--namespace", releaseNamespace, "--wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	uninstalled = true
	left, err := kubectl(nil, "get",
		"deployments,services,configmaps,serviceaccounts,roles,rolebindings,poddisruptionbudgets,clusterroles,clusterrolebindings,mutatingwebhookconfigurations,validatingwebhookconfigurations",
		"--all-namespaces", "-l", "app.kubernetes.io/instance="+release, "-o", "name")
	if err != nil || strings.TrimSpace(left) != "" {
		t.Errorf("helm uninstall left objects behind: %v\n%s", err, left)
	}
	for _, keep := range [][]string{
		{"crd", "computetemplates.raypilot.io"}, {"crd", "clustercomputetemplates.raypilot.io"},
		{"computetemplate", "default-template", "-n", "default"},
		{"raycluster", "before-install", "-n", "default"}, {"raycluster", "in-release-ns", "-n", releaseNamespace},
	} {
		if out, err := kubectl(nil, append([]string{"get"}, keep...)...); err != nil {
			t.Errorf("%s gone after helm uninstall: %v\n%s", strings.Join(keep, " "), err, out)
		}
	}
	// With the webhook configurations gone, Ray objects are admitted again.
	if out, err := kubectl([]byte(rayCluster("after-uninstall", "default")), "create", "-f", "-"); err != nil {
		t.Errorf("RayCluster refused after uninstall: %v\n%s", err, out)
	}
}

// rayCluster is a complete (not compact) RayCluster the CRD accepts.
func rayCluster(name, namespace string) string {
	return fmt.Sprintf(`apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: %s, namespace: %s}
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: rayproject/ray:2.9.0}]
`, name, namespace)
}
