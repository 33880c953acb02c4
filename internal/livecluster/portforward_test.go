package livecluster

import (
	"context"
	"net"
	"strings"
	"testing"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/internal/livecluster/pffake"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// The GCS is read through a port-forward to the named pod and port (SPDY
// through the API server, as kubectl port-forward), and the forward's
// local port is closed afterwards.
func TestPortForwardReachesTheGCS(t *testing.T) {
	g := gcsfake.Start(t)
	g.Autoscaler.SetState(pendingState())
	api := pffake.Start(t, g.Addr)

	f, err := PortForward(context.Background(), api.Config, types.NamespacedName{Namespace: "team", Name: "rc-head"}, 6380, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadGCS(context.Background(), f.Addr, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.State.GetPendingResourceRequests()) != 1 {
		t.Errorf("state %v", got.State)
	}
	fw := api.Forwards()
	if len(fw) == 0 || fw[0].Path != "/api/v1/namespaces/team/pods/rc-head/portforward" || fw[0].Port != "6380" {
		t.Errorf("forwards %+v, want pod team/rc-head port 6380", fw)
	}
	f.Close()
	if c, err := net.Dial("tcp", f.Addr); err == nil {
		_ = c.Close()
		t.Errorf("%s still listens after Close", f.Addr)
	}
}

// An API server that refuses the port-forward fails PortForward, naming
// the pod.
func TestPortForwardRefused(t *testing.T) {
	api := pffake.Start(t, "127.0.0.1:1")
	cfg := *api.Config
	cfg.Host += "/refused" // any path but pods/portforward's is answered 404
	_, err := PortForward(context.Background(), &cfg, types.NamespacedName{Namespace: "team", Name: "rc-head"}, 6379, zap.NewNop())
	if err == nil {
		t.Fatal("no error")
	}
	if !strings.Contains(err.Error(), "pod team/rc-head") {
		t.Errorf("error %q does not name the pod", err)
	}
}
