// Package lease runs work while this process holds a Kubernetes Lease, and
// campaigns again when it loses it instead of exiting.
//
// Why not controller-runtime's leader election: losing the lease there stops
// the whole manager (OnStoppedLeading), so an API server outage longer than
// the renew deadline restarts every replica: the webhook would drop
// in-flight reviews, the scaler its warm caches. Here losing the lease only
// stops the work; the process keeps its caches and campaigns again.
package lease

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Options configure one leader election.
type Options struct {
	// Namespace and Name of the Lease.
	Namespace, Name string
	// Identity of this replica; default: host name plus a random suffix.
	Identity string
	// Lease timings; defaults 15 s, 10 s, 2 s (client-go's usual values).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// SetDefaults fills the identity and timings left empty.
func (o *Options) SetDefaults() {
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = host + "_" + string(uuid.NewUUID())
	}
	if o.LeaseDuration == 0 {
		o.LeaseDuration = 15 * time.Second
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = 10 * time.Second
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = 2 * time.Second
	}
}

// Runner runs a function while this process holds the Lease.
type Runner struct {
	lock resourcelock.Interface
	opts Options
	log  *zap.Logger
}

// New returns a Runner for the Lease o names; o must have its defaults.
func New(cfg *rest.Config, o Options, log *zap.Logger) (*Runner, error) {
	cs, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("lease client: %w", err)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: o.Namespace, Name: o.Name},
		Client:     cs.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.Identity},
	}
	return &Runner{lock: lock, opts: o, log: log.With(zap.String("lease", o.Namespace+"/"+o.Name), zap.String("identity", o.Identity))}, nil
}

// Run campaigns for the Lease until ctx ends, running lead while leading.
// lead's context ends as soon as a renewal fails past RenewDeadline, before
// the lease can expire for a rival. When ctx ends, the Lease is released
// once lead has returned, so a successor need not wait for it to expire.
func (l *Runner) Run(ctx context.Context, lead func(context.Context)) error {
	for ctx.Err() == nil {
		leading := make(chan context.Context, 1)
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:          l.lock,
			LeaseDuration: l.opts.LeaseDuration,
			RenewDeadline: l.opts.RenewDeadline,
			RetryPeriod:   l.opts.RetryPeriod,
			// client-go's release (ReleaseOnCancel) runs before the leading
			// context ends: at shutdown while lead may still be writing, and
			// after failed renewals as a call that times out only after
			// another RenewDeadline, past the lease's end for a rival
			// (client-go: tools/leaderelection/leaderelection.go, renew).
			// Run releases the lease itself, after lead has returned.
			ReleaseOnCancel: false,
			Name:            l.opts.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				// lead runs on this goroutine, not client-go's, so that
				// campaigning again waits until the last write has returned.
				OnStartedLeading: func(lctx context.Context) { leading <- lctx },
				OnStoppedLeading: func() {},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		ran := make(chan struct{})
		go func() { defer close(ran); le.Run(ctx) }()
		select {
		case lctx := <-leading:
			l.log.Info("leading")
			lead(lctx) // returns once lctx ends: leadership lost or ctx ended
			<-ran
		case <-ran:
		}
		if ctx.Err() == nil {
			l.log.Warn("not leading any more; campaigning again")
		}
	}
	l.release()
	return nil
}

// release gives the Lease up if this process holds it, the way client-go
// does (no holder, a 1 s duration), within RenewDeadline.
func (l *Runner) release() {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.RenewDeadline)
	defer cancel()
	for {
		rec, _, err := l.lock.Get(ctx)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				l.log.Warn("cannot release the lease; a successor waits for it to expire", zap.Error(err))
			}
			return
		}
		if rec.HolderIdentity != l.opts.Identity {
			return
		}
		now := metav1.NewTime(time.Now())
		err = l.lock.Update(ctx, resourcelock.LeaderElectionRecord{
			LeaderTransitions: rec.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now,
		})
		switch {
		case err == nil:
			l.log.Info("lease released")
			return
		case apierrors.IsConflict(err):
			continue // renewed by our last renewal in flight, or taken: read it again
		default:
			l.log.Warn("cannot release the lease; a successor waits for it to expire", zap.Error(err))
			return
		}
	}
}
