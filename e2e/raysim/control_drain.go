package raysim

import (
	"fmt"
	"net/http"
	"sort"
)

// drainFaultBody is PUT .../drain-faults/{pod}.
type drainFaultBody struct {
	Mode      string `json:"mode"`
	Times     int    `json:"times"`
	ApplyLate bool   `json:"applyLate"`
}

func (s *Sim) drainHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/drains", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		out := append([]drainCall{}, c.drainCalls...)
		c.mu.Unlock()
		writeJSON(w, out)
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/drains", func(w http.ResponseWriter, r *http.Request) {
		if c := s.lookup(r.PathValue("ns"), r.PathValue("name")); c != nil {
			c.mu.Lock()
			c.drainCalls = nil
			c.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/drain-faults", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		out := []drainFault{}
		for _, f := range c.drainFaults {
			out = append(out, *f)
		}
		c.mu.Unlock()
		sort.Slice(out, func(i, j int) bool { return out[i].Pod < out[j].Pod })
		writeJSON(w, out)
	})
	mux.HandleFunc("PUT /v1/clusters/{ns}/{name}/drain-faults/{pod}", func(w http.ResponseWriter, r *http.Request) {
		var req drainFaultBody
		if !decode(w, r, &req) {
			return
		}
		pod := r.PathValue("pod")
		switch {
		case pod == "" || len(pod) > maxNameLen:
			http.Error(w, fmt.Sprintf("the pod name is 1 to %d characters", maxNameLen), http.StatusBadRequest)
			return
		case req.Mode != DrainFaultAborted && req.Mode != DrainFaultUnknown && req.Mode != DrainFaultDeadline:
			http.Error(w, fmt.Sprintf("mode must be %q, %q or %q", DrainFaultAborted, DrainFaultUnknown, DrainFaultDeadline), http.StatusBadRequest)
			return
		case req.Times < 0 || req.Times > maxFaultTimes:
			http.Error(w, fmt.Sprintf("times must be 0 (until DELETE) to %d", maxFaultTimes), http.StatusBadRequest)
			return
		case req.ApplyLate && req.Mode != DrainFaultDeadline:
			http.Error(w, "applyLate only goes with mode deadline", http.StatusBadRequest)
			return
		}
		c := s.owned(w, r)
		if c == nil {
			return
		}
		if err := c.setDrainFault(&drainFault{Pod: pod, Mode: req.Mode, Times: req.Times, ApplyLate: req.ApplyLate}); err != nil {
			http.Error(w, err.Error(), http.StatusInsufficientStorage)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/drain-faults/{pod}", func(w http.ResponseWriter, r *http.Request) {
		c := s.lookup(r.PathValue("ns"), r.PathValue("name"))
		if c == nil {
			http.Error(w, "no drain fault", http.StatusNotFound)
			return
		}
		c.mu.Lock()
		_, ok := c.drainFaults[r.PathValue("pod")]
		delete(c.drainFaults, r.PathValue("pod"))
		c.mu.Unlock()
		if !ok {
			http.Error(w, "no drain fault", http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/drain-faults", func(w http.ResponseWriter, r *http.Request) {
		if c := s.lookup(r.PathValue("ns"), r.PathValue("name")); c != nil {
			c.mu.Lock()
			clear(c.drainFaults)
			c.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
}
