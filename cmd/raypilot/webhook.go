package main

import (
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/raypilot/raypilot/internal/buildinfo"
	"github.com/raypilot/raypilot/internal/certrotate"
	"github.com/raypilot/raypilot/webhook"
)

// newWebhookCommand is `raypilot webhook`: serve the admission webhooks
// until SIGTERM.
func newWebhookCommand() *cobra.Command {
	var (
		o                  webhook.Options
		service, extraSANs string
		le                 leaderElectFlags
		common             serverFlags
		configMapTemplates bool
	)
	cmd := &cobra.Command{
		Use:   "webhook [flags]",
		Short: "Serve the mutating and validating admission webhooks",
		Long: `Serve the mutating and validating admission webhooks for RayCluster, RayJob
and RayService until SIGTERM.

The serving certificate is either read from --cert-dir (--cert-mode=files,
e.g. from cert-manager) or kept by the webhook itself in a Secret and
injected into the webhook configurations (--cert-mode=self-managed). The
policy file, when set, is reloaded on change.`,
		Example: `  # Serve with cert-manager's certificate and the chart's policy file
  raypilot webhook --cert-dir /certs --policy /etc/raypilot/policy.yaml

  # Keep the certificate in a Secret; one replica at a time writes it
  raypilot webhook --cert-mode self-managed --webhook-service-name raypilot-webhook \
    --mutating-webhook-configuration raypilot --validating-webhook-configuration raypilot \
    --leader-elect --leader-elect-resource-name raypilot-webhook-tls-writer

  # Run outside the cluster against a kubeconfig context, logging for people
  raypilot webhook --kubeconfig ~/.kube/config --context kind-raypilot --log-format console`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.NoConfigMapTemplates = !configMapTemplates
			sm := &o.SelfManaged
			sm.LeaderElection = le.enabled
			sm.Lease.Namespace, sm.Lease.Name = le.namespace, le.name
			sm.Lease.LeaseDuration, sm.Lease.RenewDeadline, sm.Lease.RetryPeriod = le.leaseDuration, le.renewDeadline, le.retryPeriod
			switch o.CertMode {
			case webhook.CertModeFiles:
			case webhook.CertModeSelfManaged:
				sm.Hosts = certrotate.Hosts(service, sm.SecretNamespace, strings.Split(extraSANs, ","))
				if err := sm.Validate(); err != nil {
					return usageErrorf("--cert-mode=self-managed: %w", err)
				}
			default:
				return usageErrorf("--cert-mode must be %s or %s, not %q", webhook.CertModeFiles, webhook.CertModeSelfManaged, o.CertMode)
			}
			log, cfg, err := common.setup(cmd)
			if err != nil {
				return failure(err)
			}
			defer func() { _ = log.Sync() }()
			if err := buildinfo.Register(metrics.Registry, version); err != nil {
				return failure(err)
			}
			if p, ok := gcPercent(os.Getenv); ok {
				debug.SetGCPercent(p)
			}
			if err := webhook.Run(ctrl.SetupSignalHandler(), cfg, o, log); err != nil {
				return failure(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.Host, "host", "", "address to serve HTTPS on (empty: all)")
	fs.IntVar(&o.Port, "port", 9443, "HTTPS port")
	fs.StringVar(&o.CertDir, "cert-dir", "/tmp/k8s-webhook-server/serving-certs", "folder with tls.crt and tls.key (reloaded on change)")
	fs.StringVar(&o.PolicyFile, "policy", "", "policy document (reloaded on change); empty: built-in defaults")
	fs.DurationVar(&o.PolicyPollInterval, "policy-poll-interval", 5*time.Second, "how often the policy file is checked for changes (a change is applied once two consecutive checks read it)")
	fs.Var(configMapFlag{&o.PolicyConfigMap}, "policy-configmap", "NAMESPACE/NAME of the ConfigMap the policy file is mounted from: rejected and applied reloads are recorded as Events on it (empty: no Events)")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics listener; 0 disables")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz listener; 0 disables")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "serve HTTP/2 (off by default: rapid-reset attacks)")
	fs.DurationVar(&o.ShutdownDelay, "shutdown-delay", 2*time.Second, "on SIGTERM, keep serving this long, closing each connection after its next response so clients reconnect to another replica, before refusing new connections")
	fs.DurationVar(&o.ShutdownTimeout, "graceful-shutdown-timeout", 15*time.Second, "on SIGTERM, wait at most this long for in-flight reviews")
	fs.StringVar(&o.CertMode, "cert-mode", webhook.CertModeFiles, "files: tls.crt/tls.key in --cert-dir (reloaded on change); self-managed: a CA and certificate kept in --cert-secret-name, injected into the webhook configurations and renewed")
	fs.Var(namespacesFlag{&o.WatchNamespaces}, "watch-namespaces", "comma-separated namespaces whose ComputeTemplates and ConfigMap templates are cached and read, for RBAC granted by Roles there (empty: all namespaces); ClusterComputeTemplates stay cluster-wide. A cluster in another namespace (only sent here if the webhook configurations match it) is denied with a message naming this flag, never expanded without its namespace's templates")
	fs.BoolVar(&o.SingleCall, "single-call", false, "the mutating webhook also runs the validating checks on its own result and denies with their messages, for an install that registers no validating webhook configuration (one admission call per object instead of two; see docs/operations.md)")
	fs.BoolVar(&configMapTemplates, "configmap-templates", true, "read KubeRay API server ConfigMap templates (labelled ray.io/config-type=compute-template); false: no ConfigMap informer and no ConfigMap reads, such templates are not found (for policy.limits.readAPIServerConfigMaps=false without ConfigMap rights)")
	sm := &o.SelfManaged
	fs.StringVar(&sm.SecretName, "cert-secret-name", "raypilot-webhook-tls", "self-managed: Secret holding the CA and the serving certificate")
	fs.StringVar(&sm.SecretNamespace, "cert-secret-namespace", os.Getenv("POD_NAMESPACE"), "self-managed: namespace of that Secret (default $POD_NAMESPACE)")
	fs.StringVar(&service, "webhook-service-name", "", "self-managed: Service in front of the webhook; the certificate names <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local")
	fs.StringVar(&extraSANs, "cert-extra-sans", "", "self-managed: comma-separated extra IP addresses or host names for the certificate (e.g. 127.0.0.1 for a url client config)")
	fs.StringVar(&sm.MutatingConfig, "mutating-webhook-configuration", "", "self-managed: MutatingWebhookConfiguration whose every webhook gets the CA bundle")
	fs.StringVar(&sm.ValidatingConfig, "validating-webhook-configuration", "", "self-managed: ValidatingWebhookConfiguration whose every webhook gets the CA bundle")
	fs.DurationVar(&sm.LeafValidity, "cert-validity", 7*24*time.Hour, "self-managed: serving certificate validity (renewed with a third left)")
	fs.DurationVar(&sm.CAValidity, "ca-validity", 365*24*time.Hour, "self-managed: CA validity (renewed with a third left, old and new CA trusted during the roll); at least 3x --cert-validity")
	// internal/lease's defaults, which the certificate writer always had.
	le.addTo(fs, leaderElectFlags{leaseDuration: 15 * time.Second, renewDeadline: 10 * time.Second, retryPeriod: 2 * time.Second}, leaderElectUsage{
		enable:    "self-managed: only the replica holding a Lease writes the Secret and the configurations (all replicas serve)",
		namespace: " (default: --cert-secret-namespace)",
		name:      " (default: <cert-secret-name>-writer)",
	})
	deprecatedAlias(fs, "leader-election", "leader-elect")
	deprecatedAlias(fs, "leader-election-namespace", "leader-elect-resource-namespace")
	deprecatedAlias(fs, "leader-election-id", "leader-elect-resource-name")
	common.addTo(fs)
	return cmd
}
