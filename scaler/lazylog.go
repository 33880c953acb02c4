package scaler

import (
	"slices"

	"github.com/go-logr/logr"
)

// lazySink defers a logr logger's WithValues until a line is written.
// controller-runtime builds a logger with the request's name and a
// reconcile ID for every round (internal/controller reconcileHandler);
// through zapr each WithValues clones zap's encoder and its buffer, which
// at 2,000 clusters a second was a sixth of the scaler's allocations
// (bench/scalercap) for lines almost never written.
type lazySink struct {
	base logr.LogSink
	// values are WithValues' key-value pairs not yet given to base.
	values []any
}

// lazyLogger wraps l so that its WithValues cost nothing until it logs.
// It takes l's sink over: l is to be a logger of its own (zapr.NewLogger
// called for it), whose caller skip it raises by this sink's frame.
func lazyLogger(l logr.Logger) logr.Logger {
	base := l.GetSink()
	if base == nil {
		return l
	}
	base.Init(logr.RuntimeInfo{CallDepth: 1})
	return logr.New(lazySink{base: base})
}

func (s lazySink) sink() logr.LogSink {
	if len(s.values) == 0 {
		return s.base
	}
	return s.base.WithValues(s.values...)
}

// Init implements logr.LogSink; base was initialised by lazyLogger.
func (s lazySink) Init(logr.RuntimeInfo) {}

// Enabled implements logr.LogSink.
func (s lazySink) Enabled(level int) bool { return s.base.Enabled(level) }

// Info implements logr.LogSink.
func (s lazySink) Info(level int, msg string, keysAndValues ...any) {
	s.sink().Info(level, msg, keysAndValues...)
}

// Error implements logr.LogSink.
func (s lazySink) Error(err error, msg string, keysAndValues ...any) {
	s.sink().Error(err, msg, keysAndValues...)
}

// WithValues implements logr.LogSink.
func (s lazySink) WithValues(keysAndValues ...any) logr.LogSink {
	return lazySink{base: s.base, values: append(slices.Clip(s.values), keysAndValues...)}
}

// WithName implements logr.LogSink.
func (s lazySink) WithName(name string) logr.LogSink {
	return lazySink{base: s.base.WithName(name), values: s.values}
}
