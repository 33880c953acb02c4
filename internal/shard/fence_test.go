package shard

import (
	"testing"
	"time"
)

const (
	testDeadline = 10 * time.Second
	testHandover = 12 * time.Second
	testPeriod   = 2 * time.Second
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newFence(self string) *Fence {
	return &Fence{Self: self, Handover: testHandover, Deadline: testDeadline}
}

// refresh is one successful period: renewal, then a view of others.
func refresh(f *Fence, at time.Duration, others ...string) {
	f.Renewed(t0.Add(at))
	f.Refreshed(t0.Add(at), others)
}

// keyOwnedBy finds a key that owner wins among members.
func keyOwnedBy(t *testing.T, owner string, members ...string) string {
	t.Helper()
	for _, k := range keys(1000) {
		if Owner(k, members) == owner {
			return k
		}
	}
	t.Fatalf("no key owned by %s among %v", owner, members)
	return ""
}

func decide(f *Fence, key string, at time.Duration) (bool, time.Duration) {
	return f.Decide(key, t0.Add(at))
}

// TestFenceLoneStart: a replica that starts alone acts at once.
func TestFenceLoneStart(t *testing.T) {
	f := newFence("a")
	if act, _ := decide(f, "ns/x", 0); act {
		t.Fatal("acts before its first renewal and view")
	}
	refresh(f, 0)
	if act, wait := decide(f, "ns/x", 0); !act || wait != 0 {
		t.Fatalf("lone replica: act %v, wait %s; want at once", act, wait)
	}
}

// TestFenceJoin: a replica joining live members waits the handover for the
// keys it gains; the member that held them stops at its next view.
func TestFenceJoin(t *testing.T) {
	a, b := newFence("a"), newFence("b")
	refresh(a, 0)
	x := keyOwnedBy(t, "b", "a", "b")
	if act, _ := decide(a, x, 0); !act {
		t.Fatal("a alone does not act on x")
	}
	// b starts at 3 s and sees a.
	refresh(b, 3*time.Second, "a")
	act, wait := decide(b, x, 3*time.Second)
	if act || wait != testHandover {
		t.Fatalf("b just joined: act %v, wait %s; want wait %s", act, wait, testHandover)
	}
	// a's next view (4 s) has b: a stops acting on x.
	refresh(a, 4*time.Second, "b")
	if act, _ := decide(a, x, 4*time.Second); act {
		t.Fatal("a acts on x after seeing b, its owner")
	}
	y := keyOwnedBy(t, "a", "a", "b")
	if act, _ := decide(a, y, 4*time.Second); !act {
		t.Fatal("a stops acting on a key it keeps")
	}
	for at := 5 * time.Second; at < 3*time.Second+testHandover; at += testPeriod {
		refresh(b, at, "a")
		if act, _ := decide(b, x, at); act {
			t.Fatalf("b acts on x at %s, before the handover ends (%s)", at, 3*time.Second+testHandover)
		}
	}
	refresh(b, 15*time.Second, "a")
	if act, wait := decide(b, x, 15*time.Second); !act {
		t.Fatalf("b does not act on x once the handover ended (wait %s)", wait)
	}
	if act, _ := decide(b, y, 15*time.Second); act {
		t.Fatal("b acts on a's key")
	}
}

// TestFenceLeaveAndCrash: keys of a member that is gone (its Lease deleted
// or expired) are taken at once.
func TestFenceLeaveAndCrash(t *testing.T) {
	b := newFence("b")
	x := keyOwnedBy(t, "c", "a", "b", "c")
	for at := time.Duration(0); at <= 20*time.Second; at += testPeriod {
		refresh(b, at, "a", "c")
	}
	if act, _ := decide(b, x, 20*time.Second); act {
		t.Fatal("b acts on c's key")
	}
	refresh(b, 22*time.Second, "a") // c gone from the view
	owner := Owner(x, []string{"a", "b"})
	act, wait := decide(b, x, 22*time.Second)
	if (owner == "b") != act || wait != 0 {
		t.Fatalf("c gone, x now %s's: b acts %v (wait %s)", owner, act, wait)
	}
}

// TestFenceStaleView: a replica whose refresh or renewal has not succeeded
// for the deadline acts on nothing, and after it recovers its term starts
// again (the others may have taken its keys).
func TestFenceStaleView(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failing  func(f *Fence, at time.Duration)
		recovers func(f *Fence, at time.Duration)
	}{
		{"refresh fails", func(f *Fence, at time.Duration) { f.Renewed(t0.Add(at)) }, func(f *Fence, at time.Duration) { refresh(f, at, "a") }},
		{"renewal fails", func(f *Fence, at time.Duration) { f.Refreshed(t0.Add(at), []string{"a"}) }, func(f *Fence, at time.Duration) { refresh(f, at, "a") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newFence("b")
			x := keyOwnedBy(t, "b", "a", "b")
			for at := time.Duration(0); at <= 20*time.Second; at += testPeriod {
				refresh(b, at, "a")
			}
			if act, _ := decide(b, x, 20*time.Second); !act {
				t.Fatal("b does not act on its key")
			}
			var stopped time.Duration
			for at := 22 * time.Second; at <= 40*time.Second; at += time.Second {
				if at%testPeriod == 0 {
					tc.failing(b, at)
				}
				if act, _ := decide(b, x, at); !act && stopped == 0 {
					stopped = at
				}
			}
			if stopped == 0 || stopped-20*time.Second > testDeadline {
				t.Fatalf("b stopped acting at %s, want within %s of its last success at 20s", stopped, testDeadline)
			}
			tc.recovers(b, 42*time.Second)
			if act, wait := decide(b, x, 42*time.Second); act || wait != testHandover {
				t.Fatalf("b recovered: act %v, wait %s; want a new term (wait %s)", act, wait, testHandover)
			}
		})
	}
}

// TestFenceLost: a replica that stopped acts on nothing.
func TestFenceLost(t *testing.T) {
	f := newFence("a")
	refresh(f, 0)
	f.Lost()
	if act, _ := decide(f, "ns/x", time.Second); act {
		t.Fatal("acts after Lost")
	}
	if m := f.Members(t0.Add(time.Second)); m != nil {
		t.Fatalf("members after Lost: %v", m)
	}
}

// TestFenceStartThenPeerGone: during a joining replica's handover, a key
// whose earlier owner is gone is acted on at once.
func TestFenceStartThenPeerGone(t *testing.T) {
	b := newFence("b")
	x := keyOwnedBy(t, "b", "a", "b")
	refresh(b, 0, "a")
	if act, _ := decide(b, x, 0); act {
		t.Fatal("b acts on x while a may still hold it")
	}
	refresh(b, testPeriod) // a's Lease deleted
	if act, wait := decide(b, x, testPeriod); !act {
		t.Fatalf("a gone: b waits %s for x", wait)
	}
}
