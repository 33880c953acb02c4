package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
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

// rayState is the part of ClusterResourceState (protobuf JSON) tests read.
type rayState struct {
	NodeStates []struct {
		InstanceID         string             `json:"instanceId"`
		RayNodeTypeName    string             `json:"rayNodeTypeName"`
		Status             string             `json:"status"`
		TotalResources     map[string]float64 `json:"totalResources"`
		AvailableResources map[string]float64 `json:"availableResources"`
	} `json:"nodeStates"`
	PendingResourceRequests []json.RawMessage `json:"pendingResourceRequests"`
}

func clusterState(t *testing.T, ns, name string) rayState {
	t.Helper()
	return decode[rayState](t, string(mustRaysim(t, "GET", fmt.Sprintf("/v1/clusters/%s/%s/state", ns, name), nil)))
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
