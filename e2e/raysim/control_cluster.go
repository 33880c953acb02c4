package raysim

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// settingsBody is GET and PUT .../settings; a PUT changes the fields it
// sets. The first-report delay applies to nodes that join afterwards.
type settingsBody struct {
	RayVersion                    *string  `json:"rayVersion,omitempty"`
	FirstReportDelaySeconds       *float64 `json:"firstReportDelaySeconds,omitempty"`
	DrainWindowSeconds            *float64 `json:"drainWindowSeconds,omitempty"`
	EnableInfeasibleTaskEarlyExit *bool    `json:"enableInfeasibleTaskEarlyExit,omitempty"`
}

// authBody is PUT .../auth.
type authBody struct {
	Token string `json:"token"`
}

// authView is GET .../auth; it never shows the token.
type authView struct {
	Enabled bool   `json:"enabled"`
	Source  string `json:"source"`         // "override", "pod" or "none"
	Mode    string `json:"mode,omitempty"` // RAY_AUTH_MODE of the head pod
	Error   string `json:"error,omitempty"`
}

type nodeView struct {
	Pod         string            `json:"pod"`
	NodeID      string            `json:"nodeId"`
	Group       string            `json:"group"`
	Status      string            `json:"status"`
	Reported    bool              `json:"reported"` // the GCS had its first load report
	Work        int               `json:"work"`
	Labels      map[string]string `json:"labels,omitempty"`
	Drain       *drainView        `json:"drain,omitempty"`
	DiedAt      time.Time         `json:"diedAt,omitzero"`
	DeathReason string            `json:"deathReason,omitempty"`
}

type drainView struct {
	Reason              string    `json:"reason"`
	Message             string    `json:"message,omitempty"`
	DeadlineTimestampMs int64     `json:"deadlineTimestampMs,omitempty"`
	AcceptedAt          time.Time `json:"acceptedAt"`
}

type actorView struct {
	Name      string             `json:"name"`
	Resources map[string]float64 `json:"resources"`
	Node      string             `json:"node,omitempty"` // pod; "" while pending
	Preempted bool               `json:"preempted"`
	Retries   int                `json:"retries"`
}

type placementGroupView struct {
	Name     string       `json:"name"`
	ID       string       `json:"id"`
	Strategy string       `json:"strategy"`
	State    string       `json:"state"`
	Bundles  []bundleView `json:"bundles"`
}

type bundleView struct {
	Resources map[string]float64 `json:"resources"`
	Node      string             `json:"node,omitempty"`
}

type gcsView struct {
	StateVersion int64 `json:"stateVersion"`
	gcsStats
}

