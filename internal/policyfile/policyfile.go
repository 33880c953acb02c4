// Package policyfile serves the cluster-wide policy document from a file
// (the chart's mounted ConfigMap) and reloads it when the file changes.
//
// A reload never drops the policy in force by accident: an unreadable file,
// an empty document and one that does not parse are rejected (the last good
// policy stays; the rejection is logged, counted and reported), and a changed
// document is applied only once two consecutive polls have read it
// identical, so a file caught half-written (which may itself parse, as a
// prefix of the new document) is never applied.
package policyfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
)

// Outcome is what one reload did; it is the result label of
// raypilot_policy_reloads_total.
type Outcome string

const (
	// Applied: a changed document, read identical on two consecutive
	// polls, is now the policy in force.
	Applied Outcome = "applied"
	// Pending: a changed, valid document read for the first time; it is
	// applied if the next poll reads the same bytes.
	Pending Outcome = "pending"
	// Unchanged: the file holds the policy in force.
	Unchanged Outcome = "unchanged"
	// Rejected: the file is unreadable, empty or not a valid policy; the
	// policy in force stays.
	Rejected Outcome = "rejected"
)

// Outcomes lists every Outcome.
var Outcomes = []Outcome{Applied, Pending, Unchanged, Rejected}

// ErrEmpty is the cause of rejecting a document with no content (an empty
// file, only whitespace or comments, or null). A policy that is meant to be
// the built-in one is written as {}.
var ErrEmpty = errors.New("empty policy document (write {} for the built-in policy)")

// MetricReloads is the name of the reload counter (see File.Instrument).
const MetricReloads = "raypilot_policy_reloads_total"

// Report describes a reload that applied a new policy or rejected the file;
// see File.OnReport.
type Report struct {
	// Outcome is Applied or Rejected.
	Outcome Outcome
	// Path is the policy file.
	Path string
	// Err is why the file was rejected (nil when Applied).
	Err error
	// LoadedAt is when the policy now in force was loaded: for Rejected,
	// the policy that stays; for Applied, now.
	LoadedAt time.Time
}

// File holds the policy read from a file and reloads it when the file's
// content changes (see the package documentation for what is applied).
type File struct {
	path    string
	log     *zap.Logger
	current atomic.Pointer[defaults.Policy]

	mu sync.Mutex // serialises reloads and guards the fields below
	// raw is the document in force, loadedAt when it was loaded.
	raw      []byte
	loadedAt time.Time
	// pending is a changed, valid document read once (nil: none), parsed.
	pending       []byte
	pendingPolicy *defaults.Policy
	// rejected identifies the last rejected content or read error, so each
	// is logged and reported once ("" after a good read).
	rejected string
	reloads  *prometheus.CounterVec
	report   func(Report)
	now      func() time.Time
	// attempts counts finished reloads; attempted is closed (and replaced)
	// at the end of each.
	attempts  uint64
	attempted chan struct{}
}

// Load reads path; an empty path means the built-in policy. An unreadable,
// empty or invalid document is an error.
func Load(path string, log *zap.Logger) (*File, error) {
	p := &File{path: path, log: log, now: time.Now, attempted: make(chan struct{})}
	p.loadedAt = p.now()
	if path == "" {
		p.current.Store(defaults.DefaultPolicy())
		return p, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pol, err := parse(data)
	if err != nil {
		return nil, err
	}
	p.current.Store(pol)
	p.raw = data
	p.warn(pol)
	return p, nil
}

// warn logs the likely mistakes of a policy being put in force.
func (p *File) warn(pol *defaults.Policy) {
	for _, w := range pol.Warnings() {
		p.log.Warn("policy: "+w, zap.String("path", p.path))
	}
}

// parse is defaults.ParsePolicy, except that a document with no content is
// ErrEmpty rather than the built-in policy: an empty read is a file being
// written or a broken ConfigMap far more often than an intent.
func parse(data []byte) (*defaults.Policy, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, ErrEmpty
	}
	if js, err := yaml.YAMLToJSON(data); err == nil && bytes.Equal(bytes.TrimSpace(js), []byte("null")) {
		return nil, ErrEmpty
	}
	return defaults.ParsePolicy(data)
}

// Get returns the policy in force.
func (p *File) Get() *defaults.Policy { return p.current.Load() }

// LoadedAt returns when the policy in force was loaded.
func (p *File) LoadedAt() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loadedAt
}

