package raysim

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// Fault modes: how a GCS that cannot be reached looks to a client.
const (
	// FaultStall answers nothing: every call hangs until the caller's
	// deadline, as when packets to the head are dropped (a partition).
	FaultStall = "stall"
	// FaultUnavailable fails every call at once with UNAVAILABLE, as gRPC
	// reports a refused or reset connection (the GCS process is down).
	FaultUnavailable = "unavailable"
)

// fault makes the GCS of one cluster (or of every cluster) unreachable
// until a time, or until it is cleared.
type fault struct {
	Mode  string    `json:"mode"`
	Until time.Time `json:"until,omitzero"`
	// Failed counts the GCS calls the fault failed, so a test can tell the
	// client kept trying.
	Failed int `json:"failedCalls"`
	// cleared is closed when the fault ends early; stalled calls return.
	cleared chan struct{}
}

// faults holds the active faults, by "namespace/name"; "" is every cluster.
type faults struct {
	mu sync.Mutex
	by map[string]*fault
}

func (f *faults) set(key string, ft *fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.by == nil {
		f.by = map[string]*fault{}
	}
	if old := f.by[key]; old != nil {
		close(old.cleared)
	}
	f.by[key] = ft
}

func (f *faults) clear(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.by[key]
	if old == nil {
		return false
	}
	close(old.cleared)
	delete(f.by, key)
	return true
}

// active returns the fault that applies to cluster key at now (the
// cluster's own, else the global one) and counts the call it fails.
func (f *faults) active(key string, now time.Time) *fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range []string{key, ""} {
		ft := f.by[k]
		if ft == nil {
			continue
		}
		if !ft.Until.IsZero() && !now.Before(ft.Until) {
			continue // expired; kept for its counter until cleared or replaced
		}
		ft.Failed++
		return ft
	}
	return nil
}

// get returns a copy of the fault stored under key.
func (f *faults) get(key string) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ft := f.by[key]
	if ft == nil {
		return fault{}, false
	}
	return fault{Mode: ft.Mode, Until: ft.Until, Failed: ft.Failed}, true
}

// interceptor fails the calls of clusters under a fault: it runs before
// any handler, so a faulted GCS neither reads nor changes its state.
func (s *Sim) interceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	key := ""
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if auth := md.Get(":authority"); len(auth) > 0 {
			if ns, name, err := gcsfake.ParseAuthority(auth[0]); err == nil {
				key = ns + "/" + name
			}
		}
	}
	ft := s.faults.active(key, s.now())
	if ft == nil {
		return handler(ctx, req)
	}
	if ft.Mode == FaultStall {
		var expired <-chan time.Time
		if !ft.Until.IsZero() {
			timer := time.NewTimer(ft.Until.Sub(s.now()))
			defer timer.Stop()
			expired = timer.C
		}
		select {
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		case <-ft.cleared:
		case <-expired:
		}
		// The call was lost with the partition; the client's next one
		// finds the GCS again.
	}
	return nil, status.Errorf(codes.Unavailable, "raysim fault %q: %s is unreachable", ft.Mode, info.FullMethod)
}

// faultRequest is the body of PUT .../fault.
type faultRequest struct {
	Mode    string  `json:"mode"`
	Seconds float64 `json:"seconds"`
}

// faultHandlers serves the fault switch under mux for one cluster
// (/v1/clusters/{ns}/{name}/fault) and for every cluster (/v1/fault).
func (s *Sim) faultHandlers(mux *http.ServeMux) {
	key := func(r *http.Request) string {
		if ns := r.PathValue("ns"); ns != "" {
			return ns + "/" + r.PathValue("name")
		}
		return ""
	}
	put := func(w http.ResponseWriter, r *http.Request) {
		var req faultRequest
		if !decode(w, r, &req) {
			return
		}
		if req.Mode != FaultStall && req.Mode != FaultUnavailable {
			http.Error(w, fmt.Sprintf("mode must be %q or %q", FaultStall, FaultUnavailable), http.StatusBadRequest)
			return
		}
		if req.Seconds < 0 || req.Seconds > maxDurationSeconds || math.IsNaN(req.Seconds) {
			http.Error(w, fmt.Sprintf("seconds must be 0 (until DELETE) to %d", maxDurationSeconds), http.StatusBadRequest)
			return
		}
		ft := &fault{Mode: req.Mode, cleared: make(chan struct{})}
		if req.Seconds > 0 {
			ft.Until = s.now().Add(time.Duration(req.Seconds * float64(time.Second)))
		}
		s.faults.set(key(r), ft)
		w.WriteHeader(http.StatusNoContent)
	}
	get := func(w http.ResponseWriter, r *http.Request) {
		ft, ok := s.faults.get(key(r))
		if !ok {
			http.Error(w, "no fault", http.StatusNotFound)
			return
		}
		writeJSON(w, ft)
	}
	del := func(w http.ResponseWriter, r *http.Request) {
		if !s.faults.clear(key(r)) {
			http.Error(w, "no fault", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	for _, p := range []string{"/v1/clusters/{ns}/{name}/fault", "/v1/fault"} {
		mux.HandleFunc("PUT "+p, put)
		mux.HandleFunc("GET "+p, get)
		mux.HandleFunc("DELETE "+p, del)
	}
}
