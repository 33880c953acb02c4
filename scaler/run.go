package scaler

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/go-logr/zapr"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/uuid"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/eventnote"
	"github.com/raypilot/raypilot/internal/lease"
	"github.com/raypilot/raypilot/internal/policyfile"
	"github.com/raypilot/raypilot/scaler/gcs"
)

// Options configure `raypilot scaler`.
type Options struct {
	// Interval between two rounds of one cluster (changes wake it earlier).
	Interval time.Duration
	// ActiveInterval, when shorter than Interval, is the time between two
	// rounds of an active cluster: one with placeable pending demand,
	// workers asked for and not running yet, drains to retry, or a patch,
	// in its last round or the 30 s before (0: every cluster at Interval).
	ActiveInterval time.Duration
	// ActiveRoundsPerSecond caps the rounds run at ActiveInterval; past it,
	// active clusters are polled at Interval (0: no cap).
	ActiveRoundsPerSecond int
	// Concurrency bounds the clusters decided at once.
	Concurrency int
	// GCSProxy, when set, is dialled for every cluster's GCS with the
	// cluster's own address as the gRPC authority (raysim, port-forwards).
	GCSProxy string
	// GCSTimeout bounds each GCS call but the drains.
	GCSTimeout time.Duration
	// GCSDrainTimeout bounds each drain call.
	GCSDrainTimeout time.Duration
	// RayClientServiceAccount, when set, turns on Ray's Kubernetes token
	// authentication: to a cluster whose head sets
	// RAY_ENABLE_K8S_TOKEN_AUTH=true (or RAY_AUTH_MODE=k8s), the scaler
	// sends short-lived tokens of this ServiceAccount, obtained with the
	// TokenRequest API (it needs create on serviceaccounts/token for it).
	// The ServiceAccount should be allowed nothing but the custom verbs the
	// GCS checks (ray:write, ray-user on rayclusters.ray.io), as whoever runs
	// a head pod sees its tokens. Unset, such clusters are refused (a
	// GCSUnreachable Event names the fix). The scaler's own ServiceAccount
	// token is never sent.
	RayClientServiceAccount types.NamespacedName
	// Policy returns the cluster-wide policy (limits.maxWorkersPerCluster).
	Policy func() *defaults.Policy
	// PolicyFile, when set, is where Policy comes from (Policy is then its
	// Get): Run counts its reloads on the metrics registry, records
	// rejected and applied reloads as Events on PolicyConfigMap (when set)
	// and polls it every PolicyPollInterval (0: 5 s) until ctx ends.
	PolicyFile         *policyfile.File
	PolicyConfigMap    types.NamespacedName
	PolicyPollInterval time.Duration
	// LeaderElection and its Lease's namespace and name (empty:
	// raypilot-scaler), for 2 replicas in the chart: only the holder of the
	// Lease decides; the others keep warm caches, and a holder that loses
	// the Lease (an API server outage) stops deciding and campaigns again
	// instead of exiting.
	LeaderElection bool
	// Sharding runs every replica active: each keeps a member Lease
	// (LeaderElectionNamespace, named LeaderElectionName-<hash of its
	// identity>, with the same timings) and acts only on the clusters it
	// owns among the live members (internal/shard). Exclusive with
	// LeaderElection.
	Sharding                bool
	LeaderElectionNamespace string
	LeaderElectionName      string
	MetricsAddr, HealthAddr string
	// PprofAddr serves net/http/pprof when set (empty or "0": off).
	PprofAddr string
	// LeaseDuration, RenewDeadline and RetryPeriod time the election or
	// the member Leases (0: internal/lease's defaults). After a crash the
	// successor waits up to LeaseDuration plus two RetryPeriods.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// WatchNamespaces, when set, limits the RayClusters and pods cached
	// (and so the clusters scaled and the Secrets read) to these
	// namespaces, for RBAC granted by Roles there.
	WatchNamespaces []string
}

// Validate checks the options that exclude each other.
func (o *Options) Validate() error {
	if o.Sharding && o.LeaderElection {
		return fmt.Errorf("--sharding and --leader-elect are mutually exclusive: every replica scales with --sharding, one with --leader-elect")
	}
	return nil
}

