package raysim

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Sim holds every simulated cluster.
type Sim struct {
	mu       sync.Mutex
	clusters map[string]*cluster // by namespace/name
	now      func() time.Time
	faults   faults
}

// New returns an empty simulator using clock now (time.Now when nil).
func New(now func() time.Time) *Sim {
	if now == nil {
		now = time.Now
	}
	return &Sim{clusters: map[string]*cluster{}, now: now}
}

func (s *Sim) cluster(namespace, name string) *cluster {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := namespace + "/" + name
	c, ok := s.clusters[key]
	if !ok {
		c = newCluster(namespace, name)
		s.clusters[key] = c
	}
	return c
}

// SyncPods replaces the Ray pods of one cluster.
func (s *Sim) SyncPods(namespace, name string, pods []*corev1.Pod) {
	s.cluster(namespace, name).syncPods(pods, s.now())
}

// Tick advances every cluster: finished tasks end, pending work is placed.
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

// clusterFromAuthority maps "<name>-head-svc.<namespace>.svc[...]:port" to
// the cluster.
func clusterFromAuthority(authority string) (namespace, name string, err error) {
	host := authority
	if h, _, err := net.SplitHostPort(authority); err == nil {
		host = h
	}
	parts := strings.Split(host, ".")
	if len(parts) < 2 || !strings.HasSuffix(parts[0], "-head-svc") {
		return "", "", fmt.Errorf("authority %q is not <cluster>-head-svc.<namespace>.svc:<port>", authority)
	}
	return parts[1], strings.TrimSuffix(parts[0], "-head-svc"), nil
}

type gcsService struct {
	rpcpb.UnimplementedAutoscalerStateServiceServer
	sim *Sim
}

func (g *gcsService) clusterOf(ctx context.Context) (*cluster, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get(":authority")
	if len(auth) == 0 {
		return nil, status.Error(codes.InvalidArgument, "no :authority")
	}
	ns, name, err := clusterFromAuthority(auth[0])
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	return g.sim.cluster(ns, name), nil
}

func (g *gcsService) GetClusterResourceState(ctx context.Context, _ *rpcpb.GetClusterResourceStateRequest) (*rpcpb.GetClusterResourceStateReply, error) {
	c, err := g.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	return &rpcpb.GetClusterResourceStateReply{ClusterResourceState: c.snapshot(g.sim.now())}, nil
}

func (g *gcsService) ReportAutoscalingState(ctx context.Context, req *rpcpb.ReportAutoscalingStateRequest) (*rpcpb.ReportAutoscalingStateReply, error) {
	c, err := g.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Like the GCS: an older version than the last one is ignored.
	if st := req.GetAutoscalingState(); st != nil && (c.reported == nil || st.GetAutoscalerStateVersion() >= c.reported.GetAutoscalerStateVersion()) {
		c.reported, c.reportedAt = st, g.sim.now()
	}
	return &rpcpb.ReportAutoscalingStateReply{}, nil
}

func (g *gcsService) DrainNode(ctx context.Context, req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	c, err := g.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	ok, why := c.drain(req.GetNodeId(), req.GetReason())
	return &rpcpb.DrainNodeReply{IsAccepted: ok, RejectionReasonMessage: why}, nil
}

func (g *gcsService) GetClusterStatus(ctx context.Context, _ *rpcpb.GetClusterStatusRequest) (*rpcpb.GetClusterStatusReply, error) {
	c, err := g.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	st := c.snapshot(g.sim.now())
	c.mu.Lock()
	defer c.mu.Unlock()
	return &rpcpb.GetClusterStatusReply{ClusterResourceState: st, AutoscalingState: c.reported}, nil
}

// GRPCServer returns a gRPC server serving the autoscaler API for all clusters.
func (s *Sim) GRPCServer() *grpc.Server {
	srv := grpc.NewServer(grpc.UnaryInterceptor(s.interceptor))
	rpcpb.RegisterAutoscalerStateServiceServer(srv, &gcsService{sim: s})
	return srv
}

// Demand bodies of the HTTP control API.
type (
	actorRequest struct {
		Name      string             `json:"name"`
		Resources map[string]float64 `json:"resources"`
	}
	taskRequest struct {
		Resources       map[string]float64 `json:"resources"`
		Count           int                `json:"count"`
		DurationSeconds float64            `json:"durationSeconds"`
	}
	placementGroupRequest struct {
		Name     string               `json:"name"`
		Strategy string               `json:"strategy"`
		Bundles  []map[string]float64 `json:"bundles"`
	}
)

