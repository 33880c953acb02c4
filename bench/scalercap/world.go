package main

import (
	"context"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/internal/testcp"
)

// world is what every scaler under test runs against: a real etcd and
// kube-apiserver with the KubeRay CRDs and the clusters' namespaces, and
// the GCS fakes serving on one loopback listener.
type world struct {
	cp  *testcp.ControlPlane
	cl  client.WithWatch
	gcs *fakeGCS
	srv *grpc.Server
}

// startWorld starts the world, kube-apiserver with apiserverArgs added.
func startWorld(ctx context.Context, c config, kuberay string, apiserverArgs map[string]string) (*world, error) {
	fmt.Fprintln(os.Stderr, "scalercap: starting etcd and kube-apiserver")
	w := &world{}
	var err error
	if w.cp, err = testcp.StartControlPlaneWithArgs(os.Getenv("RAYPILOT_TOOLS_BIN"), apiserverArgs, kuberay); err != nil {
		return nil, err
	}
	if w.cl, err = newClient(w.cp); err != nil {
		w.close()
		return nil, err
	}
	if err := createNamespaces(ctx, w.cl, c.namespaces); err != nil {
		w.close()
		return nil, err
	}
	w.gcs = newFakeGCS()
	if w.srv, err = w.gcs.serve(); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// close stops the GCS fakes and the control plane.
func (w *world) close() {
	if w.srv != nil {
		w.srv.Stop()
	}
	w.cp.Stop()
}
