package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/raypilot/raypilot/webhook"
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
	fs.DurationVar(&o.PolicyPollInterval, "policy-poll-interval", 5*time.Second, "how often the policy file is checked for changes")
	fs.StringVar(&o.MetricsAddr, "metrics-bind-address", ":8080", "metrics listener; 0 disables")
	fs.StringVar(&o.HealthAddr, "health-probe-bind-address", ":8081", "/healthz and /readyz listener; 0 disables")
	fs.BoolVar(&o.EnableHTTP2, "enable-http2", false, "serve HTTP/2 (off by default: rapid-reset attacks)")
	common := addServerFlags(fs)
	if err := fs.Parse(args); err != nil {
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

// serverFlags are the flags every long-running subcommand shares.
type serverFlags struct {
	kubeconfig *string
	debug      *bool
}

func addServerFlags(fs *flag.FlagSet) serverFlags {
	return serverFlags{
		kubeconfig: fs.String("kubeconfig", "", "kubeconfig file; default $KUBECONFIG or in-cluster"),
		debug:      fs.Bool("debug", false, "log at debug level"),
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
	return log.Named(name), rc, true
}
