package chart

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	authzv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// can asks the API server's RBAC authorizer (a SubjectAccessReview, what
// `kubectl auth can-i --as` sends) whether ServiceAccount sa of the release
// namespace may do verb on resource ("plural.group" or "plural",
// optionally "/name", or "/subresource/name") in namespace ns ("" =
// cluster scope).
func can(t *testing.T, sa, verb, resource, ns string) bool {
	t.Helper()
	attrs := &authzv1.ResourceAttributes{Namespace: ns, Verb: verb}
	resource, attrs.Name, _ = strings.Cut(resource, "/")
	attrs.Resource, attrs.Group, _ = strings.Cut(resource, ".")
	if attrs.Resource == "pods" && attrs.Name == "eviction" {
		attrs.Subresource, attrs.Name = "eviction", ""
	}
	if sub, name, ok := strings.Cut(attrs.Name, "/"); ok {
		attrs.Subresource, attrs.Name = sub, name
	}
	review := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:               fmt.Sprintf("system:serviceaccount:%s:%s", releaseNamespace, sa),
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
		ResourceAttributes: attrs,
	}}
	got, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview %+v: %v", attrs, err)
	}
	return got.Status.Allowed
}

// applyRBAC creates (or updates) the ServiceAccounts, roles and bindings the
// chart renders with flags, for real.
func applyRBAC(t *testing.T, release string, flags ...string) rendered {
	t.Helper()
	r := render(t, release, flags...)
	var objs []*unstructured.Unstructured
	for _, o := range r.objs {
		if slices.Contains([]string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"}, o.GetKind()) {
			objs = append(objs, o)
		}
	}
	if out, err := kubectl(yamlOf(t, objs), "apply", "-f", "-"); err != nil {
		t.Fatalf("apply RBAC: %v\n%s", err, out)
	}
	return r
}

type access struct {
	verb, resource, ns string
	want               bool
}

func checkAccess(t *testing.T, sa string, cases []access) {
	t.Helper()
	for _, c := range cases {
		if got := can(t, sa, c.verb, c.resource, c.ns); got != c.want {
			t.Errorf("%s: can %s %s in %q = %v, want %v", sa, c.verb, c.resource, c.ns, got, c.want)
		}
	}
}

