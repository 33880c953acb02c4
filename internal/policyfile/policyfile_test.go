package policyfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raypilot/raypilot/defaults"
)

// enforcedA enforces priorityClassName a and a toleration.
const enforcedA = `defaults:
  priorityClassName: a
  tolerations: [{key: dedicated, operator: Equal, value: ray, effect: NoSchedule}]
enforce: [priorityClassName, tolerations]
`

// enforcedB is a second policy; its first two lines alone parse as a valid
// policy that enforces nothing (a write cut short there).
const enforcedB = `defaults:
  priorityClassName: b
  tolerations: [{key: dedicated, operator: Equal, value: ray-b, effect: NoSchedule}]
enforce: [priorityClassName, tolerations]
`

// fixture is a policy file loaded with its reloads counted on a private
// registry and its reports collected.
type fixture struct {
	t       *testing.T
	path    string
	p       *File
	reg     *prometheus.Registry
	reports []Report
}

func newFixture(t *testing.T, content string) *fixture {
	t.Helper()
	f := &fixture{t: t, path: filepath.Join(t.TempDir(), "policy.yaml"), reg: prometheus.NewRegistry()}
	f.write(content)
	p, err := Load(f.path, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Instrument(f.reg); err != nil {
		t.Fatal(err)
	}
	p.OnReport(func(r Report) { f.reports = append(f.reports, r) })
	f.p = p
	return f
}

// write replaces the file's content the way the kubelet does: atomically
// (a rename), so a concurrent Watch never reads a partial write that the
// test did not ask for.
func (f *fixture) write(content string) {
	f.t.Helper()
	tmp := f.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		f.t.Fatal(err)
	}
}

// reload calls Reload and checks its outcome.
func (f *fixture) reload(want Outcome) error {
	f.t.Helper()
	got, err := f.p.Reload()
	if got != want {
		f.t.Fatalf("Reload() = %s (%v), want %s", got, err, want)
	}
	if (err != nil) != (want == Rejected) {
		f.t.Fatalf("Reload() = %s with error %v", got, err)
	}
	return err
}

