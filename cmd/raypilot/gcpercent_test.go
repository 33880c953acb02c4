package main

import "testing"

// TestGCPercent: the webhook sets its own GOGC unless the user set one.
func TestGCPercent(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if p, ok := gcPercent(getenv); !ok || p != webhookGCPercent {
		t.Errorf("GOGC unset: got %d, %v; want %d, true", p, ok, webhookGCPercent)
	}
	env["GOGC"] = "100"
	if p, ok := gcPercent(getenv); ok {
		t.Errorf("GOGC=100 set by the user: got %d, true; want no change", p)
	}
}