// TestRBACLeastPrivilege installs the chart's RBAC for real and asks the API
// server's authorizer what each ServiceAccount may do.
func TestRBACLeastPrivilege(t *testing.T) {
	const release = "rbac" // objects rbac-raypilot-*, apart from the install test's
	scaler, webhook, rayClient := "rbac-raypilot-scaler", "rbac-raypilot-webhook", "rbac-raypilot-ray-client"
	ns := releaseNamespace
	t.Cleanup(func() { deleteRendered(t, render(t, release, allOptional...)) })

	applyRBAC(t, release)
	checkAccess(t, scaler, []access{
		{"list", "rayclusters.ray.io", "", true},
		{"watch", "rayclusters.ray.io", "", true},
		{"patch", "rayclusters.ray.io", "team-a", true},
		{"update", "rayclusters.ray.io", "team-a", false},
		{"delete", "rayclusters.ray.io", "team-a", false},
		{"create", "rayclusters.ray.io", "team-a", false},
		{"list", "pods", "", true},
		{"watch", "pods", "", true},
		{"delete", "pods", "team-a", false},
		{"deletecollection", "pods", "team-a", false},
		{"create", "pods", "team-a", false},
		{"patch", "pods", "team-a", false},
		{"create", "pods/eviction", "team-a", false},
		{"get", "secrets", "team-a", false},
		{"list", "secrets", "", false},
		{"create", "events.events.k8s.io", "team-a", true},
		{"patch", "events.events.k8s.io", "team-a", true},
		// Sharding: its member Lease (named by a hash of its identity) and
		// the others', in the release namespace only, listed but not watched.
		{"create", "leases.coordination.k8s.io", ns, true},
		{"list", "leases.coordination.k8s.io", ns, true},
		{"update", "leases.coordination.k8s.io/raypilot-scaler-0a1b2c3d", ns, true},
		{"delete", "leases.coordination.k8s.io/raypilot-scaler-0a1b2c3d", ns, true},
		{"watch", "leases.coordination.k8s.io", ns, false},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", "kube-system", false},
		{"list", "leases.coordination.k8s.io", "kube-system", false},
		{"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io/rbac-raypilot", "", false},
		// The policy ConfigMap's UID, for the policy reload Events on it.
		{"get", "configmaps/rbac-raypilot-policy", ns, true},
		{"get", "configmaps/some-other-configmap", ns, false},
		{"get", "configmaps", "team-a", false},
		{"list", "configmaps", ns, false},
		{"update", "configmaps/rbac-raypilot-policy", ns, false},
		// Never a Ray user itself (its own token never goes to a GCS), and
		// Ray's Kubernetes token authentication is off by default.
		{"ray:write", "rayclusters.ray.io", "team-a", false},
		{"ray-user", "rayclusters.ray.io", "team-a", false},
		{"create", "serviceaccounts/token/rbac-raypilot-ray-client", ns, false},
	})
	checkAccess(t, rayClient, []access{
		{"ray:write", "rayclusters.ray.io", "team-a", false},
	})
	checkAccess(t, webhook, []access{
		{"list", "computetemplates.raypilot.io", "", true},
		{"watch", "clustercomputetemplates.raypilot.io", "", true},
		{"get", "computetemplates.raypilot.io", "team-a", true},
		{"get", "clustercomputetemplates.raypilot.io", "", true},
		{"get", "configmaps", "team-a", true},
		{"create", "computetemplates.raypilot.io", "team-a", false},
		{"list", "configmaps", "", true},
		{"update", "configmaps", "team-a", false},
		{"create", "rayclusters.ray.io", "team-a", false},
		{"update", "rayclusters.ray.io", "team-a", false},
		{"patch", "rayclusters.ray.io", "team-a", false},
		{"delete", "rayclusters.ray.io", "team-a", false},
		{"patch", "rayjobs.ray.io", "team-a", false},
		{"create", "pods", "team-a", false},
		{"patch", "pods", "team-a", false},
		{"delete", "pods", "team-a", false},
		{"get", "secrets", "team-a", false},
		{"get", "secrets/rbac-raypilot-webhook-tls", ns, true},
		{"update", "secrets/rbac-raypilot-webhook-tls", ns, true},
		{"get", "secrets/some-other-secret", ns, false},
		{"update", "secrets/some-other-secret", ns, false},
		{"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io/rbac-raypilot", "", true},
		{"update", "validatingwebhookconfigurations.admissionregistration.k8s.io/rbac-raypilot", "", true},
		{"patch", "validatingwebhookconfigurations.admissionregistration.k8s.io/rbac-raypilot", "", false},
		{"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io/someone-elses", "", false},
		{"delete", "mutatingwebhookconfigurations.admissionregistration.k8s.io/rbac-raypilot", "", false},
		{"create", "mutatingwebhookconfigurations.admissionregistration.k8s.io", "", false},
		{"update", "leases.coordination.k8s.io/rbac-raypilot-webhook-tls-writer", ns, true},
		{"create", "events", ns, false},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", ns, false},
		// Policy reload Events on the policy ConfigMap, in the release
		// namespace only; the ConfigMap is read, never written.
		{"create", "events.events.k8s.io", ns, true},
		{"patch", "events.events.k8s.io", ns, true},
		{"create", "events.events.k8s.io", "team-a", false},
		{"get", "configmaps/rbac-raypilot-policy", ns, true},
		{"update", "configmaps/rbac-raypilot-policy", ns, false},
		{"patch", "configmaps/rbac-raypilot-policy", ns, false},
	})

	// Secret reads for Ray's auth token only when asked for; still no delete.
	applyRBAC(t, release, "--set", "scaler.rayAuthTokenSecrets=true")
	checkAccess(t, scaler, []access{
		{"get", "secrets", "team-a", true},
		{"list", "secrets", "team-a", false},
		{"watch", "secrets", "", false},
		{"delete", "pods", "team-a", false},
	})

	// Ray's Kubernetes token authentication: the scaler may create tokens of
	// the Ray client ServiceAccount, and of no other (its own included);
	// the Ray client may be a Ray user of any RayCluster and do nothing
	// else.
	applyRBAC(t, release, "--set", "scaler.rayKubernetesAuth.enabled=true")
	checkAccess(t, scaler, []access{
		{"create", "serviceaccounts/token/rbac-raypilot-ray-client", ns, true},
		{"create", "serviceaccounts/token/rbac-raypilot-scaler", ns, false},
		{"create", "serviceaccounts/token/rbac-raypilot-webhook", ns, false},
		{"create", "serviceaccounts/token/default", ns, false},
		{"create", "serviceaccounts/token/rbac-raypilot-ray-client", "team-a", false},
		{"create", "serviceaccounts/token", "team-a", false},
		{"get", "serviceaccounts/rbac-raypilot-ray-client", ns, false},
		{"update", "serviceaccounts/rbac-raypilot-ray-client", ns, false},
		{"ray:write", "rayclusters.ray.io", "team-a", false},
		{"ray-user", "rayclusters.ray.io", "team-a", false},
		{"get", "secrets", "team-a", false},
	})
	checkAccess(t, rayClient, []access{
		{"ray:write", "rayclusters.ray.io/some-cluster", "team-a", true},
		{"ray-user", "rayclusters.ray.io/some-cluster", "team-a", true},
		{"ray:write", "rayclusters.ray.io", "", true},
		{"ray:write", "rayjobs.ray.io", "team-a", false},
		{"get", "rayclusters.ray.io", "team-a", false},
		{"list", "rayclusters.ray.io", "", false},
		{"patch", "rayclusters.ray.io", "team-a", false},
		{"update", "rayclusters.ray.io", "team-a", false},
		{"get", "secrets", "team-a", false},
		{"list", "pods", "", false},
		{"create", "pods/exec", "team-a", false},
		{"create", "serviceaccounts/token/rbac-raypilot-scaler", ns, false},
		{"create", "serviceaccounts/token/rbac-raypilot-ray-client", ns, false},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", ns, false},
		{"create", "events.events.k8s.io", "team-a", false},
	})
	r := render(t, release, "--set", "scaler.rayKubernetesAuth.enabled=true")
	for _, rule := range clusterRole(t, r, rayClient).Rules {
		for _, v := range rule.Verbs {
			if v != "ray:write" && v != "ray-user" {
				t.Errorf("the Ray client ClusterRole grants %q: it must grant only Ray's custom verbs: %s", v, ruleString(rule))
			}
		}
	}
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		for _, o := range r.ofKind(kind) {
			for _, subject := range as[rbacv1.ClusterRoleBinding](t, o).Subjects {
				if subject.Name == rayClient && o.GetName() != rayClient {
					t.Errorf("%s %s binds the Ray client ServiceAccount", kind, o.GetName())
				}
			}
		}
	}

	// Static checks over every rendering: none of the chart's
	// ServiceAccounts gets delete or wildcards (the roles aggregated into
	// Kubernetes' edit and view are for people; TestAggregatedClusterRoles
	// checks them), but the sharded scaler's delete of Leases in the release
	// namespace: its own member Lease at exit, a killed replica's once
	// expired.
	for name, flags := range map[string][]string{"defaults": nil, "all optional": allOptional, "every value": everyValue(t), "watched namespaces": watchedNamespaces(t)} {
		r := render(t, release, flags...)
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, o := range r.ofKind(kind) {
				if aggregated(o.GetLabels()) {
					continue
				}
				for _, rule := range o.Object["rules"].([]any) {
					m := rule.(map[string]any)
					leases := kind == "Role" && o.GetName() == scaler && fmt.Sprint(m["resources"]) == "[leases]"
					for _, field := range []string{"verbs", "resources", "apiGroups"} {
						for _, v := range m[field].([]any) {
							if v == "*" || (v == "delete" && !leases) || v == "deletecollection" || v == "escalate" || v == "bind" || v == "impersonate" {
								t.Errorf("%s: %s %s has %s %q", name, kind, o.GetName(), field, v)
							}
						}
					}
				}
			}
		}
	}

	// cert-manager: the webhook writes nothing but policy reload Events.
	r = render(t, release, allOptional...)
	if role := r.lookup("Role", webhook); role == nil {
		t.Errorf("cert-manager mode renders no Role for the webhook's policy reload Events")
	} else {
		for _, rule := range as[rbacv1.Role](t, role).Rules {
			if !slices.Equal(rule.Resources, []string{"events"}) && !(slices.Equal(rule.Resources, []string{"configmaps"}) && slices.Equal(rule.Verbs, []string{"get"})) {
				t.Errorf("cert-manager mode: the webhook Role grants what it does not use: %s", ruleString(rule))
			}
		}
	}
	for _, rule := range clusterRole(t, r, webhook).Rules {
		if slices.Contains(rule.APIGroups, "admissionregistration.k8s.io") {
			t.Errorf("cert-manager mode: the webhook may write its configurations: %s", ruleString(rule))
		}
	}
}

