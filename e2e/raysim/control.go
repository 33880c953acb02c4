package raysim

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Demand bodies of the HTTP control API. A labelSelector is Ray's
// label_selector map ({"key": "value" | "!value" | "in(a,b)" | "!in(a,b)"}).
type (
	actorRequest struct {
		Name          string             `json:"name"`
		Resources     map[string]float64 `json:"resources"`
		LabelSelector map[string]string  `json:"labelSelector"`
	}
	taskRequest struct {
		Resources       map[string]float64 `json:"resources"`
		Count           int                `json:"count"`
		DurationSeconds float64            `json:"durationSeconds"`
		LabelSelector   map[string]string  `json:"labelSelector"`
	}
	// placementGroupRequest is ray.util.placement_group(bundles, strategy,
	// bundle_label_selector=...): one selector per bundle, or none.
	placementGroupRequest struct {
		Name                 string               `json:"name"`
		Strategy             string               `json:"strategy"`
		Bundles              []map[string]float64 `json:"bundles"`
		BundleLabelSelectors []map[string]string  `json:"bundleLabelSelectors"`
	}
)

// Handler serves the HTTP control API. Demand:
//
//	POST   /v1/clusters/{ns}/{name}/actors                {"name","resources","labelSelector"}
//	GET    /v1/clusters/{ns}/{name}/actors                each actor: node, preempted, retries
//	DELETE /v1/clusters/{ns}/{name}/actors/{actor}
//	POST   /v1/clusters/{ns}/{name}/tasks                 {"resources","count","durationSeconds","labelSelector"}
//	POST   /v1/clusters/{ns}/{name}/placement-groups      {"name","strategy","bundles","bundleLabelSelectors"}
//	GET    /v1/clusters/{ns}/{name}/placement-groups      each group: id, state, bundles' nodes
//	DELETE /v1/clusters/{ns}/{name}/placement-groups/{pg}
//
// What the GCS shows and did:
//
//	GET    /v1/clusters/{ns}/{name}/state                 ClusterResourceState as protobuf JSON (not counted as a GCS call)
//	GET    /v1/clusters/{ns}/{name}/autoscaling-state     the cached ReportAutoscalingState
//	GET    /v1/clusters/{ns}/{name}/nodes                 raysim's node table, dead nodes with why they died
//	GET    /v1/clusters/{ns}/{name}/gcs                   counters: version-check failures, outdated reports, published errors, cancelled requests
//	GET|DELETE /v1/clusters/{ns}/{name}/drains            every DrainNode (both services) that reached the GCS, per node
//
// Settings and faults:
//
//	GET|PUT /v1/clusters/{ns}/{name}/settings             {"rayVersion","firstReportDelaySeconds","drainWindowSeconds","enableInfeasibleTaskEarlyExit"}
//	GET|PUT|DELETE /v1/clusters/{ns}/{name}/auth          PUT {"token"}: require that token; DELETE: back to the head pod's settings
//	GET    /v1/clusters/{ns}/{name}/drain-faults          the drain faults
//	PUT|DELETE /v1/clusters/{ns}/{name}/drain-faults/{pod} {"mode","times","applyLate"}: DrainNode of that node fails
//	DELETE /v1/clusters/{ns}/{name}/drain-faults          every drain fault cleared
//	PUT    /v1/clusters/{ns}/{name}/fault                 {"mode","seconds"}: the cluster's GCS unreachable
//	GET    /v1/clusters/{ns}/{name}/fault                 {"mode","until","failedCalls"}
//	DELETE /v1/clusters/{ns}/{name}/fault                 reachable again
//	PUT|GET|DELETE /v1/fault                              the same for every cluster's GCS
//
// A fault's mode is "stall" (calls hang until the caller's deadline, like a
// network partition) or "unavailable" (calls fail at once with UNAVAILABLE,
// like a refused connection); seconds bounds it (0: until DELETE). A drain
// fault's mode is "aborted", "unknown" or "deadline" (drainfaults.go);
// times bounds it (0: until DELETE).
func (s *Sim) Handler() http.Handler {
	mux := http.NewServeMux()
	s.faultHandlers(mux)
	s.demandHandlers(mux)
	s.clusterHandlers(mux)
	s.drainHandlers(mux)
	return mux
}

