package shard

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A replica that stops keeps its Lease until the writes it let through have
// returned (the others take its keys as soon as the Lease is gone), and
// lets no new write through meanwhile.
func TestStopWaitsForWritesInFlight(t *testing.T) {
	o := Options{Namespace: "ns", Name: "scaler", Identity: "only"}
	o.SetDefaults()
	leases := fake.NewClientset().CoordinationV1().Leases(o.Namespace)
	m := newMember(leases, o, time.Now, zaptest.NewLogger(t))
	m.tick(context.Background())
	if act, _ := m.Owns("ns/a"); !act {
		t.Fatal("a lone replica does not act on its key")
	}

	inWrite, release := make(chan struct{}), make(chan struct{})
	wrote := make(chan error, 1)
	go func() {
		wrote <- m.Write("ns/a", func() error { close(inWrite); <-release; return nil })
	}()
	<-inWrite
	stopped := make(chan struct{})
	go func() { m.stop(); close(stopped) }()

	name := LeaseName(o.Name, o.Identity)
	time.Sleep(200 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("stop returned while a write was in flight")
	default:
	}
	if _, err := leases.Get(context.Background(), name, metav1.GetOptions{}); err != nil {
		t.Fatalf("the Lease went while a write was in flight: %v", err)
	}
	if act, _ := m.Owns("ns/a"); act {
		t.Error("a stopping replica still acts")
	}
	close(release)
	if err := <-wrote; err != nil {
		t.Fatalf("the write in flight: %v", err)
	}
	<-stopped
	if _, err := leases.Get(context.Background(), name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the Lease after stop: %v, want NotFound", err)
	}
	if err := m.Write("ns/a", func() error { t.Error("a write ran after stop"); return nil }); !errors.Is(err, ErrNotActing) {
		t.Errorf("Write after stop: %v, want ErrNotActing", err)
	}
}