// deleteRendered deletes the objects of a rendering, ignoring absent ones.
func deleteRendered(t *testing.T, r rendered) {
	if out, err := kubectl(yamlOf(t, r.objs), "delete", "--ignore-not-found", "--wait=false", "-f", "-"); err != nil {
		t.Logf("cleanup: %v\n%s", err, out)
	}
}

// aggregated reports whether a ClusterRole is folded into Kubernetes'
// built-in roles (for people, not for the chart's ServiceAccounts).
func aggregated(labels map[string]string) bool {
	for k := range labels {
		if strings.HasPrefix(k, "rbac.authorization.k8s.io/aggregate-to-") {
			return true
		}
	}
	return false
}

// TestRBACLeaderElection: with scaler.sharding.enabled=false the scaler may
// renew its one Lease by name, and no other Lease.
func TestRBACLeaderElection(t *testing.T) {
	const release = "rble" // objects rble-raypilot-*, apart from the other tests'
	ns := releaseNamespace
	flags := []string{"--set", "scaler.sharding.enabled=false"}
	t.Cleanup(func() { deleteRendered(t, render(t, release, flags...)) })
	applyRBAC(t, release, flags...)
	checkAccess(t, "rble-raypilot-scaler", []access{
		{"create", "leases.coordination.k8s.io", ns, true},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", ns, true},
		{"update", "leases.coordination.k8s.io/kube-scheduler", ns, false},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", "kube-system", false},
		{"list", "leases.coordination.k8s.io", ns, false},
		{"delete", "leases.coordination.k8s.io/raypilot-scaler", ns, false},
	})
}