func (s *Sim) demandHandlers(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/actors", func(w http.ResponseWriter, r *http.Request) {
		var req actorRequest
		if !decode(w, r, &req) {
			return
		}
		sel, err := validateDemand(req.Name, true, req.Resources, req.LabelSelector)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.add(w, r, []*item{{kind: kindActor, name: req.Name, bundles: []map[string]float64{req.Resources},
			selectors: []labelSelector{sel}}})
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/actors/{actor}", func(w http.ResponseWriter, r *http.Request) {
		s.remove(w, r, kindActor, r.PathValue("actor"))
	})
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/tasks", func(w http.ResponseWriter, r *http.Request) {
		var req taskRequest
		if !decode(w, r, &req) {
			return
		}
		sel, err := validateDemand("", false, req.Resources, req.LabelSelector)
		switch {
		case err != nil:
		case req.Count <= 0 || req.Count > maxTasksPerPost:
			err = fmt.Errorf("count must be 1 to %d", maxTasksPerPost)
		case req.DurationSeconds < 0 || req.DurationSeconds > maxDurationSeconds || math.IsNaN(req.DurationSeconds):
			err = fmt.Errorf("durationSeconds must be 0 to %d", maxDurationSeconds)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		tasks := make([]*item, req.Count)
		for i := range tasks {
			tasks[i] = &item{kind: kindTask, bundles: []map[string]float64{req.Resources}, selectors: []labelSelector{sel},
				duration: time.Duration(req.DurationSeconds * float64(time.Second))}
		}
		s.add(w, r, tasks)
	})
	mux.HandleFunc("POST /v1/clusters/{ns}/{name}/placement-groups", func(w http.ResponseWriter, r *http.Request) {
		var req placementGroupRequest
		if !decode(w, r, &req) {
			return
		}
		it, err := placementGroupItem(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.add(w, r, []*item{it})
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/placement-groups/{pg}", func(w http.ResponseWriter, r *http.Request) {
		s.remove(w, r, kindPG, r.PathValue("pg"))
	})
}

// validateDemand checks one actor's or task's body and parses its selector.
func validateDemand(name string, named bool, resources map[string]float64, selector map[string]string) (labelSelector, error) {
	if named && (name == "" || len(name) > maxNameLen) {
		return nil, fmt.Errorf("name is required, at most %d characters", maxNameLen)
	}
	if err := validateResources(resources); err != nil {
		return nil, err
	}
	return parseLabelSelector(selector)
}

func validateResources(m map[string]float64) error {
	if len(m) == 0 || len(m) > maxResourcesPerItem {
		return fmt.Errorf("resources must name 1 to %d resources", maxResourcesPerItem)
	}
	for k, v := range m {
		if k == "" || len(k) > maxNameLen || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("resource %q: names are 1 to %d characters, quantities finite and >= 0", k, maxNameLen)
		}
	}
	return nil
}

func placementGroupItem(req placementGroupRequest) (*item, error) {
	switch req.Strategy {
	case "PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD":
	default:
		return nil, fmt.Errorf("strategy must be PACK, SPREAD, STRICT_PACK or STRICT_SPREAD")
	}
	if req.Name == "" || len(req.Name) > maxNameLen || len(req.Bundles) == 0 || len(req.Bundles) > maxBundles {
		return nil, fmt.Errorf("name (at most %d characters) and 1 to %d bundles are required", maxNameLen, maxBundles)
	}
	if len(req.BundleLabelSelectors) != 0 && len(req.BundleLabelSelectors) != len(req.Bundles) {
		return nil, fmt.Errorf("bundleLabelSelectors must have one selector per bundle (got %d for %d bundles)",
			len(req.BundleLabelSelectors), len(req.Bundles))
	}
	it := &item{kind: kindPG, name: req.Name, strategy: req.Strategy, bundles: req.Bundles,
		selectors: make([]labelSelector, len(req.Bundles))}
	for i, b := range req.Bundles {
		if err := validateResources(b); err != nil {
			return nil, fmt.Errorf("bundle %d: %w", i, err)
		}
		if len(req.BundleLabelSelectors) > 0 {
			sel, err := parseLabelSelector(req.BundleLabelSelectors[i])
			if err != nil {
				return nil, fmt.Errorf("bundle %d: %w", i, err)
			}
			it.selectors[i] = sel
		}
	}
	return it, nil
}

func (s *Sim) add(w http.ResponseWriter, r *http.Request, items []*item) {
	c := s.cluster(r.PathValue("ns"), r.PathValue("name"))
	if c == nil {
		http.Error(w, fmt.Sprintf("raysim keeps at most %d clusters", maxClusters), http.StatusInsufficientStorage)
		return
	}
	if err := c.addItems(items, s.now()); err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

func (s *Sim) remove(w http.ResponseWriter, r *http.Request, kind, name string) {
	c := s.lookup(r.PathValue("ns"), r.PathValue("name"))
	if c == nil || !c.removeItem(kind, name, s.now()) {
		http.Error(w, kind+" not found", http.StatusNotFound)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// known is the cluster a GET names; an unknown cluster reads as an empty
// one, without raysim keeping state for it.
func (s *Sim) known(r *http.Request) *cluster {
	if c := s.lookup(r.PathValue("ns"), r.PathValue("name")); c != nil {
		return c
	}
	return newCluster(r.PathValue("ns"), r.PathValue("name"))
}

// owned is the cluster a PUT or DELETE changes, created if needed; it
// answers the request itself when raysim cannot keep another cluster.
func (s *Sim) owned(w http.ResponseWriter, r *http.Request) *cluster {
	c := s.cluster(r.PathValue("ns"), r.PathValue("name"))
	if c == nil {
		http.Error(w, fmt.Sprintf("raysim keeps at most %d clusters", maxClusters), http.StatusInsufficientStorage)
	}
	return c
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

// emptyAutoscalingState is what autoscaling-state shows before any report.
func emptyAutoscalingState() *rpcpb.AutoscalingState { return &rpcpb.AutoscalingState{} }
