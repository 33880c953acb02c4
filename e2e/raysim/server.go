package raysim

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// Sim holds every simulated cluster.
type Sim struct {
	mu       sync.Mutex
	clusters map[string]*cluster // by namespace/name
	now      func() time.Time
	faults   faults
	// secrets reads the Secrets a head pod's token comes from; set by Run.
	secrets secretSource
}

// New returns an empty simulator using clock now (time.Now when nil).
func New(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	return &Sim{clusters: map[string]*cluster{}, now: now}
}

// cluster returns the cluster ns/name, creating it; nil when raysim already
// keeps maxClusters clusters.
func (s *Sim) cluster(namespace, name string) *cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	c, ok := s.clusters[key]
	if !ok {
		if len(s.clusters) >= maxClusters {
			return nil
		}
		c = newCluster(namespace, name)
		s.clusters[key] = c
	}
	return c
}

// lookup returns the cluster ns/name if raysim knows it, without creating it.
func (s *Sim) lookup(namespace, name string) *cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clusters[namespace+"/"+name]
}

// SyncPods replaces the Ray pods of one cluster.
func (s *Sim) SyncPods(namespace, name string, pods []*corev1.Pod) {
	if c := s.cluster(namespace, name); c != nil {
		c.syncPods(pods, s.secretSource(), s.now())
	}
}

func (s *Sim) secretSource() secretSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.secrets
}

// Tick advances every cluster: finished tasks end, drained nodes exit,
// pending work is placed.
func (s *Sim) Tick() {
	s.mu.Lock()
	cs := make([]*cluster, 0, len(s.clusters))
	for _, c := range s.clusters {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	now := s.now()
	for _, c := range cs {
		c.tick(now)
	}
}

// lookupByAuthority is the known cluster a call's :authority names, or nil.
func (s *Sim) lookupByAuthority(md metadata.MD) *cluster {
	auth := md.Get(":authority")
	if len(auth) == 0 {
		return nil
	}
	ns, name, err := gcsfake.ParseAuthority(auth[0])
	if err != nil {
		return nil
	}
	return s.lookup(ns, name)
}

// clusterOf is the cluster a call addresses.
func (s *Sim) clusterOf(ctx context.Context) (*cluster, error) {
	ns, name, err := gcsfake.CallCluster(ctx)
	if err != nil {
		return nil, err
	}
	c := s.cluster(ns, name)
	if c == nil {
		return nil, status.Errorf(codes.ResourceExhausted, "raysim keeps at most %d clusters", maxClusters)
	}
	return c, nil
}

// GRPCServer returns a gRPC server serving, for every cluster, Ray's
// ray.rpc.autoscaler.AutoscalerStateService and the ray.rpc.NodeInfoGcsService
// calls CheckAlive and DrainNode. Cluster faults apply first, then the
// cluster's token rule.
func (s *Sim) GRPCServer() *grpc.Server {
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(s.interceptor, s.authInterceptor))
	rpcpb.RegisterAutoscalerStateServiceServer(srv, &gcsService{sim: s})
	nodeinfopb.RegisterNodeInfoGcsServiceServer(srv, &nodeInfoService{sim: s})
	return srv
}
