package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// raysimURL is the control API of raysim, from the env file (RAYSIM_URL).
var raysimURL string

func raysim(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, raysimURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("raysim %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func mustRaysim(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	code, out := raysim(t, method, path, body)
	if code >= 300 {
		t.Fatalf("raysim %s %s: %d %s", method, path, code, out)
	}
	return out
}

// raysimPath is the control API path of cluster ns/name followed by suffix
// ("/state", "/drains", ...).
func raysimPath(ns, name, suffix string) string {
	return "/v1/clusters/" + url.PathEscape(ns) + "/" + url.PathEscape(name) + suffix
}

// rayState is the part of ClusterResourceState (protobuf JSON) tests read.
// protobuf JSON writes int64 as strings and bytes as base64.
type rayState struct {
	ClusterResourceStateVersion int64 `json:"clusterResourceStateVersion,string"`
	NodeStates                  []struct {
		NodeID             string             `json:"nodeId"` // base64
		InstanceID         string             `json:"instanceId"`
		RayNodeTypeName    string             `json:"rayNodeTypeName"`
		Status             string             `json:"status"`
		IdleDurationMs     int64              `json:"idleDurationMs,string"`
		TotalResources     map[string]float64 `json:"totalResources"`
		AvailableResources map[string]float64 `json:"availableResources"`
		Labels             map[string]string  `json:"labels"`
		DynamicLabels      map[string]string  `json:"dynamicLabels"`
		NodeActivity       []string           `json:"nodeActivity"`
	} `json:"nodeStates"`
	PendingResourceRequests     []json.RawMessage `json:"pendingResourceRequests"`
	PendingGangResourceRequests []json.RawMessage `json:"pendingGangResourceRequests"`
}

func clusterState(t *testing.T, ns, name string) rayState {
	t.Helper()
	return decode[rayState](t, string(mustRaysim(t, "GET", fmt.Sprintf("/v1/clusters/%s/%s/state", ns, name), nil)))
}

// Demand with Ray's label selectors: a map of label key to "value",
// "!value", "in(a,b)" or "!in(a,b)".
type (
	raysimActorSpec struct {
		Name          string             `json:"name"`
		Resources     map[string]float64 `json:"resources"`
		LabelSelector map[string]string  `json:"labelSelector,omitempty"`
	}
	raysimTaskSpec struct {
		Resources       map[string]float64 `json:"resources"`
		Count           int                `json:"count"`
		DurationSeconds float64            `json:"durationSeconds"`
		LabelSelector   map[string]string  `json:"labelSelector,omitempty"`
	}
	// raysimPlacementGroupSpec: Strategy is PACK, SPREAD, STRICT_PACK or
	// STRICT_SPREAD; BundleLabelSelectors has one selector per bundle, or
	// none.
	raysimPlacementGroupSpec struct {
		Name                 string               `json:"name"`
		Strategy             string               `json:"strategy"`
		Bundles              []map[string]float64 `json:"bundles"`
		BundleLabelSelectors []map[string]string  `json:"bundleLabelSelectors,omitempty"`
	}
)

func raysimPostActor(t *testing.T, ns, name string, a raysimActorSpec) {
	t.Helper()
	mustRaysim(t, "POST", raysimPath(ns, name, "/actors"), a)
}

func raysimPostTasks(t *testing.T, ns, name string, spec raysimTaskSpec) {
	t.Helper()
	mustRaysim(t, "POST", raysimPath(ns, name, "/tasks"), spec)
}

func raysimPostPlacementGroup(t *testing.T, ns, name string, pg raysimPlacementGroupSpec) {
	t.Helper()
	mustRaysim(t, "POST", raysimPath(ns, name, "/placement-groups"), pg)
}

// raysimActor is an actor as raysim runs it: its node's pod ("" while
// pending), whether a DrainNode marked it preempted, and how often it was
// restarted because its node died.
type raysimActor struct {
	Name      string             `json:"name"`
	Resources map[string]float64 `json:"resources"`
	Node      string             `json:"node"`
	Preempted bool               `json:"preempted"`
	Retries   int                `json:"retries"`
}

func raysimActors(t *testing.T, ns, name string) []raysimActor {
	t.Helper()
	return decode[[]raysimActor](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/actors"), nil)))
}

// raysimPlacementGroup is a placement group: its hex id (the "_PG_<id>"
// labels), its state (PENDING, CREATED, RESCHEDULING) and each bundle's
// node pod.
type raysimPlacementGroup struct {
	Name     string `json:"name"`
	ID       string `json:"id"`
	Strategy string `json:"strategy"`
	State    string `json:"state"`
	Bundles  []struct {
		Resources map[string]float64 `json:"resources"`
		Node      string             `json:"node"`
	} `json:"bundles"`
}

func raysimPlacementGroups(t *testing.T, ns, name string) []raysimPlacementGroup {
	t.Helper()
	return decode[[]raysimPlacementGroup](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/placement-groups"), nil)))
}

// raysimNode is raysim's view of a node: live ones first (by pod), then the
// dead ones the GCS remembers with when and why they died.
type raysimNode struct {
	Pod      string            `json:"pod"`
	NodeID   string            `json:"nodeId"` // hex
	Group    string            `json:"group"`
	Status   string            `json:"status"`
	Reported bool              `json:"reported"`
	Work     int               `json:"work"`
	Labels   map[string]string `json:"labels"`
	Drain    *struct {
		Reason              string    `json:"reason"`
		Message             string    `json:"message"`
		DeadlineTimestampMs int64     `json:"deadlineTimestampMs"`
		AcceptedAt          time.Time `json:"acceptedAt"`
	} `json:"drain"`
	DiedAt      time.Time `json:"diedAt"`
	DeathReason string    `json:"deathReason"`
}

func raysimNodes(t *testing.T, ns, name string) []raysimNode {
	t.Helper()
	return decode[[]raysimNode](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/nodes"), nil)))
}

// raysimSettings are a cluster's simulated Ray settings; a PUT changes only
// the fields set. Defaults: Ray 2.52.0, first load report after 1 s, drain
// window 1 s, early exit off. The first-report delay applies to nodes that
// join afterwards.
type raysimSettings struct {
	RayVersion                    *string  `json:"rayVersion,omitempty"`
	FirstReportDelaySeconds       *float64 `json:"firstReportDelaySeconds,omitempty"`
	DrainWindowSeconds            *float64 `json:"drainWindowSeconds,omitempty"`
	EnableInfeasibleTaskEarlyExit *bool    `json:"enableInfeasibleTaskEarlyExit,omitempty"`
}

// raysimPtr returns a pointer to v, for raysimSettings.
func raysimPtr[T any](v T) *T { return &v }

func raysimSetSettings(t *testing.T, ns, name string, s raysimSettings) {
	t.Helper()
	mustRaysim(t, "PUT", raysimPath(ns, name, "/settings"), s)
}

func raysimGetSettings(t *testing.T, ns, name string) raysimSettings {
	t.Helper()
	return decode[raysimSettings](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/settings"), nil)))
}

// raysimSetRayVersion makes CheckAlive report version (to present an old
// Ray).
func raysimSetRayVersion(t *testing.T, ns, name, version string) {
	t.Helper()
	raysimSetSettings(t, ns, name, raysimSettings{RayVersion: &version})
}

// raysimAuth is what a cluster's GCS requires (never the token): Source is
// "override" (raysimSetAuthToken), "pod" (the head's RAY_AUTH_MODE) or
// "none"; Error says why a head in token mode has no running GCS.
type raysimAuth struct {
	Enabled bool   `json:"enabled"`
	Source  string `json:"source"`
	Mode    string `json:"mode"`
	Error   string `json:"error"`
}

// raysimSetAuthToken makes the cluster's GCS require token, whatever the
// head pod says.
func raysimSetAuthToken(t *testing.T, ns, name, token string) {
	t.Helper()
	mustRaysim(t, "PUT", raysimPath(ns, name, "/auth"), map[string]string{"token": token})
}

// raysimClearAuthToken returns the cluster to its head pod's auth settings.
func raysimClearAuthToken(t *testing.T, ns, name string) {
	t.Helper()
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/auth"), nil)
}

func raysimAuthState(t *testing.T, ns, name string) raysimAuth {
	t.Helper()
	return decode[raysimAuth](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/auth"), nil)))
}

// Drain fault modes (raysim drainfaults.go).
const (
	raysimDrainAborted  = "aborted"  // ABORTED "RpcError", as the GCS forwards a failed raylet call
	raysimDrainUnknown  = "unknown"  // UNKNOWN
	raysimDrainDeadline = "deadline" // no answer until the caller's deadline
)

// raysimDrainFault makes AutoscalerStateService.DrainNode fail for the node
// of pod Pod: Times calls (0: until cleared). ApplyLate, with
// raysimDrainDeadline, lets the drain take effect after the caller gave up.
// Remaining and FailedCalls are read back.
type raysimDrainFault struct {
	Pod         string `json:"pod"`
	Mode        string `json:"mode"`
	Times       int    `json:"times"`
	ApplyLate   bool   `json:"applyLate"`
	Remaining   int    `json:"remaining"`
	FailedCalls int    `json:"failedCalls"`
}

func raysimSetDrainFault(t *testing.T, ns, name, pod, mode string, times int, applyLate bool) {
	t.Helper()
	mustRaysim(t, "PUT", raysimPath(ns, name, "/drain-faults/"+url.PathEscape(pod)),
		map[string]any{"mode": mode, "times": times, "applyLate": applyLate})
}

func raysimClearDrainFault(t *testing.T, ns, name, pod string) {
	t.Helper()
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/drain-faults/"+url.PathEscape(pod)), nil)
}

func raysimClearDrainFaults(t *testing.T, ns, name string) {
	t.Helper()
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/drain-faults"), nil)
}

func raysimDrainFaults(t *testing.T, ns, name string) []raysimDrainFault {
	t.Helper()
	return decode[[]raysimDrainFault](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/drain-faults"), nil)))
}

// raysimDrainCall is one node of one DrainNode call that reached the GCS:
// RPC is "AutoscalerStateService.DrainNode" or "NodeInfoGcsService.DrainNode";
// NodeKnown "alive", "dead" or "unknown"; Result "accepted", "rejected",
// "error" or "acknowledged" (the legacy DrainNode); Code the gRPC code
// ("OK", "Aborted", ...); Fault the drain fault that failed it.
type raysimDrainCall struct {
	Time                time.Time `json:"time"`
	RPC                 string    `json:"rpc"`
	NodeID              string    `json:"nodeId"`
	Pod                 string    `json:"pod"`
	NodeKnown           string    `json:"nodeKnown"`
	Reason              string    `json:"reason"` // DRAIN_NODE_REASON_...
	ReasonMessage       string    `json:"reasonMessage"`
	DeadlineTimestampMs int64     `json:"deadlineTimestampMs"`
	Result              string    `json:"result"`
	Code                string    `json:"code"`
	Message             string    `json:"message"`
	Fault               string    `json:"fault"`
}

func raysimDrainCalls(t *testing.T, ns, name string) []raysimDrainCall {
	t.Helper()
	return decode[[]raysimDrainCall](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/drains"), nil)))
}

func raysimClearDrainCalls(t *testing.T, ns, name string) {
	t.Helper()
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/drains"), nil)
}

// raysimGCS counts what a cluster's simulated GCS did. VersionCheckFailures
// counts GetClusterResourceState calls that would have aborted a real GCS
// (last seen version above its counter).
type raysimGCS struct {
	StateVersion         int64 `json:"stateVersion"`
	VersionCheckFailures int   `json:"versionCheckFailures"`
	Reports              int   `json:"reports"`
	OutdatedReports      int   `json:"outdatedReports"`
	PublishedErrors      int   `json:"publishedErrors"`
	LastPublished        []struct {
		Time       time.Time `json:"time"`
		Type       string    `json:"type"`
		Message    string    `json:"message"`
		Infeasible int       `json:"infeasible"`
	} `json:"lastPublished"`
	Cancelled     int `json:"cancelled"`
	LastCancelled []struct {
		Time      time.Time          `json:"time"`
		Kind      string             `json:"kind"`
		Name      string             `json:"name"`
		Resources map[string]float64 `json:"resources"`
	} `json:"lastCancelled"`
}

func raysimGCSCounters(t *testing.T, ns, name string) raysimGCS {
	t.Helper()
	return decode[raysimGCS](t, string(mustRaysim(t, "GET", raysimPath(ns, name, "/gcs"), nil)))
}

func readRaysimURL(envFile string) error {
	out, err := exec.Command("bash", "-c", `source "$1" && echo "$RAYSIM_URL"`, "_", envFile).Output()
	if err != nil {
		return err
	}
	raysimURL = strings.TrimSpace(string(out))
	if raysimURL == "" {
		return fmt.Errorf("env file %s exports no RAYSIM_URL", envFile)
	}
	return nil
}
