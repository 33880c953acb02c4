package shard

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/raypilot/raypilot/internal/testcp"
)

// Timings of the test's members, in client-go's order.
const (
	apiLeaseDuration = 4 * time.Second
	apiRenewDeadline = 2500 * time.Millisecond
	apiRetryPeriod   = 500 * time.Millisecond
)

// TestMembersAgainstAPIServer: three members on a real kube-apiserver
// divide 300 keys. One is killed (its loop stops, its Lease stays): its
// keys are acted on by the others only after its Lease expired, and within
// a few periods of that. On a 10 ms grid throughout, no key is acted on by
// two members (the killed one counted as long as its own rule lets it act,
// as a partitioned replica would).
func TestMembersAgainstAPIServer(t *testing.T) {
	bin := os.Getenv("RAYPILOT_TOOLS_BIN")
	if bin == "" {
		t.Skip("needs etcd and kube-apiserver: RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir)")
	}
	cp, err := testcp.StartControlPlane(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ms []*Member
	loops := map[*Member]context.CancelFunc{}
	var wg sync.WaitGroup
	for i := range 3 {
		o := Options{Namespace: metav1.NamespaceDefault, Name: "scaler", Identity: fmt.Sprintf("replica-%d", i),
			LeaseDuration: apiLeaseDuration, RenewDeadline: apiRenewDeadline, RetryPeriod: apiRetryPeriod}
		o.SetDefaults()
		m := newMember(cs.CoordinationV1().Leases(o.Namespace), o, time.Now, zaptest.NewLogger(t))
		ms = append(ms, m)
		lctx, stop := context.WithCancel(ctx)
		loops[m] = stop
		wg.Add(1)
		go func() { // the loop of Run without its stop: a crash leaves the Lease
			defer wg.Done()
			tk := time.NewTicker(o.RetryPeriod)
			defer tk.Stop()
			for lctx.Err() == nil {
				m.tick(lctx)
				select {
				case <-lctx.Done():
				case <-tk.C:
				}
			}
		}()
		time.Sleep(time.Second) // joins one after the other
	}
	defer wg.Wait()
	defer cancel()

	ks := keys(300)
	// check samples every key's actors; it fails on two at once and returns
	// each key's actor ("" for none).
	check := func() []string {
		actors := make([]string, len(ks))
		for i, k := range ks {
			for _, m := range ms {
				if act, _ := m.Owns(k); act {
					if actors[i] != "" {
						t.Fatalf("key %s acted on by %s and %s at once", k, actors[i], m.Identity())
					}
					actors[i] = m.Identity()
				}
			}
		}
		return actors
	}
	all := func(actors []string) bool {
		for _, a := range actors {
			if a == "" {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	var actors []string
	for actors = check(); !all(actors); actors = check() {
		if time.Now().After(deadline) {
			t.Fatalf("not every key has an actor within 30 s: %v", actors)
		}
		time.Sleep(10 * time.Millisecond)
	}
	victim := ms[1]
	var theirs []int
	for i, a := range actors {
		if a == victim.Identity() {
			theirs = append(theirs, i)
		}
	}
	if len(theirs) == 0 {
		t.Fatal("the victim acts on no key")
	}
	loops[victim]()
	victim.mu.Lock()
	lastRenewal := victim.fence.renewed
	victim.mu.Unlock()
	t.Logf("killed %s, acting on %d keys; its last renewal was sent %s before", victim.Identity(), len(theirs), time.Since(lastRenewal).Round(time.Millisecond))

	deadline = time.Now().Add(apiLeaseDuration + 5*apiRetryPeriod + 5*time.Second)
	var taken time.Time
	for {
		actors = check()
		done, any := true, false
		for _, i := range theirs {
			switch actors[i] {
			case "", victim.Identity():
				done = false
			default:
				any = true
			}
		}
		if any && taken.IsZero() {
			taken = time.Now()
			if early := lastRenewal.Add(apiLeaseDuration); taken.Before(early) {
				t.Fatalf("a key of the victim was taken %s after its last renewal, before its Lease could expire (%s)",
					taken.Sub(lastRenewal).Round(time.Millisecond), apiLeaseDuration)
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the victim's keys are not all taken over %s after its last renewal", time.Since(lastRenewal).Round(time.Millisecond))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("the victim's keys taken over %s after its last renewal (lease duration %s)", time.Since(lastRenewal).Round(time.Millisecond), apiLeaseDuration)
	if got := ms[0].Members(); got != 2 {
		t.Errorf("members in replica-0's view: %d, want 2", got)
	}
}
