package main

import (
	"context"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// fakeGCS serves Ray's AutoscalerStateService for every cluster on one
// loopback listener, routing by the :authority the scaler sends through
// --gcs-proxy-address ("<cluster>-head-svc.<ns>.svc:6379"). Each cluster is
// a head node (num-cpus 0) plus whatever demand the benchmark posts; it
// counts the calls and the gaps between two reads of the same cluster.
type fakeGCS struct {
	rpcpb.UnimplementedAutoscalerStateServiceServer

	addr     string // host:port of the listener
	mu       sync.RWMutex
	clusters map[string]*fakeCluster // by namespace/name

	window  atomic.Pointer[window]
	unknown atomic.Int64
	reports atomic.Int64
	drains  atomic.Int64

	gapMu sync.Mutex
	gaps  []time.Duration
}

// window is the measured interval: only reads inside it count.
type window struct{ start, end time.Time }

func (w *window) in(t time.Time) bool { return w != nil && !t.Before(w.start) && t.Before(w.end) }

type fakeCluster struct {
	key  string // namespace/name
	head *rpcpb.NodeState

	mu      sync.Mutex
	version int64
	// demandAt is when the pending request was posted (zero: none);
	// seenAt is the first read that returned it.
	demandAt, seenAt time.Time
	calls            int64 // reads since start
	windowCalls      int64 // reads inside the window
	last             time.Time
	// firstAfter is the first read after mark (shards: a replica killed).
	mark, firstAfter time.Time
}

func newFakeGCS() *fakeGCS { return &fakeGCS{clusters: map[string]*fakeCluster{}} }

// add registers a cluster whose head pod has the given name and IP.
func (g *fakeGCS) add(namespace, name, headPod, ip string) *fakeCluster {
	id := sha256.Sum256([]byte(namespace + "/" + headPod))
	c := &fakeCluster{key: namespace + "/" + name, version: 1, head: gcsfake.HeadNode(id[:28], headPod, ip)}
	g.mu.Lock()
	g.clusters[c.key] = c
	g.mu.Unlock()
	return c
}

// serve starts serving on a free loopback port; the caller stops the server.
func (g *fakeGCS) serve() (*grpc.Server, error) {
	srv := grpc.NewServer()
	rpcpb.RegisterAutoscalerStateServiceServer(srv, g)
	(&gcsfake.NodeInfo{}).Register(srv)
	addr, err := gcsfake.Serve(srv, "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	g.addr = addr
	return srv, nil
}

// clusterOf is the cluster a call addresses; a call to no known cluster is
// counted as unknown.
func (g *fakeGCS) clusterOf(ctx context.Context) (*fakeCluster, error) {
	ns, name, err := gcsfake.CallCluster(ctx)
	var c *fakeCluster
	if err == nil {
		g.mu.RLock()
		c = g.clusters[ns+"/"+name]
		g.mu.RUnlock()
		if c == nil {
			err = status.Errorf(codes.NotFound, "no cluster %s/%s", ns, name)
		}
	}
	if err != nil {
		g.unknown.Add(1)
		return nil, err
	}
	return c, nil
}

// GetClusterResourceState implements the GCS read the scaler makes every round.
func (g *fakeGCS) GetClusterResourceState(ctx context.Context, _ *rpcpb.GetClusterResourceStateRequest) (*rpcpb.GetClusterResourceStateReply, error) {
	c, err := g.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	w := g.window.Load()
	c.mu.Lock()
	c.calls++
	var gap time.Duration
	if w.in(now) {
		c.windowCalls++
		if w.in(c.last) {
			gap = now.Sub(c.last)
		}
	}
	c.last = now
	// Ray's GCS counts its reads (IncrementAndGetNextClusterResourceStateVersion),
	// which tells the scaler the GCS is the one it reported to.
	c.version++
	if !c.mark.IsZero() && c.firstAfter.IsZero() && now.After(c.mark) {
		c.firstAfter = now
	}
	st := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: c.version,
		ClusterSessionName:          "session_scalercap",
		NodeStates:                  []*rpcpb.NodeState{c.head},
	}
	if !c.demandAt.IsZero() {
		if c.seenAt.IsZero() {
			c.seenAt = now
		}
		st.PendingResourceRequests = []*rpcpb.ResourceRequestByCount{{
			Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 1,
		}}
	}
	c.mu.Unlock()
	if gap > 0 {
		g.gapMu.Lock()
		g.gaps = append(g.gaps, gap)
		g.gapMu.Unlock()
	}
	return &rpcpb.GetClusterResourceStateReply{ClusterResourceState: st}, nil
}

// ReportAutoscalingState accepts the scaler's report.
func (g *fakeGCS) ReportAutoscalingState(ctx context.Context, _ *rpcpb.ReportAutoscalingStateRequest) (*rpcpb.ReportAutoscalingStateReply, error) {
	if _, err := g.clusterOf(ctx); err != nil {
		return nil, err
	}
	g.reports.Add(1)
	return &rpcpb.ReportAutoscalingStateReply{}, nil
}

// DrainNode accepts, as a raylet does for an idle node.
func (g *fakeGCS) DrainNode(ctx context.Context, _ *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	if _, err := g.clusterOf(ctx); err != nil {
		return nil, err
	}
	g.drains.Add(1)
	return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
}

// post makes one pending {CPU: 1} request appear (now) or go away.
func (c *fakeCluster) post(on bool) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.version++
	if on {
		c.demandAt, c.seenAt = now, time.Time{}
	} else {
		c.demandAt = time.Time{}
	}
	return now
}

func (c *fakeCluster) seen() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seenAt
}

// startWindow begins counting reads; the previous window's gaps are dropped.
func (g *fakeGCS) startWindow(d time.Duration) {
	g.gapMu.Lock()
	g.gaps = nil
	g.gapMu.Unlock()
	g.mu.RLock()
	for _, c := range g.clusters {
		c.mu.Lock()
		c.windowCalls = 0
		c.mu.Unlock()
	}
	g.mu.RUnlock()
	now := time.Now()
	g.window.Store(&window{start: now, end: now.Add(d)})
}

// readsAtLeast reports whether every cluster in keys was read n times.
func (g *fakeGCS) readsAtLeast(keys []*fakeCluster, n int64) (int, bool) {
	done := 0
	for _, c := range keys {
		c.mu.Lock()
		if c.calls >= n {
			done++
		}
		c.mu.Unlock()
	}
	return done, done == len(keys)
}
