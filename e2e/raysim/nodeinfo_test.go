package raysim

import (
	"context"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// CheckAlive reports the head image's Ray version (2.52.0 when the image
// names none) unless a test presents another; without a head there is no
// GCS to ask.
func TestCheckAliveRayVersion(t *testing.T) {
	s := New(nil)
	_, ni := clients(t, s, "ns", "c")
	if _, err := ni.CheckAlive(context.Background(), &nodeinfopb.CheckAliveRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("CheckAlive before the head pod: %v, want UNAVAILABLE", err)
	}
	head := pod("h-1", "headgroup", "head", "1")
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	reply, err := ni.CheckAlive(context.Background(), &nodeinfopb.CheckAliveRequest{})
	if err != nil || reply.RayVersion != "2.52.0" || reply.Status.GetCode() != 0 {
		t.Fatalf("CheckAlive = %v %v", reply, err)
	}
	// A new head pod is a new GCS, built as its image says.
	head2 := pod("h-2", "headgroup", "head", "1")
	head2.Spec.Containers[0].Image = "rayproject/ray:2.9.3-py311"
	s.SyncPods("ns", "c", []*corev1.Pod{head2})
	if reply, _ = ni.CheckAlive(context.Background(), &nodeinfopb.CheckAliveRequest{}); reply.RayVersion != "2.9.3" {
		t.Errorf("head image ray:2.9.3-py311: CheckAlive says %q", reply.RayVersion)
	}
	if code, body := control(t, s.Handler(), "PUT", "/v1/clusters/ns/c/settings", `{"rayVersion":"2.6.3"}`); code != http.StatusNoContent {
		t.Fatalf("PUT settings: %d %s", code, body)
	}
	if reply, _ = ni.CheckAlive(context.Background(), &nodeinfopb.CheckAliveRequest{}); reply.RayVersion != "2.6.3" {
		t.Errorf("after the setting: %q", reply.RayVersion)
	}
	for _, bad := range []string{`{"rayVersion":""}`, `{"drainWindowSeconds":-1}`, `{"firstReportDelaySeconds":7200}`, `{"bogus":1}`} {
		if code, _ := control(t, s.Handler(), "PUT", "/v1/clusters/ns/c/settings", bad); code != http.StatusBadRequest {
			t.Errorf("PUT settings %s: %d, want 400", bad, code)
		}
	}
}

// The legacy DrainNode stops Ray on every listed live node whatever runs
// there, reschedules its work, and acknowledges every listed node.
func TestLegacyDrainNodeStopsRay(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2"), pod("w-2", "g", "worker", "2"), pod("w-3", "g", "worker", "2")})
	c := s.cluster("ns", "c")
	_ = c.addItem(actor("a1", 2), clk.t)
	_ = c.addItem(&item{kind: kindTask, bundles: []map[string]float64{{"CPU": 2}}, duration: time.Hour}, clk.t)
	ids := [][]byte{nodeID("uid-w-1"), nodeID("nobody")}
	req := &nodeinfopb.DrainNodeRequest{}
	for _, id := range ids {
		req.DrainNodeData = append(req.DrainNodeData, &nodeinfopb.DrainNodeData{NodeId: id})
	}
	reply, err := (&nodeInfoService{sim: s}).DrainNode(callCtx("ns", "c"), req)
	if err != nil || reply.Status.GetCode() != 0 || len(reply.DrainNodeStatus) != 2 ||
		string(reply.DrainNodeStatus[1].NodeId) != string(ids[1]) {
		t.Fatalf("legacy DrainNode = %v %v, want both nodes acknowledged", reply, err)
	}
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Errorf("stopped node: %v, want DEAD", got)
	}
	if a := c.actorViews()[0]; a.Node != "w-3" || a.Retries != 1 || a.Preempted {
		t.Errorf("actor of the stopped node = %+v, want restarted on w-3, not marked preempted", a)
	}
	calls := c.drainRecord()
	if len(calls) != 2 || calls[0].RPC != rpcNodeInfoDrain || calls[0].Pod != "w-1" || calls[0].NodeKnown != "alive" ||
		calls[1].NodeKnown != "unknown" || calls[1].Result != drainAcknowledged {
		t.Errorf("drain record = %+v", calls)
	}
}

// A new node is RUNNING, with all of its resources available, until its
// first load report; the delay is a setting.
func TestFirstReportDelay(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	control(t, s.Handler(), "PUT", "/v1/clusters/ns/c/settings", `{"firstReportDelaySeconds":5}`)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	clk.add(4 * time.Second)
	if n := nodeByPod(s.cluster("ns", "c").snapshot(clk.t), "w-1"); n.Status != rpcpb.NodeStatus_RUNNING || n.IdleDurationMs != 0 {
		t.Fatalf("before the first report: %v", n)
	}
	clk.add(time.Second)
	if n := nodeByPod(s.cluster("ns", "c").snapshot(clk.t), "w-1"); n.Status != rpcpb.NodeStatus_IDLE || n.IdleDurationMs != 5000 {
		t.Fatalf("after the first report: %v, want IDLE for 5 s (idle since it started)", n)
	}
}
