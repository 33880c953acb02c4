package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/raypilot/raypilot/internal/buildinfo"
	"github.com/raypilot/raypilot/internal/policyfile"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/gcs"
)

// newScalerCommand is `raypilot scaler`: autoscale every RayCluster
// annotated raypilot.io/autoscaling: central until SIGTERM.
func newScalerCommand() *cobra.Command {
	var (
		o          scaler.Options
		policyPath string
		le         leaderElectFlags
		common     serverFlags
	)
	cmd := &cobra.Command{
		Use:   "scaler [flags]",
		Short: "Autoscale RayClusters centrally, over Ray's GCS",
		Long: `Autoscale every RayCluster annotated raypilot.io/autoscaling: central until
SIGTERM: read each cluster's demand from its GCS, decide like Ray's v2
autoscaler, and patch the RayCluster's replicas and workersToDelete.

With --leader-elect only the replica holding the Lease decides; the others
keep warm caches and take over when it stops renewing. With --sharding every
replica decides, for the clusters it owns among the live replicas (rendezvous
hashing over one member Lease per replica, named
<leader-elect-resource-name>-<hash>; the --leader-elect-* namespace, name and
timings apply to them). A cluster gained from a live replica waits
renew deadline + retry period; the clusters of a replica killed without
notice are taken over once its Lease expires (lease duration).`,
		Example: `  # Two replicas in the cluster, the chart's policy file
  raypilot scaler --leader-elect --leader-elect-resource-namespace "$POD_NAMESPACE" \
    --policy /etc/raypilot/policy.yaml

  # Every replica active, dividing the clusters among them
  raypilot scaler --sharding --leader-elect-resource-namespace "$POD_NAMESPACE" \
    --policy /etc/raypilot/policy.yaml

  # Outside the cluster: a kubeconfig context, every GCS through one port-forward
  raypilot scaler --kubeconfig ~/.kube/config --context kind-raypilot \
    --gcs-proxy-address 127.0.0.1:6379 --log-format console --log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.LeaderElection, o.LeaderElectionNamespace, o.LeaderElectionName = le.enabled, le.namespace, le.name
			o.LeaseDuration, o.RenewDeadline, o.RetryPeriod = le.leaseDuration, le.renewDeadline, le.retryPeriod
			if err := o.Validate(); err != nil {
				return failure(err)
			}
			log, cfg, err := common.setup(cmd)
			if err != nil {
				return failure(err)
			}
			defer func() { _ = log.Sync() }()
			policy, err := policyfile.Load(policyPath, log)
			if err != nil {
				return failure(fmt.Errorf("cannot load policy: %w", err))
			}
			o.PolicyFile = policy
			if err := buildinfo.Register(metrics.Registry, version); err != nil {
				return failure(err)
			}
			if err := scaler.Run(ctrl.SetupSignalHandler(), cfg, o, log); err != nil {
				return failure(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.DurationVar(&o.Interval, "interval", time.Second, "time between two rounds of one cluster (changes wake it earlier)")
	fs.DurationVar(&o.ActiveInterval, "active-interval", 500*time.Millisecond, "time between two rounds of an active cluster (placeable pending demand, workers asked for and not running yet, drains to retry, or a patch, in its last round or the 30 s before); 0 or not shorter than --interval: every cluster at --interval")
	fs.IntVar(&o.ActiveRoundsPerSecond, "active-rounds-per-second", 500, "most rounds per second run at --active-interval, bounding the CPU that busy clusters cost; past it, active clusters are polled at --interval (0: no cap)")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "clusters decided at once")
	fs.StringVar(&o.GCSProxy, "gcs-proxy-address", "", "dial every cluster's GCS at this host:port, sending the cluster's own address (<cluster>-head-svc.<ns>.svc:<port>) as the gRPC authority; for raysim or a port-forward when the scaler runs outside the cluster")
	fs.DurationVar(&o.GCSTimeout, "gcs-timeout", gcs.DefaultTimeout, "timeout of each GCS call but the drains (reading the cluster state, reporting, asking the Ray version)")
	fs.DurationVar(&o.GCSDrainTimeout, "gcs-drain-timeout", gcs.DefaultDrainTimeout, "timeout of each drain call (the GCS answers after a round trip to the node's raylet); a node that misses it is retried later")
	fs.Var(serviceAccountFlag{configMapFlag{&o.RayClientServiceAccount}}, "ray-client-service-account", "NAMESPACE/NAME of the ServiceAccount whose short-lived tokens (TokenRequest API, 10 minutes) the scaler sends to clusters with Ray's Kubernetes token authentication (RAY_ENABLE_K8S_TOKEN_AUTH=true); it should be allowed only the verbs ray:write and ray-user on rayclusters.ray.io, as a cluster's head sees its tokens. Empty: such clusters are refused; the scaler never sends its own ServiceAccount token")
	fs.Var(namespacesFlag{&o.WatchNamespaces}, "watch-namespaces", "comma-separated namespaces whose RayClusters and Ray pods are cached and scaled, and whose Secrets are read, for RBAC granted by Roles there (empty: all namespaces)")
	le.addTo(fs, leaderElectFlags{namespace: os.Getenv("POD_NAMESPACE"), name: "raypilot-scaler",
		leaseDuration: 10 * time.Second, renewDeadline: 7 * time.Second, retryPeriod: time.Second}, leaderElectUsage{
		enable:    "elect a leader among replicas; only the leader scales",
		namespace: " (default: $POD_NAMESPACE)",
	})
	deprecatedAlias(fs, "leader-election-namespace", "leader-elect-resource-namespace")
	fs.BoolVar(&o.Sharding, "sharding", false, "every replica scales, each the clusters it owns among the live replicas (one member Lease each, timed and placed by the --leader-elect-* flags); exclusive with --leader-elect")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics listener; 0 disables")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz listener; 0 disables")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "net/http/pprof listener for profiling (opt-in); empty disables")
	fs.StringVar(&policyPath, "policy", "", "policy document (limits.maxWorkersPerCluster caps workers; reloaded on change)")
	fs.DurationVar(&o.PolicyPollInterval, "policy-poll-interval", 5*time.Second, "how often the policy file is checked for changes (a change is applied once two consecutive checks read it)")
	fs.Var(configMapFlag{&o.PolicyConfigMap}, "policy-configmap", "NAMESPACE/NAME of the ConfigMap the policy file is mounted from: rejected and applied reloads are recorded as Events on it (empty: no Events)")
	common.addTo(fs)
	return cmd
}

// serviceAccountFlag is a NAMESPACE/NAME flag naming a ServiceAccount
// (empty: unset); both parts must be valid Kubernetes names.
type serviceAccountFlag struct{ configMapFlag }

func (f serviceAccountFlag) Set(s string) error {
	if err := f.configMapFlag.Set(s); err != nil {
		return err
	}
	if f.ref.Name == "" {
		return nil
	}
	if errs := validation.IsDNS1123Label(f.ref.Namespace); len(errs) > 0 {
		return fmt.Errorf("namespace %q: %s", f.ref.Namespace, strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(f.ref.Name); len(errs) > 0 {
		return fmt.Errorf("ServiceAccount name %q: %s", f.ref.Name, strings.Join(errs, "; "))
	}
	return nil
}