// count reads raypilot_policy_reloads_total{result}.
func (f *fixture) count(result Outcome) float64 {
	f.t.Helper()
	mfs, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != MetricReloads {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == string(result) {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	f.t.Fatalf("%s{result=%q} is not exported", MetricReloads, result)
	return 0
}

// wantEnforced checks that the policy in force enforces priorityClassName
// with value class and a toleration with value toleration.
func (f *fixture) wantEnforced(class, toleration string) {
	f.t.Helper()
	pol := f.p.Get()
	if !pol.Enforces("priorityClassName") || !pol.Enforces("tolerations") {
		f.t.Errorf("enforce = %v, want priorityClassName and tolerations", pol.Enforce)
	}
	if pol.Defaults.PriorityClassName != class {
		f.t.Errorf("priorityClassName = %q, want %q", pol.Defaults.PriorityClassName, class)
	}
	if len(pol.Defaults.Tolerations) != 1 || pol.Defaults.Tolerations[0].Value != toleration {
		f.t.Errorf("tolerations = %+v, want one with value %q", pol.Defaults.Tolerations, toleration)
	}
}

// waitAttempts waits until Watch has finished n reloads in all.
func (f *fixture) waitAttempts(n uint64) {
	f.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		got, next := f.p.Attempts()
		if got >= n {
			return
		}
		select {
		case <-next:
		case <-deadline:
			f.t.Fatalf("Watch finished %d reloads, waiting for %d", got, n)
		}
	}
}

// TestEmptyFileKeepsEnforcement: a policy file truncated to 0 bytes is
// rejected on every read, however often it is read identically; the
// enforced policy stays, the rejection is counted each time and reported once.
func TestEmptyFileKeepsEnforcement(t *testing.T) {
	f := newFixture(t, enforcedA)
	loadedAt := f.p.LoadedAt()
	f.wantEnforced("a", "ray")

	f.write("")
	err := f.reload(Rejected)
	if !errors.Is(err, ErrEmpty) {
		t.Errorf("Reload() error = %v, want ErrEmpty", err)
	}
	f.reload(Rejected) // the same empty read twice is still not applied
	f.wantEnforced("a", "ray")
	if got := f.count(Rejected); got != 2 {
		t.Errorf("rejected = %v, want 2", got)
	}
	if got := f.count(Applied); got != 0 {
		t.Errorf("applied = %v, want 0", got)
	}
	if len(f.reports) != 1 || f.reports[0].Outcome != Rejected || !errors.Is(f.reports[0].Err, ErrEmpty) ||
		!f.reports[0].LoadedAt.Equal(loadedAt) || f.reports[0].Path != f.path {
		t.Errorf("reports = %+v, want one Rejected, ErrEmpty, loaded at %v", f.reports, loadedAt)
	}

	// Whitespace, comments and null are no policy either.
	for _, empty := range []string{" \n\t\n", "# policy: to be written\n", "---\n", "null\n"} {
		f.write(empty)
		if err := f.reload(Rejected); !errors.Is(err, ErrEmpty) {
			t.Errorf("%q: Reload() error = %v, want ErrEmpty", empty, err)
		}
		f.reload(Rejected)
	}
	f.wantEnforced("a", "ray")

	// The built-in policy on purpose is {}: applied like any change.
	f.write("{}\n")
	f.reload(Pending)
	f.reload(Applied)
	if pol := f.p.Get(); len(pol.Enforce) != 0 || pol.Defaults.Image != defaults.BuiltinImage {
		t.Errorf("{} applied %+v, want the built-in policy", pol)
	}

	// At start-up, an empty file is an error, not the built-in policy.
	if _, err := Load(writeTemp(t, ""), zap.NewNop()); !errors.Is(err, ErrEmpty) {
		t.Errorf("Load(empty file) error = %v, want ErrEmpty", err)
	}
}

// TestHalfWrittenFileNotApplied: a write caught halfway, whose prefix is a
// valid policy without the enforce list, is not applied; the full new
// document is applied only on the second identical read.
func TestHalfWrittenFileNotApplied(t *testing.T) {
	f := newFixture(t, enforcedA)
	half := strings.Join(strings.SplitAfter(enforcedB, "\n")[:2], "")
	if pol, err := defaults.ParsePolicy([]byte(half)); err != nil || len(pol.Enforce) != 0 {
		t.Fatalf("the half-written document must parse and enforce nothing: %+v, %v", pol, err)
	}

	f.write(half)
	f.reload(Pending)
	f.wantEnforced("a", "ray")

	f.write(enforcedB) // the writer finishes: a different content, seen once
	f.reload(Pending)
	f.wantEnforced("a", "ray")

	f.reload(Applied) // read identical twice: in force
	f.wantEnforced("b", "ray-b")
	f.reload(Unchanged)
	if got := []float64{f.count(Pending), f.count(Applied), f.count(Unchanged), f.count(Rejected)}; !slices.Equal(got, []float64{2, 1, 1, 0}) {
		t.Errorf("pending, applied, unchanged, rejected = %v, want [2 1 1 0]", got)
	}
	if len(f.reports) != 1 || f.reports[0].Outcome != Applied {
		t.Errorf("reports = %+v, want one Applied", f.reports)
	}

	// A change read once and then reverted to the policy in force is
	// dropped: reading it again later starts over.
	f.write(half)
	f.reload(Pending)
	f.write(enforcedB)
	f.reload(Unchanged)
	f.write(half)
	f.reload(Pending)
	f.wantEnforced("b", "ray-b")
}

// TestUnparsableFileKept: a document that does not parse (a write cut in the
// middle of a flow mapping) or is not a valid policy is rejected on every
// read and reported once per content.
func TestUnparsableFileKept(t *testing.T) {
	f := newFixture(t, enforcedA)
	cut := enforcedB[:strings.Index(enforcedB, "effect")]
	for _, bad := range []string{cut, "defaults: {priorityClassName: [not, a, string]}\n"} {
		f.write(bad)
		f.reload(Rejected)
		f.reload(Rejected)
		f.wantEnforced("a", "ray")
	}
	if got := f.count(Rejected); got != 4 {
		t.Errorf("rejected = %v, want 4", got)
	}
	if len(f.reports) != 2 || f.reports[0].Outcome != Rejected || f.reports[1].Outcome != Rejected {
		t.Errorf("reports = %+v, want two Rejected", f.reports)
	}
	// A valid change after a pending one that went bad starts over.
	f.write(enforcedB)
	f.reload(Pending)
	f.write(cut)
	f.reload(Rejected)
	f.write(enforcedB)
	f.reload(Pending)
	f.wantEnforced("a", "ray")
	f.reload(Applied)
	f.wantEnforced("b", "ray-b")

	// An unreadable file is rejected too.
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	f.reload(Rejected)
	f.wantEnforced("b", "ray-b")
}

// TestWatchReloadsAndKeepsLastGood: Watch drives Reload; every wait is on
// reloads Watch has finished, never a fixed sleep.
func TestWatchReloadsAndKeepsLastGood(t *testing.T) {
	f := newFixture(t, "defaults: {priorityClassName: a}")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.p.Watch(ctx, 10*time.Millisecond)
	class := func() string { return f.p.Get().Defaults.PriorityClassName }
	// after writes content and waits until Watch has finished n reloads
	// that each started after the write (a reload in progress during the
	// write may have read the old content).
	after := func(content string, n uint64) {
		t.Helper()
		f.write(content)
		done, _ := f.p.Attempts()
		f.waitAttempts(done + 1 + n)
	}

	after("defaults: {priorityClassName: b}", 2) // read twice: applied
	if class() != "b" {
		t.Fatalf("priorityClassName = %q after two reads of b, want b", class())
	}
	// It was pending on its first read (a half-written file would have
	// been caught there), then applied.
	if pending, applied := f.count(Pending), f.count(Applied); pending != 1 || applied != 1 {
		t.Errorf("pending, applied = %v, %v; want 1, 1", pending, applied)
	}

	rejected := f.count(Rejected)
	after("defaults: {priorityClassName: [not, a, string]}", 2)
	if class() != "b" { // the bad document is refused, the last good one stays
		t.Errorf("priorityClassName = %q after an invalid document, want b", class())
	}
	if got := f.count(Rejected); got < rejected+2 {
		t.Errorf("rejected = %v, want at least %v: Watch did not read the invalid document twice", got, rejected+2)
	}

	rejected = f.count(Rejected)
	after("", 2)
	if class() != "b" {
		t.Errorf("priorityClassName = %q after an empty file, want b", class())
	}
	if got := f.count(Rejected); got < rejected+2 {
		t.Errorf("rejected = %v, want at least %v: Watch did not read the empty file twice", got, rejected+2)
	}

	after("defaults: {priorityClassName: c}", 2)
	if class() != "c" {
		t.Errorf("priorityClassName = %q after two reads of c, want c", class())
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing"), zap.NewNop()); err == nil {
		t.Error("a missing policy file at start-up is not an error")
	}
}

// TestWatchTruncatedInPlaceNeverApplied: a writer that truncates the file
// and then writes the new document into it (an editor saving in place, or
// os.WriteFile) leaves it empty for a moment. Watch rejects every empty read,
// so the policy in force stays, and applies the complete document once it
// has read it twice. Every wait is on reloads Watch has finished.
func TestWatchTruncatedInPlaceNeverApplied(t *testing.T) {
	f := newFixture(t, enforcedA)
	var mu sync.Mutex
	var reports []Report
	f.p.OnReport(func(r Report) {
		mu.Lock()
		reports = append(reports, r)
		mu.Unlock()
	})
	outcomes := func() []Outcome {
		mu.Lock()
		defer mu.Unlock()
		var out []Outcome
		for _, r := range reports {
			out = append(out, r.Outcome)
		}
		return out
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go f.p.Watch(ctx, time.Millisecond)

	// The writer has truncated the file and not written yet: Watch reads
	// it empty on several polls (a reload in progress during the
	// truncation may still have read the old content).
	if err := os.Truncate(f.path, 0); err != nil {
		t.Fatal(err)
	}
	done, _ := f.p.Attempts()
	f.waitAttempts(done + 3)
	f.wantEnforced("a", "ray")
	if got := f.count(Rejected); got < 2 {
		t.Errorf("rejected = %v, want at least 2: Watch did not read the empty file twice", got)
	}
	if got := f.count(Applied); got != 0 {
		t.Errorf("applied = %v while the file was empty, want 0", got)
	}
	if got := outcomes(); !slices.Equal(got, []Outcome{Rejected}) {
		t.Errorf("reports = %v, want one Rejected", got)
	}

	// The writer finishes, in place: the complete document is applied.
	in, err := os.OpenFile(f.path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := in.WriteString(enforcedB); err != nil {
		t.Fatal(err)
	}
	if err := in.Close(); err != nil {
		t.Fatal(err)
	}
	done, _ = f.p.Attempts()
	f.waitAttempts(done + 3)
	f.wantEnforced("b", "ray-b")
	if got := f.count(Applied); got != 1 {
		t.Errorf("applied = %v, want 1", got)
	}
	if got := outcomes(); !slices.Equal(got, []Outcome{Rejected, Applied}) {
		t.Errorf("reports = %v, want Rejected then Applied", got)
	}
}

// TestInstrumentSharesCounter: two Files of one process (the integration
// tests run several webhooks) share the counter instead of failing.
func TestInstrumentSharesCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := newFixture(t, enforcedA), newFixture(t, enforcedB)
	for _, p := range []*File{a.p, b.p} {
		if err := p.Instrument(reg); err != nil {
			t.Fatalf("Instrument: %v", err)
		}
		p.Reload()
	}
	a.reg = reg
	if got := a.count(Unchanged); got != 2 {
		t.Errorf("unchanged = %v, want 2", got)
	}
}

// recorder is an events.EventRecorder keeping what it is given.
type recorder struct{ events []string }

func (r *recorder) Eventf(regarding, _ runtime.Object, eventtype, reason, action, note string, args ...any) {
	ref := regarding.(*corev1.ObjectReference)
	r.events = append(r.events, fmt.Sprintf("%s/%s/%s uid=%s %s %s %s: %s",
		ref.Kind, ref.Namespace, ref.Name, ref.UID, eventtype, reason, action, fmt.Sprintf(note, args...)))
}

// TestEventReporter: a rejection becomes a Warning Event on the ConfigMap
// (with its UID when it can be read) naming the cause and when the policy
// that stays was loaded; an applied change a Normal one.
func TestEventReporter(t *testing.T) {
	f := newFixture(t, enforcedA)
	cm := types.NamespacedName{Namespace: "raypilot-system", Name: "raypilot-policy"}
	reader := fake.NewClientBuilder().WithObjects(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: cm.Namespace, Name: cm.Name, UID: "cm-uid"}}).Build()
	rec := &recorder{}
	f.p.OnReport(EventReporter(rec, cm, reader, zap.NewNop()))
	loaded := f.p.LoadedAt().UTC().Format(time.RFC3339)

	f.write("")
	f.reload(Rejected)
	f.reload(Rejected)
	f.write(enforcedB)
	f.reload(Pending)
	f.reload(Applied)
	want := []string{
		"ConfigMap/raypilot-system/raypilot-policy uid=cm-uid Warning PolicyRejected ReloadPolicy: " + f.path + ": " + ErrEmpty.Error() + "; keeping the policy loaded at " + loaded,
		"ConfigMap/raypilot-system/raypilot-policy uid=cm-uid Normal PolicyApplied ReloadPolicy: " + f.path + ": the changed policy is in force (read unchanged on two consecutive polls)",
	}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(rec.events, "\n"), strings.Join(want, "\n"))
	}

	// The ConfigMap cannot be read (RBAC, gone): the Event still names it.
	rec.events = nil
	f.p.OnReport(EventReporter(rec, cm, fake.NewClientBuilder().Build(), zap.NewNop()))
	f.write("enforce: [hostNetwork]\n")
	f.reload(Rejected)
	if len(rec.events) != 1 || !strings.HasPrefix(rec.events[0], "ConfigMap/raypilot-system/raypilot-policy uid= Warning PolicyRejected") ||
		!strings.Contains(rec.events[0], "hostNetwork") {
		t.Errorf("events = %q, want one PolicyRejected naming hostNetwork", rec.events)
	}
}

func writeTemp(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
