package scaler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/raypilot/raypilot/internal/shard"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// addSharding makes r act only on the clusters this replica owns among the
// live members (internal/shard), and returns the source that enqueues every
// cached managed RayCluster when the members change, so that gained
// clusters start at once. Lost clusters stop at their next round.
func addSharding(mgr ctrl.Manager, opts Options, identity string, r *Reconciler, reg prometheus.Registerer, log *zap.Logger) (source.Source, error) {
	if opts.LeaderElectionNamespace == "" {
		return nil, fmt.Errorf("sharding needs the member Leases' namespace (--leader-elect-resource-namespace)")
	}
	o := shard.Options{Namespace: opts.LeaderElectionNamespace, Name: leaseName(opts), Identity: identity,
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod}
	o.SetDefaults()
	member, err := shard.New(mgr.GetConfig(), o, log.Named("shard"))
	if err != nil {
		return nil, err
	}
	r.Owner = func(key types.NamespacedName) (bool, time.Duration) { return member.Owns(key.String()) }
	r.Write = func(key types.NamespacedName, write func() error) error {
		err := member.Write(key.String(), write)
		if errors.Is(err, shard.ErrNotActing) {
			return errNotOwner
		}
		return err
	}
	if err := reg.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "raypilot_scaler_shard_members",
		Help: "Live scaler replicas in this replica's view (--sharding); 0 while it acts on nothing.",
	}, func() float64 { return float64(member.Members()) })); err != nil {
		return nil, fmt.Errorf("register shard metrics: %w", err)
	}
	if err := mgr.Add(manager.RunnableFunc(member.Run)); err != nil {
		return nil, err
	}
	wake := make(chan event.TypedGenericEvent[*rayv1.RayCluster])
	err = mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-member.Changes():
			}
			if err := enqueueManaged(ctx, mgr.GetClient(), wake); err != nil && ctx.Err() == nil {
				log.Warn("cannot enqueue the clusters after a change of members", zap.Error(err))
			}
		}
	}))
	if err != nil {
		return nil, err
	}
	return source.TypedChannel(wake, &handler.TypedEnqueueRequestForObject[*rayv1.RayCluster]{}), nil
}

// leaseName is the Lease (leader election) or the member Leases' prefix
// and label value (sharding).
func leaseName(opts Options) string {
	if opts.LeaderElectionName != "" {
		return opts.LeaderElectionName
	}
	return "raypilot-scaler"
}

// enqueueManaged sends every cached managed RayCluster to wake.
func enqueueManaged(ctx context.Context, c client.Reader, wake chan<- event.TypedGenericEvent[*rayv1.RayCluster]) error {
	var list rayv1.RayClusterList
	if err := c.List(ctx, &list); err != nil {
		return fmt.Errorf("list RayClusters: %w", err)
	}
	for i := range list.Items {
		if !watched(&list.Items[i]) {
			continue
		}
		select {
		case wake <- event.TypedGenericEvent[*rayv1.RayCluster]{Object: &list.Items[i]}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// errNotOwner refuses a write once this replica no longer owns the cluster.
var errNotOwner = errors.New("this scaler replica no longer owns the cluster")

// owns reports whether this replica may act on key now (always without
// sharding).
func (r *Reconciler) owns(key types.NamespacedName) bool {
	if r.Owner == nil {
		return true
	}
	act, _ := r.Owner(key)
	return act
}

// guard runs one write of key's round while this replica may act on key
// (Reconciler.Write when set), errNotOwner otherwise.
func (r *Reconciler) guard(key types.NamespacedName) func(write func() error) error {
	return func(write func() error) error {
		if r.Write != nil {
			return r.Write(key, write)
		}
		if !r.owns(key) {
			return errNotOwner
		}
		return write()
	}
}

// fencedPatcher refuses the patch once ownership is lost during a round
// (the drains before it may take seconds).
type fencedPatcher struct {
	actuator.Patcher
	guard func(func() error) error
}

func (p fencedPatcher) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return p.guard(func() error { return p.Patcher.Patch(ctx, obj, patch, opts...) })
}

// fencedDrainer refuses each drain once ownership is lost during a round.
type fencedDrainer struct {
	actuator.Drainer
	guard func(func() error) error
}

func (d fencedDrainer) DrainNode(ctx context.Context, nodeID []byte, reason rpcpb.DrainNodeReason, message string, deadline time.Time) (accepted bool, rejection string, err error) {
	err = d.guard(func() error {
		var werr error
		accepted, rejection, werr = d.Drainer.DrainNode(ctx, nodeID, reason, message, deadline)
		return werr
	})
	return accepted, rejection, err
}

func (d fencedDrainer) StopNode(ctx context.Context, nodeID []byte) (stopped bool, err error) {
	err = d.guard(func() error {
		var werr error
		stopped, werr = d.Drainer.StopNode(ctx, nodeID)
		return werr
	})
	return stopped, err
}
