package lease

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/raypilot/raypilot/internal/testcp"
)

// Timings of the test's election. They keep client-go's order
// (RetryPeriod < RenewDeadline < LeaseDuration) and leave a margin of
// 2.5 s on either side of the lease's end: a holder that stops its work
// when its renewals fail stops about RetryPeriod + RenewDeadline (5.5 s)
// after its last renewal, 2.5 s before a rival may take the lease; one
// that first waits for a release call to time out (another RenewDeadline)
// stops 2.5 s after.
const (
	testLeaseDuration = 8 * time.Second
	testRenewDeadline = 5 * time.Second
	testRetryPeriod   = 500 * time.Millisecond
)

// renewals records when each successful update of one Lease was sent: a
// rival's view of the lease's expiry counts from no earlier than that.
type renewals struct {
	name string
	mu   sync.Mutex
	last time.Time
}

func (r *renewals) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		sent := time.Now()
		resp, err := rt.RoundTrip(req)
		if err == nil && req.Method == http.MethodPut && resp.StatusCode == http.StatusOK &&
			strings.HasSuffix(req.URL.Path, "/leases/"+r.name) {
			r.mu.Lock()
			r.last = sent
			r.mu.Unlock()
		}
		return resp, err
	})
}

func (r *renewals) lastSent() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// TestLeaseLostWhileRunningCampaignsAgain: the kube-apiserver stops answering
// (its process paused) for longer than the renew deadline while the holder
// keeps running. The holder's work is stopped, before the lease can have
// expired for a rival; Run does not return; once the API server answers
// again, the same process campaigns, takes the lease and runs its work
// again. When Run's context ends, the lease is released.
func TestLeaseLostWhileRunningCampaignsAgain(t *testing.T) {
	bin := os.Getenv("RAYPILOT_TOOLS_BIN")
	if bin == "" {
		t.Skip("needs etcd and kube-apiserver: RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir)")
	}
	cp, err := testcp.StartControlPlane(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cp.Stop)
	apiserver, _, err := cp.PIDs()
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cp.Config)
	if err != nil {
		t.Fatal(err)
	}

	const name = "lease-test"
	ren := &renewals{name: name}
	cfg := rest.CopyConfig(cp.Config)
	cfg.WrapTransport = ren.wrap
	o := Options{Namespace: metav1.NamespaceDefault, Name: name, Identity: "replica-a",
		LeaseDuration: testLeaseDuration, RenewDeadline: testRenewDeadline, RetryPeriod: testRetryPeriod}
	runner, err := New(cfg, o, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	started, ended := make(chan time.Time, 4), make(chan time.Time, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() {
		runDone <- runner.Run(ctx, func(lctx context.Context) {
			started <- time.Now()
			<-lctx.Done()
			ended <- time.Now()
		})
	}()
	receive := func(ch <-chan time.Time, timeout time.Duration, what string) time.Time {
		t.Helper()
		select {
		case at := <-ch:
			return at
		case err := <-runDone:
			t.Fatalf("%s: Run returned (%v)", what, err)
		case <-time.After(timeout):
			t.Fatalf("%s: not within %s", what, timeout)
		}
		return time.Time{}
	}
	holder := func() string {
		t.Helper()
		l, err := cs.CoordinationV1().Leases(o.Namespace).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ptr.Deref(l.Spec.HolderIdentity, "")
	}

	// 1. It leads.
	receive(started, 60*time.Second, "first term")
	if got := holder(); got != o.Identity {
		t.Fatalf("lease held by %q, want %q", got, o.Identity)
	}
	testcp.Eventually(t, 10*time.Second, "a renewal of the lease", func() (bool, string) {
		return !ren.lastSent().IsZero(), "none yet"
	})

	// 2. The API server stops answering; the process runs on. The holder's
	// work stops before a rival could take the lease, and Run goes on.
	if err := syscall.Kill(apiserver, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := syscall.Kill(apiserver, syscall.SIGCONT); err != nil {
				t.Errorf("resume kube-apiserver: %v", err)
			}
		}
	}
	t.Cleanup(resume) // before cp.Stop: a paused API server would not stop
	lost := receive(ended, 3*testLeaseDuration, "the work stops once the lease is lost")
	last := ren.lastSent()
	t.Logf("API server paused; work stopped %s later, %s after the last renewal was sent (lease duration %s, renew deadline %s, retry period %s)",
		lost.Sub(paused).Round(10*time.Millisecond), lost.Sub(last).Round(10*time.Millisecond),
		testLeaseDuration, testRenewDeadline, testRetryPeriod)
	if !lost.Before(last.Add(testLeaseDuration)) {
		t.Errorf("work stopped %s after the last renewal was sent, not before the lease could expire for a rival (%s)",
			lost.Sub(last).Round(10*time.Millisecond), testLeaseDuration)
	}
	select {
	case err := <-runDone:
		t.Fatalf("Run returned after the lease was lost (%v); it must campaign again", err)
	default:
	}

	// 3. The API server answers again: the same process campaigns, takes
	// the lease and runs its work again.
	resume()
	back := time.Now()
	again := receive(started, 60*time.Second, "a second term once the API server answers again")
	t.Logf("leading again %s after the API server was resumed", again.Sub(back).Round(10*time.Millisecond))
	if got := holder(); got != o.Identity {
		t.Fatalf("lease held by %q after the second election, want %q", got, o.Identity)
	}

	// 4. Run's context ends: the work stops, Run returns and the lease is
	// released.
	cancel()
	receive(ended, 10*time.Second, "the work stops when Run's context ends")
	select {
	case err := <-runDone:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(2 * testRenewDeadline):
		t.Fatal("Run did not return after its context ended")
	}
	if got := holder(); got != "" {
		t.Errorf("lease held by %q after Run returned, want it released", got)
	}
}
