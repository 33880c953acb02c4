package testcp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// bind listens on port of 127.0.0.1 the way a server given a port number
// does.
func bind(port int) (net.Listener, error) {
	return net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
}

func TestIsAddrInUse(t *testing.T) {
	taken, err := Listen()
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, bindErr := bind(taken.Addr().(*net.TCPAddr).Port)
	for _, c := range []struct {
		err  error
		want bool
	}{
		{bindErr, true},
		{fmt.Errorf("start metrics server: %w", bindErr), true},
		{errors.New("server exited before it was ready: exit status 1; log:\nlisten tcp 127.0.0.1:4242: bind: address already in use"), true},
		{errors.New("server exited before it was ready: exit status 1"), false},
		{nil, false},
	} {
		if got := IsAddrInUse(c.err); got != c.want {
			t.Errorf("IsAddrInUse(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestWithFreePortsRetriesBindConflicts: when another process takes a port
// between its choice and the server's bind, the server is started again on
// new ports; any other failure is returned at once.
func TestWithFreePortsRetriesBindConflicts(t *testing.T) {
	var calls [][]int
	served := false
	err := WithFreePorts(3, func(ports []int) error {
		calls = append(calls, ports)
		if len(calls) == 1 {
			// Another process binds the second port first.
			other, err := bind(ports[1])
			if err != nil {
				return err
			}
			defer other.Close()
		}
		var ls []net.Listener
		for _, p := range ports {
			l, err := bind(p)
			if err != nil {
				for _, l := range ls {
					l.Close()
				}
				return fmt.Errorf("serve on %d: %w", p, err)
			}
			ls = append(ls, l)
		}
		for _, l := range ls {
			l.Close()
		}
		served = true
		return nil
	})
	if err != nil {
		t.Fatalf("WithFreePorts: %v", err)
	}
	if len(calls) != 2 || !served {
		t.Fatalf("start called %d times (%v), want twice: once on the taken port, once more", len(calls), calls)
	}
	for _, ports := range calls {
		if len(ports) != 3 || len(slices.Compact(slices.Sorted(slices.Values(ports)))) != 3 {
			t.Errorf("ports %v: want 3 distinct", ports)
		}
	}

	calls = nil
	failure := errors.New("bad flag")
	if err := WithFreePorts(1, func(ports []int) error { calls = append(calls, ports); return failure }); !errors.Is(err, failure) || len(calls) != 1 {
		t.Errorf("WithFreePorts on a failure other than a bind conflict = %v after %d calls, want it once", err, len(calls))
	}
	calls = nil
	if err := WithFreePorts(1, func(ports []int) error {
		calls = append(calls, ports)
		return errors.New("listen tcp 127.0.0.1:4242: bind: address already in use")
	}); !IsAddrInUse(err) || len(calls) != portAttempts {
		t.Errorf("WithFreePorts on a port always taken = %v after %d calls, want %d attempts", err, len(calls), portAttempts)
	}
}

// TestWaitReadyOnTakenPort: the health port is held by a process that
// accepts connections and never answers, and the server waited for exits
// (it could not bind): WaitReady reports the exit instead of waiting on the
// silent port forever.
func TestWaitReadyOnTakenPort(t *testing.T) {
	silent, err := Listen() // the kernel accepts connections; nothing answers
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	exited := make(chan error, 1)
	go func() {
		time.Sleep(500 * time.Millisecond) // after the first poll went out
		exited <- errors.New("exit status 1")
	}()
	got := make(chan error, 1)
	go func() {
		got <- WaitReady(context.Background(), "http://"+silent.Addr().String()+"/readyz", time.Minute, exited)
	}()
	select {
	case err := <-got:
		if err == nil || !strings.Contains(err.Error(), "exited") {
			t.Errorf("WaitReady = %v, want the server's exit", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("WaitReady still waiting on a port whose holder never answers")
	}
}
