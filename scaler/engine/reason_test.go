package engine

import "testing"

// Counted nouns in Event texts agree with their count: "1 pod exists",
// "2 pods exist", "1 more placement group".
func TestReasonTextGrammar(t *testing.T) {
	g := Group{MinReplicas: 0, MaxReplicas: 5, Replicas: 3}
	for _, c := range []struct{ got, want string }{
		{boundsReason(g, 1), "1 pod exists"},
		{boundsReason(g, 2), "2 pods exist"},
		{boundsReason(g, 0), "0 pods exist"},
		{plural(1, "more placement group"), "1 more placement group"},
		{plural(3, "more placement group"), "3 more placement groups"},
		{Truncation{Shapes: 0, ShapesTotal: 1, Requests: 1}.String(),
			"decided on 0 of 1 pending request shape (1 request left for later rounds): more demand than one scaling round considers"},
		{Truncation{Gangs: 1, GangsTotal: 2, Bundles: 0, BundlesTotal: 1}.String(),
			"decided on 1 of 2 placement groups, 0 of 1 request_resources bundle shape: more demand than one scaling round considers"},
		{Truncation{Replicas: 1}.String(), "1 requested worker without a pod kept as it is, not modelled as a node"},
		{Truncation{Replicas: 2}.String(), "2 requested workers without a pod kept as they are, not modelled as nodes"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
