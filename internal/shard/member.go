package shard

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	coordinationclient "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"github.com/raypilot/raypilot/internal/lease"
)

// Label marks the member Leases of a group; its value is the group's
// resource name.
const Label = "raypilot.io/scaler-shards"

// Options configure one member of a group.
type Options struct {
	// Namespace of the member Leases and Name of the group: each member's
	// Lease is Name-<hash of Identity>, labelled Label=Name.
	Namespace, Name string
	// Identity of this replica; default: host name plus a random suffix.
	Identity string
	// LeaseDuration: a member is gone once its Lease was not seen renewed
	// for this long. RenewDeadline: a member whose renewal or view refresh
	// failed this long acts on nothing; below LeaseDuration. RetryPeriod:
	// time between two renewals and two refreshes. Defaults 15 s, 10 s,
	// 2 s (client-go's usual values).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Handover is how long a key gained from a live member waits (default
	// RenewDeadline + RetryPeriod: the longest a view is stale before its
	// holder stops acting, plus a round's writes).
	Handover time.Duration
}

// SetDefaults fills the identity and timings left empty, as leader
// election does (internal/lease).
func (o *Options) SetDefaults() {
	l := lease.Options{Identity: o.Identity, LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod}
	l.SetDefaults()
	o.Identity, o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = l.Identity, l.LeaseDuration, l.RenewDeadline, l.RetryPeriod
	if o.Handover == 0 {
		o.Handover = o.RenewDeadline + o.RetryPeriod
	}
}

// Validate checks the timings' order.
func (o *Options) Validate() error {
	if o.Namespace == "" || o.Name == "" {
		return fmt.Errorf("shard member Leases need a namespace and a name")
	}
	if !(o.RetryPeriod < o.RenewDeadline && o.RenewDeadline < o.LeaseDuration) {
		return fmt.Errorf("shard timings: want retry period (%s) < renew deadline (%s) < lease duration (%s)", o.RetryPeriod, o.RenewDeadline, o.LeaseDuration)
	}
	return nil
}

// LeaseName is the name of the member Lease of identity in group name.
func LeaseName(name, identity string) string {
	return fmt.Sprintf("%s-%08x", name, uint32(Hash(identity)))
}

// Member is this replica's membership in a group: it keeps its Lease
// renewed, refreshes its view of the others and answers which keys it may
// act on. Safe for concurrent use.
type Member struct {
	leases  coordinationclient.LeaseInterface
	opts    Options
	log     *zap.Logger
	now     func() time.Time
	changed chan struct{}

	// writes is held for reading by each write Write runs and for
	// writing by stop, so that the Lease goes only after the last write.
	writes sync.RWMutex

	mu    sync.Mutex
	fence Fence
	seen  map[string]observation // by Lease name
	own   *coordinationv1.Lease  // as last written
	done  bool
}

// observation is the last change of one Lease this replica saw.
type observation struct {
	holder string
	renew  time.Time
	at     time.Time // local monotonic time the change was seen
	rv     string
}

// gcAfter: a Lease not seen renewed for this many LeaseDurations (a
// crashed replica's) is deleted by whoever sees it, on the condition that
// it was not renewed since (resourceVersion precondition).
const gcAfter = 4

// New returns a Member for o (with its defaults set).
func New(cfg *rest.Config, o Options, log *zap.Logger) (*Member, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("shard lease client: %w", err)
	}
	return newMember(cs.CoordinationV1().Leases(o.Namespace), o, time.Now, log), nil
}

func newMember(leases coordinationclient.LeaseInterface, o Options, now func() time.Time, log *zap.Logger) *Member {
	return &Member{
		leases: leases, opts: o, now: now, changed: make(chan struct{}, 1),
		log:   log.With(zap.String("group", o.Namespace+"/"+o.Name), zap.String("identity", o.Identity)),
		fence: Fence{Self: o.Identity, Handover: o.Handover, Deadline: o.RenewDeadline},
		seen:  map[string]observation{},
	}
}

// Identity is this replica's identity.
func (m *Member) Identity() string { return m.opts.Identity }

// Changes receives a value after the view changed or this replica stopped
// acting (coalesced: one value may stand for several changes).
func (m *Member) Changes() <-chan struct{} { return m.changed }

// Owns reports whether this replica may act on key now and, when it owns
// key but waits for a handover, how long.
func (m *Member) Owns(key string) (act bool, wait time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return false, 0
	}
	return m.fence.Decide(key, m.now())
}

// ErrNotActing is Write's answer when this replica may not act on the key.
var ErrNotActing = errors.New("this replica may not act on the key")

// Write runs write if this replica may act on key, and returns its error;
// ErrNotActing otherwise. A replica that stops waits for the writes in
// flight before deleting its Lease: the others take its keys over as soon
// as the Lease is gone.
func (m *Member) Write(key string, write func() error) error {
	m.writes.RLock()
	defer m.writes.RUnlock()
	if act, _ := m.Owns(key); !act {
		return ErrNotActing
	}
	return write()
}

// Members is the number of live members in this replica's view (0 while
// it acts on nothing).
func (m *Member) Members() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done {
		return 0
	}
	return len(m.fence.Members(m.now()))
}

