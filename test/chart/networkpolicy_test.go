package chart

import (
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// TestNetworkPolicies: off by default; on, each component's pods accept
// only their ports and reach only the API server (and, for the scaler, Ray
// heads' GCS and DNS).
func TestNetworkPolicies(t *testing.T) {
	if nps := render(t, "raypilot").ofKind("NetworkPolicy"); len(nps) != 0 {
		t.Fatalf("NetworkPolicies rendered by default")
	}
	r := render(t, "raypilot", everyValue(t)...)
	wd, sd := deployment(t, r, "raypilot-webhook"), deployment(t, r, "raypilot-scaler")
	w := as[networkingv1.NetworkPolicy](t, r.find(t, "NetworkPolicy", "raypilot-webhook"))
	s := as[networkingv1.NetworkPolicy](t, r.find(t, "NetworkPolicy", "raypilot-scaler"))
	if !labelsMatch(w.Spec.PodSelector.MatchLabels, wd.Spec.Template.Labels) || labelsMatch(w.Spec.PodSelector.MatchLabels, sd.Spec.Template.Labels) ||
		!labelsMatch(s.Spec.PodSelector.MatchLabels, sd.Spec.Template.Labels) {
		t.Errorf("NetworkPolicy pod selectors %v %v do not pick their component's pods", w.Spec.PodSelector, s.Spec.PodSelector)
	}
	for name, np := range map[string]*networkingv1.NetworkPolicy{"webhook": w, "scaler": s} {
		if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{"Ingress", "Egress"}) {
			t.Errorf("%s policyTypes %v", name, np.Spec.PolicyTypes)
		}
		api := np.Spec.Egress[0]
		if ports(api.Ports) != "TCP/6443" || len(api.To) != 2 || api.To[0].IPBlock.CIDR != "10.0.0.1/32" || api.To[1].IPBlock.CIDR != "fd00::1/128" {
			t.Errorf("%s: the first egress rule %+v is not the API server at networkPolicy.apiServer", name, api)
		}
	}
	if len(w.Spec.Ingress) != 1 || len(w.Spec.Ingress[0].From) != 0 || ports(w.Spec.Ingress[0].Ports) != "TCP/9443 TCP/8080 TCP/8081" || len(w.Spec.Egress) != 1 {
		t.Errorf("webhook: ingress %+v egress %+v: want the webhook, metrics and health ports from anywhere, egress to the API server only", w.Spec.Ingress, w.Spec.Egress)
	}
	if len(s.Spec.Ingress) != 1 || ports(s.Spec.Ingress[0].Ports) != "TCP/8080 TCP/8081" || len(s.Spec.Egress) != 3 {
		t.Fatalf("scaler: ingress %+v egress %+v", s.Spec.Ingress, s.Spec.Egress)
	}
	gcs, dns := s.Spec.Egress[1], s.Spec.Egress[2]
	if ports(gcs.Ports) != "TCP/6379 TCP/16379" || len(gcs.To) != 1 || gcs.To[0].PodSelector.MatchLabels["ray.io/node-type"] != "head" ||
		gcs.To[0].NamespaceSelector == nil || len(gcs.To[0].NamespaceSelector.MatchLabels)+len(gcs.To[0].NamespaceSelector.MatchExpressions) != 0 {
		t.Errorf("scaler GCS egress %+v: want rayGCSPorts to Ray head pods in every namespace", gcs)
	}
	if ports(dns.Ports) != "UDP/53 TCP/53" || len(dns.To) != 0 {
		t.Errorf("scaler DNS egress %+v", dns)
	}
	r = render(t, "raypilot", watchedNamespaces(t)...)
	to := as[networkingv1.NetworkPolicy](t, r.find(t, "NetworkPolicy", "raypilot-scaler")).Spec.Egress[1].To[0]
	if e := to.NamespaceSelector.MatchExpressions; len(e) != 1 || !slices.Equal(e[0].Values, watchedNamespaceNames) {
		t.Errorf("with watchNamespaces the scaler reaches Ray heads in %+v", to.NamespaceSelector)
	}
	api := as[networkingv1.NetworkPolicy](t, r.find(t, "NetworkPolicy", "raypilot-webhook")).Spec.Egress[0]
	if ports(api.Ports) != "TCP/443 TCP/6443" || len(api.To) != 0 {
		t.Errorf("default API server egress %+v: want 443 and 6443 to any address", api)
	}
}

func ports(ps []networkingv1.NetworkPolicyPort) string {
	var s []string
	for _, p := range ps {
		s = append(s, string(*p.Protocol)+"/"+p.Port.String())
	}
	return strings.Join(s, " ")
}
