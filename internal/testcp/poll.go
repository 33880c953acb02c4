package testcp

import (
	"encoding/json"
	"testing"
	"time"
)

// Eventually polls cond every 250 ms until it holds or timeout passes, then
// fails t naming what and the last state cond reported.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s; last state: %s", what, timeout, last)
}

// DecodeJSON decodes data into a T or fails t showing the data.
func DecodeJSON[T any](t testing.TB, data string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(data), &v); err != nil {
		t.Fatalf("decode: %v\n%s", err, data)
	}
	return v
}
