package gcsfake

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// A stopped GCS refuses calls; restarted, it serves the same state and
// version on the same address.
func TestGCSStopAndRestart(t *testing.T) {
	g := Start(t)
	g.Autoscaler.SetState(&rpcpb.ClusterResourceState{ClusterResourceStateVersion: 7})
	g.NodeInfo.SetVersion("2.50.1")
	addr := g.Addr
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	as, ni := rpcpb.NewAutoscalerStateServiceClient(conn), nodeinfopb.NewNodeInfoGcsServiceClient(conn)
	read := func() (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		reply, err := as.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{})
		return reply.GetClusterResourceState().GetClusterResourceStateVersion(), err
	}
	if v, err := read(); err != nil || v != 7 {
		t.Fatalf("state version %d, %v; want 7", v, err)
	}

	g.Stop()
	if _, err := read(); err == nil {
		t.Fatal("a stopped GCS answered")
	}

	if err := g.Restart(); err != nil {
		t.Fatal(err)
	}
	if g.Addr != addr {
		t.Fatalf("restarted on %s, want %s", g.Addr, addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reply, err := ni.CheckAlive(ctx, &nodeinfopb.CheckAliveRequest{}, grpc.WaitForReady(true))
	if err != nil || reply.GetRayVersion() != "2.50.1" {
		t.Fatalf("CheckAlive after the restart: %v, %v; want Ray 2.50.1", reply, err)
	}
	if v, err := read(); err != nil || v != 7 || g.Autoscaler.Reads() != 2 {
		t.Errorf("state version %d, %v, reads %d after the restart; want 7 and 2 reads", v, err, g.Autoscaler.Reads())
	}
}