// Run renews the Lease and refreshes the view every RetryPeriod until ctx
// ends; then this replica stops acting and deletes its Lease, so that the
// others take its keys over at once.
func (m *Member) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.RetryPeriod)
	defer t.Stop()
	for {
		m.tick(ctx)
		select {
		case <-ctx.Done():
			m.stop()
			return nil
		case <-t.C:
		}
	}
}

func (m *Member) notify() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *Member) tick(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, m.opts.RenewDeadline)
	defer cancel()
	sent := m.now()
	if err := m.renew(ctx); err != nil {
		m.log.Warn("cannot renew the member Lease", zap.Error(err))
	} else {
		m.mu.Lock()
		m.fence.Renewed(sent)
		m.mu.Unlock()
	}
	sent = m.now()
	list, err := m.leases.List(ctx, metav1.ListOptions{LabelSelector: Label + "=" + m.opts.Name})
	if err != nil {
		m.log.Warn("cannot list the member Leases", zap.Error(err))
		return
	}
	m.mu.Lock()
	members, stale := m.observe(list.Items, m.now())
	before, term := len(m.fence.Members(sent)), m.fence.since
	changed := m.fence.Refreshed(sent, members)
	after, lapsed := m.fence.Members(sent), !term.IsZero() && !m.fence.since.Equal(term)
	m.mu.Unlock()
	if lapsed {
		m.log.Warn("renewal or refresh failed for the renew deadline; acting again, clusters gained from live members after the handover",
			zap.Duration("handover", m.opts.Handover))
	}
	if changed || before != len(after) {
		m.log.Info("members", zap.Strings("live", after))
		m.notify()
	}
	for name, rv := range stale {
		err := m.leases.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
		if err == nil {
			m.log.Info("deleted the Lease of a member gone long ago", zap.String("lease", name))
		} else if !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			m.log.Debug("cannot delete a stale member Lease", zap.String("lease", name), zap.Error(err))
		}
	}
}

// observe updates what was seen of each Lease at at and returns the live
// members and the stale Leases to delete (name to resourceVersion). A
// Lease no longer listed is forgotten: its member is gone at once.
func (m *Member) observe(leases []coordinationv1.Lease, at time.Time) (live []string, stale map[string]string) {
	seen := make(map[string]observation, len(leases))
	for _, l := range leases {
		holder := ptr.Deref(l.Spec.HolderIdentity, "")
		var renew time.Time
		if l.Spec.RenewTime != nil {
			renew = l.Spec.RenewTime.Time
		}
		o, ok := m.seen[l.Name]
		if !ok || o.holder != holder || !o.renew.Equal(renew) {
			o = observation{holder: holder, renew: renew, at: at}
		}
		o.rv = l.ResourceVersion
		seen[l.Name] = o
		age := at.Sub(o.at)
		switch {
		case holder == "":
		case age < m.opts.LeaseDuration:
			live = append(live, holder)
		case age > gcAfter*m.opts.LeaseDuration && l.Name != LeaseName(m.opts.Name, m.opts.Identity):
			if stale == nil {
				stale = map[string]string{}
			}
			stale[l.Name] = o.rv
		}
	}
	m.seen = seen
	return live, stale
}

// renew creates or renews this replica's Lease.
func (m *Member) renew(ctx context.Context) error {
	now := metav1.NewMicroTime(time.Now())
	if m.own == nil {
		l := &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: m.opts.Namespace, Name: LeaseName(m.opts.Name, m.opts.Identity),
				Labels: map[string]string{Label: m.opts.Name}},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(m.opts.Identity),
				LeaseDurationSeconds: ptr.To(int32(m.opts.LeaseDuration.Seconds())), AcquireTime: &now, RenewTime: &now},
		}
		created, err := m.leases.Create(ctx, l, metav1.CreateOptions{})
		if err == nil {
			m.own = created
			return nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create member Lease %s: %w", l.Name, err)
		}
		if m.own, err = m.leases.Get(ctx, l.Name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("get member Lease %s: %w", l.Name, err)
		}
	}
	l := m.own.DeepCopy()
	l.Spec.HolderIdentity = ptr.To(m.opts.Identity)
	l.Spec.LeaseDurationSeconds = ptr.To(int32(m.opts.LeaseDuration.Seconds()))
	l.Spec.RenewTime = &now
	updated, err := m.leases.Update(ctx, l, metav1.UpdateOptions{})
	if err != nil {
		m.own = nil // created, read or taken again next time
		return fmt.Errorf("renew member Lease %s: %w", l.Name, err)
	}
	m.own = updated
	return nil
}

// stop makes this replica act on nothing, waits for the writes in flight,
// then deletes its Lease.
func (m *Member) stop() {
	m.mu.Lock()
	m.done = true
	m.fence.Lost()
	m.mu.Unlock()
	m.notify()
	m.writes.Lock() // the writes in flight have returned; no new one passes Owns
	m.writes.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.RenewDeadline)
	defer cancel()
	name := LeaseName(m.opts.Name, m.opts.Identity)
	if err := m.leases.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		m.log.Warn("cannot delete the member Lease; the others take over once it expires", zap.Error(err))
		return
	}
	m.log.Info("member Lease deleted")
}