// TestRBACWatchNamespaces: with watchNamespaces, the API server's authorizer
// grants the components their namespaced rights in those namespaces only,
// keeps the cluster-scoped ones, and leaves no ConfigMap rights with
// ConfigMap templates off.
func TestRBACWatchNamespaces(t *testing.T) {
	const release = "watch" // objects watch-raypilot-*, apart from the other tests'
	scaler, webhook, rayClient := "watch-raypilot-scaler", "watch-raypilot-webhook", "watch-raypilot-ray-client"
	ns := releaseNamespace
	createNamespaces(t, watchedNamespaceNames...)
	flags := watchedNamespaces(t)
	t.Cleanup(func() { deleteRendered(t, render(t, release, flags...)) })
	r := applyRBAC(t, release, flags...)
	for _, o := range r.ofKind("ClusterRole") {
		if !aggregated(o.GetLabels()) && o.GetName() != webhook {
			t.Errorf("watchNamespaces: ClusterRole %s rendered; only the webhook's cluster-scoped rights need one", o.GetName())
		}
	}
	checkAccess(t, scaler, []access{
		{"list", "rayclusters.ray.io", "team-a", true},
		{"watch", "rayclusters.ray.io", "team-b", true},
		{"patch", "rayclusters.ray.io", "team-a", true},
		{"list", "rayclusters.ray.io", "", false},
		{"list", "rayclusters.ray.io", "team-c", false},
		{"patch", "rayclusters.ray.io", "team-c", false},
		{"list", "pods", "team-a", true},
		{"list", "pods", "", false},
		{"create", "events.events.k8s.io", "team-a", true},
		{"create", "events.events.k8s.io", "team-c", false},
		// Policy reload Events on the policy ConfigMap, and its Lease.
		{"create", "events.events.k8s.io", ns, true},
		{"get", "configmaps/watch-raypilot-policy", ns, true},
		{"update", "leases.coordination.k8s.io/raypilot-scaler", ns, true},
		{"get", "secrets", "team-a", true},
		{"get", "secrets", "team-c", false},
		{"create", "serviceaccounts/token/watch-raypilot-ray-client", ns, true},
	})
	checkAccess(t, webhook, []access{
		{"list", "computetemplates.raypilot.io", "team-a", true},
		{"get", "computetemplates.raypilot.io", "team-b", true},
		{"list", "computetemplates.raypilot.io", "", false},
		{"list", "computetemplates.raypilot.io", "team-c", false},
		{"list", "clustercomputetemplates.raypilot.io", "", true},
		// ConfigMap templates are off: no ConfigMap reads but the policy's.
		{"list", "configmaps", "team-a", false},
		{"list", "configmaps", "", false},
		{"get", "configmaps/watch-raypilot-policy", ns, true},
		{"update", "mutatingwebhookconfigurations.admissionregistration.k8s.io/watch-raypilot", "", true},
		{"update", "secrets/watch-raypilot-webhook-tls", ns, true},
	})
	checkAccess(t, rayClient, []access{
		{"ray:write", "rayclusters.ray.io/some-cluster", "team-a", true},
		{"ray:write", "rayclusters.ray.io/some-cluster", "team-c", false},
		{"ray:write", "rayclusters.ray.io", "", false},
	})

	// ConfigMap templates on: read there, still not cluster-wide.
	applyRBAC(t, release, "--set", "watchNamespaces={team-a}")
	checkAccess(t, webhook, []access{
		{"list", "configmaps", "team-a", true},
		{"get", "configmaps", "team-a", true},
		{"list", "configmaps", "", false},
		{"list", "configmaps", "team-c", false},
	})
}
