package scaler

import (
	"testing"
	"time"
)

func TestDrainRetriesBackOff(t *testing.T) {
	d := drainRetries{}
	now := time.Unix(1000, 0)
	var waits []time.Duration
	for range 12 {
		waits = append(waits, d.failed("a", now, 2*time.Second))
	}
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second}
	for i, w := range want {
		if waits[i] != w {
			t.Errorf("failure %d: wait %s, want %s", i+1, waits[i], w)
		}
	}
	for i := len(want); i < len(waits); i++ {
		if waits[i] != maxDrainBackoff {
			t.Errorf("failure %d: wait %s, want the cap %s", i+1, waits[i], maxDrainBackoff)
		}
	}
	if !d.held("a", now.Add(maxDrainBackoff-time.Second)) || d.held("a", now.Add(maxDrainBackoff)) {
		t.Error("held must hold until the backoff ends, and no longer")
	}
	if d.held("b", now) {
		t.Error("a pod without failures is held")
	}
	d.forget(func(string) bool { return false })
	if d.held("a", now) || len(d) != 0 {
		t.Error("forget kept a streak")
	}
}

// TestDrainRetriesSaturate: a streak of any length never overflows into a
// short or negative wait.
func TestDrainRetriesSaturate(t *testing.T) {
	d := drainRetries{"a": {failures: 1 << 30}}
	if w := d.failed("a", time.Unix(0, 0), time.Hour); w != maxDrainBackoff {
		t.Errorf("wait %s, want %s", w, maxDrainBackoff)
	}
}