// Handler serves the HTTP control API:
//
//	POST   /v1/clusters/{ns}/{name}/actors                {"name","resources"}
//	DELETE /v1/clusters/{ns}/{name}/actors/{actor}
//	POST   /v1/clusters/{ns}/{name}/tasks                 {"resources","count","durationSeconds"}
//	POST   /v1/clusters/{ns}/{name}/placement-groups      {"name","strategy","bundles"}
//	DELETE /v1/clusters/{ns}/{name}/placement-groups/{pg}
//	GET    /v1/clusters/{ns}/{name}/state                 ClusterResourceState as protobuf JSON
//	GET    /v1/clusters/{ns}/{name}/autoscaling-state     the last ReportAutoscalingState
//	PUT    /v1/clusters/{ns}/{name}/fault                 {"mode","seconds"}: the cluster's GCS unreachable
//	GET    /v1/clusters/{ns}/{name}/fault                 {"mode","until","failedCalls"}
//	DELETE /v1/clusters/{ns}/{name}/fault                 reachable again
//	PUT|GET|DELETE /v1/fault                              the same for every cluster's GCS
//
// A fault's mode is "stall" (calls hang until the caller's deadline, like a
// network partition) or "unavailable" (calls fail at once with UNAVAILABLE,
// like a refused connection); seconds bounds it (0: until DELETE).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	s.faultHandlers(mux)
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/actors", func(w http.ResponseWriter, r *http.Request) {
		var req actorRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Name == "" || len(req.Resources) == 0 {
			http.Error(w, "name and resources are required", http.StatusBadRequest)
			return
		}
		s.add(w, r, &item{kind: "actor", name: req.Name, bundles: []map[string]float64{req.Resources}})
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/actors/{actor}", func(w http.ResponseWriter, r *http.Request) {
		s.remove(w, r, "actor", r.PathValue("actor"))
	})
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/tasks", func(w http.ResponseWriter, r *http.Request) {
		var req taskRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Count <= 0 || len(req.Resources) == 0 {
			http.Error(w, "resources and a positive count are required", http.StatusBadRequest)
			return
		}
		tasks := make([]*item, req.Count)
		for i := range tasks {
			tasks[i] = &item{kind: "task", bundles: []map[string]float64{req.Resources},
				duration: time.Duration(req.DurationSeconds * float64(time.Second))}
		}
		_ = s.cluster(r.PathValue("ns"), r.PathValue("name")).addItems(tasks, s.now())
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/placement-groups", func(w http.ResponseWriter, r *http.Request) {
		var req placementGroupRequest
		if !decode(w, r, &req) {
			return
		}
		switch req.Strategy {
		case "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD":
		default:
			http.Error(w, "strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD", http.StatusBadRequest)
			return
		}
		if req.Name == "" || len(req.Bundles) == 0 {
			http.Error(w, "name and bundles are required", http.StatusBadRequest)
			return
		}
		s.add(w, r, &item{kind: "pg", name: req.Name, strategy: req.Strategy, bundles: req.Bundles})
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/placement-groups/{pg}", func(w http.ResponseWriter, r *http.Request) {
		s.remove(w, r, "pg", r.PathValue("pg"))
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/state", func(w http.ResponseWriter, r *http.Request) {
		st := s.cluster(r.PathValue("ns"), r.PathValue("name")).snapshot(s.now())
		writeProto(w, st)
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/autoscaling-state", func(w http.ResponseWriter, r *http.Request) {
		c := s.cluster(r.PathValue("ns"), r.PathValue("name"))
		c.mu.Lock()
		st := c.reported
		c.mu.Unlock()
		if st == nil {
			st = &rpcpb.AutoscalingState{}
		}
		writeProto(w, st)
	})
	return mux
}

func (s *Sim) add(w http.ResponseWriter, r *http.Request, it *item) {
	if err := s.cluster(r.PathValue("ns"), r.PathValue("name")).addItem(it, s.now()); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Sim) remove(w http.ResponseWriter, r *http.Request, kind, name string) {
	if !s.cluster(r.PathValue("ns"), r.PathValue("name")).removeItem(kind, name, s.now()) {
		http.Error(w, kind+" not found", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func decode(w http.ResponseWriter, r *http.Request, into any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	data, err := protojson.Marshal(m)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(data)
}