// Instrument counts every reload from now on in
// raypilot_policy_reloads_total{result} on reg. A counter already
// registered there (another File of the same process) is shared.
func (p *File) Instrument(reg prometheus.Registerer) error {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricReloads,
		Help: "Policy file reloads by result: applied (a changed document, read identical on two consecutive polls, is in force), " +
			"pending (a changed document read once), unchanged, rejected (unreadable, empty or invalid: the last good policy stays).",
	}, []string{"result"})
	if err := reg.Register(c); err != nil {
		are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
		if !ok {
			return fmt.Errorf("register %s: %w", MetricReloads, err)
		}
		if c, ok = are.ExistingCollector.(*prometheus.CounterVec); !ok {
			return fmt.Errorf("register %s: %w", MetricReloads, err)
		}
	}
	for _, o := range Outcomes {
		c.WithLabelValues(string(o)) // every result is exported from the start, at 0
	}
	p.mu.Lock()
	p.reloads = c
	p.mu.Unlock()
	return nil
}

// OnReport calls f, from the reloading goroutine, for every reload that
// applies a new policy and once for every distinct rejected content (or
// read error) in a row. EventReporter makes an f that records Events.
func (p *File) OnReport(f func(Report)) {
	p.mu.Lock()
	p.report = f
	p.mu.Unlock()
}

// Attempts returns how many reloads have finished and a channel closed when
// the next one finishes, so a caller can wait for Watch without sleeping.
func (p *File) Attempts() (uint64, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts, p.attempted
}

// Watch polls the file every interval (default 5 s) until ctx ends. Polling
// follows the atomic symlink swaps the kubelet uses for ConfigMap volumes
// without extra machinery; a changed document is applied on the second
// consecutive poll that reads it, one interval after it was first seen.
func (p *File) Watch(ctx context.Context, every time.Duration) {
	if p.path == "" {
		return
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_, _ = p.Reload()
		}
	}
}

// Reload reads the file once and returns what it did; the error is the
// cause when the outcome is Rejected. Watch calls it on every poll. With no
// path it does nothing (Unchanged).
func (p *File) Reload() (Outcome, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out, err := p.reload()
	if p.reloads != nil {
		p.reloads.WithLabelValues(string(out)).Inc()
	}
	p.attempts++
	close(p.attempted)
	p.attempted = make(chan struct{})
	return out, err
}

// reload runs with p.mu held.
func (p *File) reload() (Outcome, error) {
	if p.path == "" {
		return Unchanged, nil
	}
	data, err := os.ReadFile(p.path)
	if err != nil {
		return p.reject("read error "+err.Error(), err)
	}
	if bytes.Equal(data, p.raw) {
		if p.rejected != "" || p.pending != nil {
			p.log.Info("policy file holds the policy in force again", zap.String("path", p.path))
		}
		p.pending, p.pendingPolicy, p.rejected = nil, nil, ""
		return Unchanged, nil
	}
	if p.pending != nil && bytes.Equal(data, p.pending) {
		p.current.Store(p.pendingPolicy)
		p.raw, p.loadedAt = data, p.now()
		p.pending, p.pendingPolicy, p.rejected = nil, nil, ""
		p.log.Info("policy reloaded", zap.String("path", p.path))
		p.warn(p.current.Load())
		p.notify(Report{Outcome: Applied, Path: p.path, LoadedAt: p.loadedAt})
		return Applied, nil
	}
	pol, err := parse(data)
	if err != nil {
		return p.reject("content "+string(data), err)
	}
	// New content: apply it only if the next poll reads the same bytes, so
	// a document still being written is never applied.
	p.pending, p.pendingPolicy, p.rejected = data, pol, ""
	p.log.Info("policy file changed; applying it if the next poll reads it unchanged", zap.String("path", p.path))
	return Pending, nil
}

// reject keeps the policy in force; key identifies what was read, so the
// same bad content is logged and reported once.
func (p *File) reject(key string, cause error) (Outcome, error) {
	p.pending, p.pendingPolicy = nil, nil
	err := fmt.Errorf("policy file %s rejected: %w", p.path, cause)
	if key == p.rejected {
		p.log.Debug("policy still rejected; keeping the last good policy", zap.String("path", p.path), zap.Error(cause))
		return Rejected, err
	}
	p.rejected = key
	p.log.Error("policy rejected; keeping the last good policy", zap.String("path", p.path), zap.Error(cause),
		zap.Time("loadedAt", p.loadedAt))
	p.notify(Report{Outcome: Rejected, Path: p.path, Err: cause, LoadedAt: p.loadedAt})
	return Rejected, err
}

func (p *File) notify(r Report) {
	if p.report != nil {
		p.report(r)
	}
}
