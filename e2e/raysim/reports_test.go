package raysim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

func report(t *testing.T, as rpcpb.AutoscalerStateServiceClient, version int64, infeasible ...map[string]float64) {
	t.Helper()
	st := &rpcpb.AutoscalingState{AutoscalerStateVersion: version}
	for _, r := range infeasible {
		st.InfeasibleResourceRequests = append(st.InfeasibleResourceRequests, &rpcpb.ResourceRequest{ResourcesBundle: r})
	}
	if _, err := as.ReportAutoscalingState(context.Background(), &rpcpb.ReportAutoscalingStateRequest{AutoscalingState: st}); err != nil {
		t.Fatal(err)
	}
}

func gcsCounters(t *testing.T, s *Sim) gcsView {
	t.Helper()
	_, body := control(t, s.Handler(), "GET", "/v1/clusters/ns/c/gcs", "")
	var v gcsView
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET gcs: %s (%v)", body, err)
	}
	return v
}

// Without the early exit the GCS publishes an error when a report grows
// the number of infeasible requests; an older report is discarded.
func TestInfeasibleReportsPublishErrors(t *testing.T) {
	s := New(nil)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	as, _ := clients(t, s, "ns", "c")
	gpu := map[string]float64{"GPU": 1}
	report(t, as, 10, gpu)      // first report with infeasible requests: published
	report(t, as, 11, gpu)      // same number: not
	report(t, as, 12, gpu, gpu) // grew: published
	report(t, as, 5, gpu, gpu, gpu)
	v := gcsCounters(t, s)
	if v.PublishedErrors != 2 || v.Reports != 4 || v.OutdatedReports != 1 || len(v.LastPublished) != 2 ||
		v.LastPublished[1].Type != "infeasible_resource_requests" || v.LastPublished[1].Infeasible != 2 {
		t.Fatalf("counters = %+v", v)
	}
	_, body := control(t, s.Handler(), "GET", "/v1/clusters/ns/c/autoscaling-state", "")
	var st struct {
		Version string `json:"autoscalerStateVersion"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Version != "12" {
		t.Errorf("cached state = %s, want version 12 (5 was outdated)", body)
	}
}

// With enable_infeasible_task_early_exit the GCS cancels the queued work of
// a reported infeasible shape and publishes nothing.
func TestInfeasibleEarlyExitCancels(t *testing.T) {
	s := New(nil)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	h := s.Handler()
	if code, body := control(t, h, "PUT", "/v1/clusters/ns/c/settings", `{"enableInfeasibleTaskEarlyExit":true}`); code != http.StatusNoContent {
		t.Fatalf("PUT settings: %d %s", code, body)
	}
	c := s.cluster("ns", "c")
	for _, it := range []*item{
		{kind: kindTask, bundles: []map[string]float64{{"GPU": 1}}, duration: time.Hour},
		{kind: kindActor, name: "gpu-actor", bundles: []map[string]float64{{"GPU": 1}}},
		{kind: kindTask, bundles: []map[string]float64{{"CPU": 1}}, duration: time.Hour}, // runs
		{kind: kindTask, bundles: []map[string]float64{{"CPU": 4}}, duration: time.Hour}, // infeasible, not reported
	} {
		_ = c.addItem(it, s.now())
	}
	as, _ := clients(t, s, "ns", "c")
	report(t, as, 1, map[string]float64{"GPU": 1})
	v := gcsCounters(t, s)
	if v.Cancelled != 2 || v.PublishedErrors != 0 || v.LastCancelled[1].Name != "gpu-actor" {
		t.Fatalf("counters = %+v, want the GPU task and actor cancelled", v)
	}
	if st := c.snapshot(s.now()); len(st.PendingResourceRequests) != 1 || st.PendingResourceRequests[0].Request.ResourcesBundle["CPU"] != 4 {
		t.Errorf("pending after the early exit = %v, want only the 4-CPU task", st.PendingResourceRequests)
	}
}

// Requests without their message are read as empty ones, as the GCS reads
// them; a resource constraint is reported back in the state.
func TestEmptyRequests(t *testing.T) {
	s := New(nil)
	as, _ := clients(t, s, "ns", "c")
	ctx := context.Background()
	if _, err := as.ReportAutoscalingState(ctx, &rpcpb.ReportAutoscalingStateRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := as.RequestClusterResourceConstraint(ctx, &rpcpb.RequestClusterResourceConstraintRequest{}); err != nil {
		t.Fatal(err)
	}
	want := &rpcpb.ClusterResourceConstraint{ResourceRequests: []*rpcpb.ResourceRequestByCount{
		{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 4}}}
	if _, err := as.RequestClusterResourceConstraint(ctx, &rpcpb.RequestClusterResourceConstraintRequest{ClusterResourceConstraint: want}); err != nil {
		t.Fatal(err)
	}
	reply, err := as.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got := reply.ClusterResourceState.ClusterResourceConstraints; len(got) != 1 || got[0].ResourceRequests[0].Count != 4 {
		t.Errorf("constraints = %v, want the last one requested", got)
	}
}
