package scaler

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// A lazy logger writes what the zapr logger it wraps writes (name, values,
// caller), and a WithValues that never logs costs no zap clone.
func TestLazyLogger(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	var cloned int
	counting := zap.New(core, zap.AddCaller()).WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return countingCore{Core: c, withs: &cloned}
	}))
	log := lazyLogger(zapr.NewLogger(counting)).WithName("ctrl").WithValues("controller", "raypilot-scaler")
	for range 100 {
		_ = log.WithValues("namespace", "ml", "name", "rc").WithValues("reconcileID", "x")
	}
	if cloned != 0 {
		t.Errorf("%d zap clones for loggers that never logged, want 0", cloned)
	}
	log.WithValues("namespace", "ml").Info("hello", "n", 1)
	log.Error(errors.New("boom"), "failed")
	entries := logs.All()
	if len(entries) != 2 {
		t.Fatalf("%d entries, want 2", len(entries))
	}
	got := entries[0]
	fields := got.ContextMap()
	if got.LoggerName != "ctrl" || got.Message != "hello" || fields["controller"] != "raypilot-scaler" || fields["namespace"] != "ml" || fields["n"] != int64(1) {
		t.Errorf("entry %+v, fields %v", got.Entry, fields)
	}
	if !strings.HasSuffix(got.Caller.File, "lazylog_test.go") {
		t.Errorf("caller %s, want this test", got.Caller.File)
	}
	if e := entries[1]; e.Level != zapcore.ErrorLevel || e.ContextMap()["error"] != "boom" {
		t.Errorf("error entry %+v %v", e.Entry, e.ContextMap())
	}
}

// countingCore counts zap's With calls, the clones lazySink defers.
type countingCore struct {
	zapcore.Core
	withs *int
}

func (c countingCore) With(fields []zapcore.Field) zapcore.Core {
	*c.withs++
	return countingCore{Core: c.Core.With(fields), withs: c.withs}
}