// Run scales every RayCluster annotated raypilot.io/autoscaling: central
// until ctx ends; with leader election, only the leader decides, and it
// releases the lease when it stops; with sharding, each replica decides for
// the clusters it owns, and it deletes its member Lease when it stops.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log *zap.Logger) error {
	if err := opts.Validate(); err != nil {
		return err
	}
	identity := replicaIdentity()
	log = log.With(zap.String("identity", identity))
	// The identity in the user agent tells the replicas apart in the API
	// server's audit log.
	cfg = rest.CopyConfig(cfg)
	cfg.UserAgent = userAgent(cfg.UserAgent, identity)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := rayv1.AddToScheme(scheme); err != nil {
		return err
	}
	ctrl.SetLogger(lazyLogger(zapr.NewLogger(log.Named("controller-runtime"))))
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress: opts.HealthAddr,
		PprofBindAddress:       opts.PprofAddr,
		Cache:                  cacheOptions(opts.WatchNamespaces),
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Pod{}, podClusterIndex, podCluster); err != nil {
		return fmt.Errorf("index pods by cluster: %w", err)
	}
	m, err := newMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	if opts.PolicyFile != nil {
		opts.Policy = opts.PolicyFile.Get
		if err := opts.PolicyFile.Instrument(metrics.Registry); err != nil {
			return err
		}
		if opts.PolicyConfigMap.Name != "" {
			opts.PolicyFile.OnReport(policyfile.EventReporter(eventnote.Bounded(mgr.GetEventRecorder("raypilot-scaler")), opts.PolicyConfigMap, mgr.GetAPIReader(), log.Named("policy")))
		}
		go opts.PolicyFile.Watch(ctx, opts.PolicyPollInterval)
	}
	if opts.Policy == nil {
		opts.Policy = defaults.DefaultPolicy
	}
	var rayClient gcs.TokenSource
	if opts.RayClientServiceAccount.Name != "" {
		if opts.RayClientServiceAccount.Namespace == "" {
			return fmt.Errorf("the Ray client ServiceAccount %q has no namespace (--ray-client-service-account NAMESPACE/NAME)", opts.RayClientServiceAccount.Name)
		}
		rayClient = newServiceAccountTokens(mgr.GetClient(), opts.RayClientServiceAccount, nil)
	}
	r := &Reconciler{
		Client: mgr.GetClient(), Events: eventnote.Bounded(mgr.GetEventRecorder("raypilot-scaler")), Log: log.Named("scaler"),
		Policy: opts.Policy, Interval: opts.Interval, ActiveInterval: opts.ActiveInterval, Now: time.Now, metrics: m,
		memory: map[types.NamespacedName]*clusterMemory{},
		conns: &connections{clients: map[types.NamespacedName]*conn{}, proxy: opts.GCSProxy,
			options: gcs.Options{Timeout: opts.GCSTimeout, DrainTimeout: opts.GCSDrainTimeout, Observe: m.observeGCS}, secrets: mgr.GetAPIReader(),
			rayClient: rayClient},
	}
	if opts.ActiveRoundsPerSecond > 0 {
		r.fast = newFastBudget(opts.ActiveRoundsPerSecond)
	}
	defer r.conns.closeAll()
	if opts.LeaderElection {
		if err := addLeaderElection(mgr, opts, identity, r, log); err != nil {
			return err
		}
	}
	var wake source.Source
	if opts.Sharding {
		if wake, err = addSharding(mgr, opts, identity, r, metrics.Registry, log); err != nil {
			return err
		}
	}
	podToCluster := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		name := o.GetLabels()[LabelCluster]
		if name == "" {
			return nil
		}
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: name}}}
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("raypilot-scaler").
		For(&rayv1.RayCluster{}, builder.WithPredicates(predicate.NewPredicateFuncs(watched))).
		Watches(&corev1.Pod{}, podToCluster).
		WithOptions(controller.Options{MaxConcurrentReconciles: max(opts.Concurrency, 1)})
	if wake != nil {
		b = b.WatchesRawSource(wake)
	}
	err = b.Complete(r)
	if err != nil {
		return fmt.Errorf("create controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	log.Info("scaling RayClusters annotated raypilot.io/autoscaling: central",
		zap.Duration("interval", opts.Interval), zap.Duration("activeInterval", opts.ActiveInterval), zap.Int("activeRoundsPerSecond", opts.ActiveRoundsPerSecond),
		zap.String("gcsProxy", opts.GCSProxy), zap.Bool("leaderElection", opts.LeaderElection), zap.Bool("sharding", opts.Sharding),
		zap.String("rayClientServiceAccount", rayClientName(opts.RayClientServiceAccount)))
	return mgr.Start(ctx)
}

// rayClientName names the Ray client ServiceAccount for the log, "" when
// Kubernetes mode is off.
func rayClientName(sa types.NamespacedName) string {
	if sa.Name == "" {
		return ""
	}
	return sa.String()
}

// addLeaderElection makes r act only while this process holds the Lease
// (default raypilot-scaler); the Lease is released when the manager stops.
func addLeaderElection(mgr ctrl.Manager, opts Options, identity string, r *Reconciler, log *zap.Logger) error {
	if opts.LeaderElectionNamespace == "" {
		return fmt.Errorf("leader election needs the Lease's namespace (--leader-elect-resource-namespace)")
	}
	o := lease.Options{Namespace: opts.LeaderElectionNamespace, Name: leaseName(opts), Identity: identity,
		LeaseDuration: opts.LeaseDuration, RenewDeadline: opts.RenewDeadline, RetryPeriod: opts.RetryPeriod}
	o.SetDefaults()
	runner, err := lease.New(mgr.GetConfig(), o, log.Named("lease"))
	if err != nil {
		return err
	}
	var leading atomic.Bool
	r.Leading = leading.Load
	return mgr.Add(manager.RunnableFunc(func(ctx context.Context) error {
		return runner.Run(ctx, func(lctx context.Context) {
			leading.Store(true)
			<-lctx.Done()
			leading.Store(false)
		})
	}))
}

// replicaIdentity names this replica in its Leases and its user agent: the
// host name (the pod's name) and a random suffix, as internal/lease does.
func replicaIdentity() string {
	host, _ := os.Hostname()
	return host + "_" + string(uuid.NewUUID())
}

// userAgent appends the replica's identity to agent (client-go's default
// when empty).
func userAgent(agent, identity string) string {
	if agent == "" {
		agent = rest.DefaultKubernetesUserAgent()
	}
	return agent + " scaler/" + identity
}
