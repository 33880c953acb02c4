package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/util/validation"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/raypilot/raypilot/policyfile"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/gcs"
)

// runScaler is `raypilot scaler`: autoscale every RayCluster annotated
// raypilot.io/autoscaling: central until SIGTERM.
func runScaler(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("scaler", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o scaler.Options
	fs.DurationVar(&o.Interval, "interval", time.Second, "time between two rounds of one cluster (changes wake it earlier)")
	fs.IntVar(&o.Concurrency, "concurrency", 16, "clusters decided at once")
	fs.StringVar(&o.GCSProxy, "gcs-proxy-address", "", "dial every cluster's GCS at this host:port, sending the cluster's own address (<cluster>-head-svc.<ns>.svc:<port>) as the gRPC authority; for raysim or a port-forward when the scaler runs outside the cluster")
	fs.DurationVar(&o.GCSTimeout, "gcs-timeout", gcs.DefaultTimeout, "timeout of each GCS call but the drains (reading the cluster state, reporting, asking the Ray version)")
	fs.DurationVar(&o.GCSDrainTimeout, "gcs-drain-timeout", gcs.DefaultDrainTimeout, "timeout of each drain call (the GCS answers after a round trip to the node's raylet); a node that misses it is retried later")
	fs.Var(serviceAccountFlag{configMapFlag{&o.RayClientServiceAccount}}, "ray-client-service-account", "NAMESPACE/NAME of the ServiceAccount whose short-lived tokens (TokenRequest API, 10 minutes) the scaler sends to clusters with Ray's Kubernetes token authentication (RAY_ENABLE_K8S_TOKEN_AUTH=true); it should be allowed only the verbs ray:write and ray-user on rayclusters.ray.io, as a cluster's head sees its tokens. Empty: such clusters are refused; the scaler never sends its own ServiceAccount token")
	fs.BoolVar(&o.LeaderElection, "leader-elect", false, "elect a leader among replicas; only the leader scales")
	fs.StringVar(&o.LeaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "namespace of the leader-election Lease (default: $POD_NAMESPACE)")
	fs.DurationVar(&o.LeaseDuration, "leader-elect-lease-duration", 10*time.Second, "how long a standby waits after the leader's last renewal before taking over (a crashed leader's successor waits this long)")
	fs.DurationVar(&o.RenewDeadline, "leader-elect-renew-deadline", 7*time.Second, "how long the leader retries renewing before it stops scaling; below --leader-elect-lease-duration")
	fs.DurationVar(&o.RetryPeriod, "leader-elect-retry-period", time.Second, "time between two renewals by the leader and two attempts by a standby")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics listener; 0 disables")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz listener; 0 disables")
	fs.StringVar(&o.PprofAddr, "pprof-bind-address", "", "net/http/pprof listener for profiling (opt-in); empty disables")
	policyPath := fs.String("policy", "", "policy document (limits.maxWorkersPerCluster caps workers; reloaded on change)")
	fs.DurationVar(&o.PolicyPollInterval, "policy-poll-interval", 5*time.Second, "how often the policy file is checked for changes (a change is applied once two consecutive checks read it)")
	fs.Var(configMapFlag{&o.PolicyConfigMap}, "policy-configmap", "NAMESPACE/NAME of the ConfigMap the policy file is mounted from: rejected and applied reloads are recorded as Events on it (empty: no Events)")
	common := addServerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, cfg, ok := common.setup("scaler", stderr)
	if !ok {
		return 1
	}
	defer func() { _ = log.Sync() }()
	policy, err := policyfile.Load(*policyPath, log)
	if err != nil {
		log.Error("cannot load policy", zap.Error(err))
		return 1
	}
	o.PolicyFile = policy
	if err := scaler.Run(ctrl.SetupSignalHandler(), cfg, o, log); err != nil {
		log.Error("scaler stopped", zap.Error(err))
		return 1
	}
	return 0
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
