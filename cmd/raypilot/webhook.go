package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/raypilot/raypilot/webhook"
	"github.com/raypilot/raypilot/webhook/certrotate"
)

// runWebhook is `raypilot webhook`: serve the admission webhooks until SIGTERM.
func runWebhook(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o webhook.Options
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
	sm := &o.SelfManaged
	fs.StringVar(&sm.SecretName, "cert-secret-name", "raypilot-webhook-tls", "self-managed: Secret holding the CA and the serving certificate")
	fs.StringVar(&sm.SecretNamespace, "cert-secret-namespace", os.Getenv("POD_NAMESPACE"), "self-managed: namespace of that Secret (default $POD_NAMESPACE)")
	service := fs.String("webhook-service-name", "", "self-managed: Service in front of the webhook; the certificate names <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local")
	extraSANs := fs.String("cert-extra-sans", "", "self-managed: comma-separated extra IP addresses or host names for the certificate (e.g. 127.0.0.1 for a url client config)")
	fs.StringVar(&sm.MutatingConfig, "mutating-webhook-configuration", "", "self-managed: MutatingWebhookConfiguration whose every webhook gets the CA bundle")
	fs.StringVar(&sm.ValidatingConfig, "validating-webhook-configuration", "", "self-managed: ValidatingWebhookConfiguration whose every webhook gets the CA bundle")
	fs.DurationVar(&sm.LeafValidity, "cert-validity", 7*24*time.Hour, "self-managed: serving certificate validity (renewed with a third left)")
	fs.DurationVar(&sm.CAValidity, "ca-validity", 365*24*time.Hour, "self-managed: CA validity (renewed with a third left, old and new CA trusted during the roll); at least 3x --cert-validity")
	fs.BoolVar(&sm.LeaderElection, "leader-election", false, "self-managed: only the replica holding a Lease writes the Secret and the configurations (all replicas serve)")
	fs.StringVar(&sm.Lease.Namespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: --cert-secret-namespace)")
	fs.StringVar(&sm.Lease.Name, "leader-election-id", "", "name of the leader-election Lease (default: <cert-secret-name>-writer)")
	common := addServerFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch o.CertMode {
	case webhook.CertModeFiles:
	case webhook.CertModeSelfManaged:
		sm.Hosts = certrotate.Hosts(*service, sm.SecretNamespace, strings.Split(*extraSANs, ","))
		if err := sm.Validate(); err != nil {
			fmt.Fprintf(stderr, "raypilot webhook: --cert-mode=self-managed: %v\n", err)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "raypilot webhook: --cert-mode must be %s or %s, not %q\n", webhook.CertModeFiles, webhook.CertModeSelfManaged, o.CertMode)
		return 2
	}
	log, cfg, ok := common.setup("webhook", stderr)
	if !ok {
		return 1
	}
	defer func() { _ = log.Sync() }()
	if err := webhook.Run(ctrl.SetupSignalHandler(), cfg, o, log); err != nil {
		log.Error("webhook stopped", zap.Error(err))
		return 1
	}
	return 0
}

// configMapFlag is a NAMESPACE/NAME flag (empty: unset).
type configMapFlag struct{ ref *types.NamespacedName }

func (f configMapFlag) String() string {
	if f.ref == nil || f.ref.Name == "" {
		return ""
	}
	return f.ref.String()
}

func (f configMapFlag) Set(s string) error {
	if s == "" {
		*f.ref = types.NamespacedName{}
		return nil
	}
	ns, name, ok := strings.Cut(s, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("want NAMESPACE/NAME, got %q", s)
	}
	*f.ref = types.NamespacedName{Namespace: ns, Name: name}
	return nil
}

// serverFlags are the flags every long-running subcommand shares.
type serverFlags struct {
	kubeconfig *string
	debug      *bool
	qps        *float64
	burst      *int
}

func addServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		kubeconfig: fs.String("kubeconfig", "", "kubeconfig file; default $KUBECONFIG or in-cluster"),
		debug:      fs.Bool("debug", false, "log at debug level"),
		qps:        fs.Float64("kube-api-qps", 50, "client-side limit of API requests per second"),
		burst:      fs.Int("kube-api-burst", 100, "client-side burst of API requests"),
	}
}

// setup builds the logger and the API server config; on failure it has
// reported why and returns ok false.
func (f serverFlags) setup(name string, stderr io.Writer) (*zap.Logger, *rest.Config, bool) {
	cfg := zap.NewProductionConfig()
	if *f.debug {
		cfg.Level = zap.NewAtomicLevelAt(zap.DebugLevel)
	}
	log, err := cfg.Build()
	if err != nil {
		fmt.Fprintf(stderr, "raypilot %s: %v\n", name, err)
		return nil, nil, false
	}
	var rc *rest.Config
	if *f.kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", *f.kubeconfig)
	} else {
		rc, err = ctrl.GetConfig()
	}
	if err != nil {
		log.Error("cannot load kubeconfig", zap.Error(err))
		return nil, nil, false
	}
	// Explicit, so --kubeconfig and in-cluster behave alike (client-go's
	// default of 5/s would throttle a scaler patching many clusters).
	rc.QPS, rc.Burst = float32(*f.qps), *f.burst
	return log.Named(name), rc, true
}
