package raysim

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The demand endpoints take Ray's label selectors and bounded input; the
// listing endpoints show where work runs.
func TestControlDemandWithSelectors(t *testing.T) {
	s := New(nil)
	s.SyncPods("ns", "c", []*corev1.Pod{gpuPod("w-1", "A100")})
	h := s.Handler()
	for _, req := range []struct{ path, body string }{
		{"/v1/clusters/ns/c/actors", `{"name":"a1","resources":{"CPU":1},"labelSelector":{"accelerator":"A100"}}`},
		{"/v1/clusters/ns/c/actors", `{"name":"a2","resources":{"CPU":1},"labelSelector":{"accelerator":"!A100"}}`},
		{"/v1/clusters/ns/c/tasks", `{"resources":{"CPU":1},"count":2,"durationSeconds":60,"labelSelector":{"accelerator":"in(H100,B200)"}}`},
		{"/v1/clusters/ns/c/placement-groups", `{"name":"pg","strategy":"PACK","bundles":[{"CPU":1},{"CPU":1}],"bundleLabelSelectors":[{"accelerator":"A100"},{}]}`},
	} {
		if code, body := control(t, h, "POST", req.path, req.body); code != http.StatusCreated {
			t.Fatalf("POST %s %s: %d %s", req.path, req.body, code, body)
		}
	}
	var actors []actorView
	_, body := control(t, h, "GET", "/v1/clusters/ns/c/actors", "")
	if err := json.Unmarshal([]byte(body), &actors); err != nil || len(actors) != 2 || actors[0].Node != "w-1" || actors[1].Node != "" {
		t.Fatalf("GET actors: %s", body)
	}
	var pgs []placementGroupView
	_, body = control(t, h, "GET", "/v1/clusters/ns/c/placement-groups", "")
	if err := json.Unmarshal([]byte(body), &pgs); err != nil || len(pgs) != 1 || pgs[0].State != pgCreated || len(pgs[0].ID) != 36 {
		t.Fatalf("GET placement-groups: %s", body)
	}
	var nodes []nodeView
	_, body = control(t, h, "GET", "/v1/clusters/ns/c/nodes", "")
	if err := json.Unmarshal([]byte(body), &nodes); err != nil || len(nodes) != 1 || nodes[0].Labels["accelerator"] != "A100" || nodes[0].Work != 3 {
		t.Fatalf("GET nodes: %s", body)
	}
	_, body = control(t, h, "GET", "/v1/clusters/ns/c/state", "")
	// protobuf JSON varies its white space on purpose: compare without it.
	if !strings.Contains(strings.ReplaceAll(body, " ", ""), `"labelSelectors":[{"labelConstraints":[{"labelKey":"accelerator","operator":"LABEL_OPERATOR_NOT_IN","labelValues":["A100"]}]}]`) {
		t.Errorf("state does not show a2's selector: %s", body)
	}
	for _, bad := range []struct{ path, body string }{
		{"/v1/clusters/ns/c/actors", `{"name":"x","resources":{"CPU":-1}}`},
		{"/v1/clusters/ns/c/actors", `{"name":"","resources":{"CPU":1}}`},
		{"/v1/clusters/ns/c/actors", `{"name":"x","resources":{"CPU":1},"labelSelector":{"":"a"}}`},
		{"/v1/clusters/ns/c/tasks", `{"resources":{"CPU":1},"count":100001}`},
		{"/v1/clusters/ns/c/tasks", `{"resources":{"CPU":1},"count":1,"durationSeconds":1e9}`},
		{"/v1/clusters/ns/c/placement-groups", `{"name":"p","strategy":"PACK","bundles":[{"CPU":1}],"bundleLabelSelectors":[{},{}]}`},
		{"/v1/clusters/ns/c/placement-groups", `{"name":"p","strategy":"RANDOM","bundles":[{"CPU":1}]}`},
	} {
		if code, _ := control(t, h, "POST", bad.path, bad.body); code != http.StatusBadRequest {
			t.Errorf("POST %s %s: %d, want 400", bad.path, bad.body, code)
		}
	}
	// Reading an unknown cluster creates nothing.
	if code, _ := control(t, h, "GET", "/v1/clusters/ns/none/state", ""); code != http.StatusOK || s.lookup("ns", "none") != nil {
		t.Errorf("GET state of an unknown cluster: %d, kept: %v", code, s.lookup("ns", "none") != nil)
	}
}
