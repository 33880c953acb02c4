// Command raysim serves simulated Ray GCS APIs (the autoscaler service and
// NodeInfoGcsService's CheckAlive and DrainNode) for every Ray cluster of a
// Kubernetes control plane, plus an HTTP API to post demand and drive the
// simulation, and an HTTP proxy answering the Ray dashboard's Serve API and
// the Serve proxies' health checks (for a KubeRay operator started with
// HTTP_PROXY pointing at it). It watches the Ray pods and reads Secrets
// (where a head's Ray auth token may be), so its kubeconfig needs list and
// watch on both.
package main

import (
	"context"
	"errors"
	"flag"
	"log"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/raypilot/raypilot/e2e/raysim"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the control plane")
	grpcAddr := flag.String("grpc-address", "127.0.0.1:26379", "gRPC listener for the GCS API of every cluster")
	httpAddr := flag.String("http-address", "127.0.0.1:28265", "HTTP control API listener")
	dashboardAddr := flag.String("dashboard-address", "", "HTTP proxy listener answering the Ray dashboard's Serve API and the Serve proxies' /-/healthz of every cluster (empty: none)")
	interval := flag.Duration("interval", 200*time.Millisecond, "how often pods are synced and the simulation ticks")
	flag.Parse()

	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		log.Fatalf("raysim: kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		log.Fatalf("raysim: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	sim := raysim.New(nil)

	gs := sim.GRPCServer()
	if _, err := gcsfake.Serve(gs, *grpcAddr); err != nil {
		log.Fatalf("raysim: %v", err)
	}
	hs := &http.Server{Addr: *httpAddr, Handler: sim.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := hs.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("raysim: http: %v", err)
		}
	}()
	var ds *http.Server
	if *dashboardAddr != "" {
		ds = &http.Server{Addr: *dashboardAddr, Handler: sim.DashboardProxy(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := ds.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Fatalf("raysim: dashboard proxy: %v", err)
			}
		}()
		log.Printf("raysim: Ray dashboard and Serve proxies behind the HTTP proxy http://%s", *dashboardAddr)
	}
	log.Printf("raysim: GCS API on %s, control API on http://%s", *grpcAddr, *httpAddr)
	if err := sim.Run(ctx, cs, *interval); err != nil {
		log.Fatalf("raysim: %v", err)
	}
	gs.GracefulStop()
	_ = hs.Shutdown(context.Background())
	if ds != nil {
		_ = ds.Shutdown(context.Background())
	}
}
