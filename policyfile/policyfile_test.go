package policyfile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestPolicyFileReloadsAndKeepsLastGood(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("defaults: {priorityClassName: a}")
	p, err := Load(path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go p.Watch(ctx, 10*time.Millisecond)
	waitFor := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for p.Get().Defaults.PriorityClassName != want {
			if time.Now().After(deadline) {
				t.Fatalf("priorityClassName = %q, want %q", p.Get().Defaults.PriorityClassName, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("a")
	write("defaults: {priorityClassName: b}")
	waitFor("b")
	write("defaults: {priorityClassName: [not, a, string]}")
	time.Sleep(100 * time.Millisecond)
	waitFor("b") // the bad document is refused, the last good one stays
	write("defaults: {priorityClassName: c}")
	waitFor("c")
	if _, err := Load(filepath.Join(t.TempDir(), "missing"), zap.NewNop()); err == nil {
		t.Error("a missing policy file at start-up is not an error")
	}
}