func (s *Sim) clusterHandlers(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/state", func(w http.ResponseWriter, r *http.Request) {
		writeProto(w, s.known(r).snapshot(s.now()))
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/autoscaling-state", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		st := emptyAutoscalingState()
		if c.reported != nil {
			st = proto.Clone(c.reported).(*rpcpb.AutoscalingState)
		}
		c.mu.Unlock()
		writeProto(w, st)
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.known(r).nodeViews(s.now()))
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/actors", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.known(r).actorViews())
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/placement-groups", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.known(r).placementGroupViews())
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/gcs", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		v := gcsView{StateVersion: c.stateVersion, gcsStats: c.stats}
		v.LastPublished = append([]publishedError(nil), v.LastPublished...)
		v.LastCancelled = append([]cancelledRequest(nil), v.LastCancelled...)
		c.mu.Unlock()
		writeJSON(w, v)
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/settings", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		st := c.settings
		c.mu.Unlock()
		first, window := st.FirstReport.Seconds(), st.DrainWindow.Seconds()
		writeJSON(w, settingsBody{RayVersion: &st.RayVersion, FirstReportDelaySeconds: &first,
			DrainWindowSeconds: &window, EnableInfeasibleTaskEarlyExit: &st.InfeasibleEarlyExit})
	})
	mux.HandleFunc("PUT /v1/clusters/{ns}/{name}/settings", func(w http.ResponseWriter, r *http.Request) {
		var req settingsBody
		if !decode(w, r, &req) {
			return
		}
		if err := req.validate(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		c := s.owned(w, r)
		if c == nil {
			return
		}
		c.mu.Lock()
		req.apply(&c.settings)
		c.advance(s.now())
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /v1/clusters/{ns}/{name}/auth", func(w http.ResponseWriter, r *http.Request) {
		c := s.known(r)
		c.mu.Lock()
		defer c.mu.Unlock()
		writeJSON(w, c.auth.view(c.settings.RayVersion))
	})
	mux.HandleFunc("PUT /v1/clusters/{ns}/{name}/auth", func(w http.ResponseWriter, r *http.Request) {
		var req authBody
		if !decode(w, r, &req) {
			return
		}
		if req.Token == "" || len(req.Token) > maxTokenLen || strings.TrimSpace(req.Token) != req.Token || !printable(req.Token) {
			http.Error(w, fmt.Sprintf("token must be 1 to %d printable ASCII characters without surrounding white space", maxTokenLen), http.StatusBadRequest)
			return
		}
		c := s.owned(w, r)
		if c == nil {
			return
		}
		c.mu.Lock()
		c.auth.override, c.auth.overToken = true, req.Token
		c.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("DELETE /v1/clusters/{ns}/{name}/auth", func(w http.ResponseWriter, r *http.Request) {
		if c := s.lookup(r.PathValue("ns"), r.PathValue("name")); c != nil {
			c.mu.Lock()
			c.auth.override, c.auth.overToken = false, ""
			c.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (b settingsBody) validate() error {
	if b.RayVersion != nil && (*b.RayVersion == "" || len(*b.RayVersion) > maxRayVersionLen || !printable(*b.RayVersion)) {
		return fmt.Errorf("rayVersion must be 1 to %d printable characters", maxRayVersionLen)
	}
	for name, v := range map[string]*float64{"firstReportDelaySeconds": b.FirstReportDelaySeconds, "drainWindowSeconds": b.DrainWindowSeconds} {
		if v != nil && (*v < 0 || *v > maxSettingSeconds || math.IsNaN(*v)) {
			return fmt.Errorf("%s must be 0 to %d", name, maxSettingSeconds)
		}
	}
	return nil
}

func (b settingsBody) apply(st *settings) {
	if b.RayVersion != nil {
		st.RayVersion, st.versionSet = *b.RayVersion, true
	}
	if b.FirstReportDelaySeconds != nil {
		st.FirstReport = time.Duration(*b.FirstReportDelaySeconds * float64(time.Second))
	}
	if b.DrainWindowSeconds != nil {
		st.DrainWindow = time.Duration(*b.DrainWindowSeconds * float64(time.Second))
	}
	if b.EnableInfeasibleTaskEarlyExit != nil {
		st.InfeasibleEarlyExit = *b.EnableInfeasibleTaskEarlyExit
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func (a *authState) view(rayVersion string) authView {
	v := authView{Enabled: a.tokenMode(rayVersion), Source: "none", Mode: a.podMode}
	switch {
	case a.override:
		v.Source = "override"
	case a.fromPod:
		v.Source = "pod"
	}
	switch {
	case a.envErr != nil:
		v.Error = a.envErr.Error()
	case v.Enabled && a.tokenErr != nil:
		v.Error = a.tokenErr.Error()
	case v.Enabled && !a.override && a.podToken == "":
		v.Error = noTokenMessage
	}
	return v
}

func (c *cluster) nodeViews(now time.Time) []nodeView {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(now)
	var out []nodeView
	for _, n := range c.liveNodes() {
		v := nodeView{Pod: n.pod, NodeID: hexID(n.id), Group: n.group, Status: c.liveNodeState(n, nil, now).Status.String(),
			Reported: n.reported(now), Work: n.work, Labels: cloneLabels(n.labels)}
		if d := n.drain; d != nil {
			v.Drain = &drainView{Reason: d.reason.String(), Message: d.message, AcceptedAt: d.accepted}
			if !d.deadline.IsZero() {
				v.Drain.DeadlineTimestampMs = d.deadline.UnixMilli()
			}
		}
		out = append(out, v)
	}
	for _, n := range c.dead {
		out = append(out, nodeView{Pod: n.pod, NodeID: hexID(n.id), Group: n.group, Status: rpcpb.NodeStatus_DEAD.String(),
			Reported: true, DiedAt: n.diedAt, DeathReason: n.death})
	}
	return out
}

func (c *cluster) actorViews() []actorView {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []actorView{}
	for _, it := range c.items {
		if it.kind != kindActor {
			continue
		}
		v := actorView{Name: it.name, Resources: clone(it.bundles[0]), Preempted: it.preempted, Retries: it.retries}
		if it.placed() {
			v.Node = it.placedOn[0].pod
		}
		out = append(out, v)
	}
	return out
}

func (c *cluster) placementGroupViews() []placementGroupView {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := []placementGroupView{}
	for _, it := range c.items {
		if it.kind != kindPG {
			continue
		}
		v := placementGroupView{Name: it.name, ID: it.pgHex(), Strategy: it.strategy, State: it.pgState()}
		for i, b := range it.bundles {
			bv := bundleView{Resources: clone(b)}
			if i < len(it.placedOn) && it.placedOn[i] != nil {
				bv.Node = it.placedOn[i].pod
			}
			v.Bundles = append(v.Bundles, bv)
		}
		out = append(out, v)
	}
	return out
}
