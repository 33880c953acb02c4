package webhook

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net/http"
	"time"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/internal/certrotate"
	"github.com/raypilot/raypilot/internal/eventnote"
	"github.com/raypilot/raypilot/internal/policyfile"
	"github.com/raypilot/raypilot/internal/tlsserver"
)

// Options configure the webhook server.
type Options struct {
	// Host and Port to serve HTTPS on.
	Host string
	Port int
	// CertDir holds tls.crt and tls.key; changes are picked up without a restart.
	CertDir string
	// PolicyFile is the policy document; empty means the built-in policy.
	PolicyFile string
	// PolicyPollInterval is how often PolicyFile is checked for changes.
	PolicyPollInterval time.Duration
	// PolicyConfigMap is the ConfigMap PolicyFile is mounted from; when set,
	// rejected and applied policy reloads are recorded as Events on it.
	PolicyConfigMap types.NamespacedName
	// MetricsAddr and HealthAddr are the metrics and probe listeners ("0" disables).
	MetricsAddr, HealthAddr string
	// EnableHTTP2 is off by default (HTTP/2 rapid-reset attacks).
	EnableHTTP2 bool
	// CertMode is CertModeFiles (tls.crt/tls.key in CertDir, empty means
	// this) or CertModeSelfManaged (SelfManaged: a CA and certificate in a
	// Secret, injected into the webhook configurations and renewed).
	CertMode    string
	SelfManaged certrotate.Options
	// ShutdownDelay keeps serving for this long after the context ends,
	// closing each connection after its next response so that clients
	// reconnect to another replica (tlsserver.Options.ShutdownDelay);
	// ShutdownTimeout then bounds the drain of in-flight reviews (0:
	// tlsserver.DefaultShutdownTimeout).
	ShutdownDelay, ShutdownTimeout time.Duration
	// WatchNamespaces, when set, limits the ComputeTemplate and ConfigMap
	// caches (and reads) to these namespaces, for RBAC granted by Roles
	// there; a template lookup in another namespace is refused with a
	// message naming them. ClusterComputeTemplates stay cluster-wide.
	WatchNamespaces []string
	// NoConfigMapTemplates starts no ConfigMap informer and reads no
	// ConfigMap: ConfigMap templates are not found.
	NoConfigMapTemplates bool
	// SingleCall makes the mutating webhook also run the validating
	// checks on its result (Config.SingleCall), for an install without a
	// validating webhook configuration. The validating path is still
	// served, so that configurations can be switched in either order.
	SingleCall bool
}

// Certificate modes.
const (
	CertModeFiles       = "files"
	CertModeSelfManaged = "self-managed"
)

// Run serves the webhooks until ctx ends, then drains in-flight reviews.
// Readiness (/readyz on HealthAddr) turns true once the template caches are
// synced and TLS is being served, and in self-managed mode once both webhook
// configurations trust the served certificate.
func Run(ctx context.Context, cfg *rest.Config, opts Options, log *zap.Logger) error {
	policy, err := policyfile.Load(opts.PolicyFile, log)
	if err != nil {
		return fmt.Errorf("load policy %s: %w", opts.PolicyFile, err)
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	ctrl.SetLogger(zapr.NewLogger(log.Named("controller-runtime")))

	byObject := templateCacheOptions(opts.WatchNamespaces, opts.NoConfigMapTemplates)
	selfManaged := false
	switch opts.CertMode {
	case "", CertModeFiles:
	case CertModeSelfManaged:
		selfManaged = true
		if err := opts.SelfManaged.Validate(); err != nil {
			return fmt.Errorf("self-managed certificates: %w", err)
		}
		maps.Copy(byObject, opts.SelfManaged.CacheOptions())
	default:
		return fmt.Errorf("unknown certificate mode %q (want %s or %s)", opts.CertMode, CertModeFiles, CertModeSelfManaged)
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = tlsserver.DefaultShutdownTimeout
	}
	// The manager stops the writer and the caches first, then the webhook
	// server, which drains; its whole stop must fit in this grace period
	// (the pod's terminationGracePeriodSeconds must be longer still).
	grace := opts.ShutdownDelay + opts.ShutdownTimeout + 5*time.Second
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: opts.MetricsAddr},
		HealthProbeBindAddress:  opts.HealthAddr,
		GracefulShutdownTimeout: &grace,
		Cache:                   cache.Options{ByObject: byObject},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := policy.Instrument(metrics.Registry); err != nil {
		return err
	}
	admissions, err := NewMetrics(metrics.Registry)
	if err != nil {
		return err
	}
	if opts.PolicyConfigMap.Name != "" {
		policy.OnReport(policyfile.EventReporter(eventnote.Bounded(mgr.GetEventRecorder("raypilot-webhook")), opts.PolicyConfigMap, mgr.GetAPIReader(), log.Named("policy")))
	}
	var certificates tlsserver.CertificateSource
	if selfManaged {
		rot, err := certrotate.New(opts.SelfManaged, mgr, log.Named("certificates"))
		if err != nil {
			return fmt.Errorf("self-managed certificates: %w", err)
		}
		if err := rot.Setup(ctx, mgr); err != nil {
			return fmt.Errorf("self-managed certificates: %w", err)
		}
		certificates = rot
		// helm install --wait must not return before the API server trusts
		// the certificate this replica serves.
		if err := mgr.AddReadyzCheck("ca-bundle", rot.Ready); err != nil {
			return err
		}
	} else if certificates, err = tlsserver.FileSource(opts.CertDir); err != nil {
		return err
	}
	unregister, err := registerCertificateExpiry(metrics.Registry, certificates, log)
	if err != nil {
		return err
	}
	defer unregister()
	server := tlsserver.New(tlsserver.Options{
		Host: opts.Host, Port: opts.Port, Certificates: certificates,
		TLSOpts: []func(*tls.Config){func(c *tls.Config) {
			c.MinVersion = tls.VersionTLS12
			if !opts.EnableHTTP2 {
				c.NextProtos = []string{"http/1.1"}
			}
		}},
		ShutdownDelay: opts.ShutdownDelay, ShutdownTimeout: opts.ShutdownTimeout, Log: log.Named("server"),
	})
	// A webhook.Server: the manager starts it before the caches and stops
	// it after them.
	if err := mgr.Add(server); err != nil {
		return fmt.Errorf("add the webhook server: %w", err)
	}
	// Start the informers up front so the first admission does not wait.
	informers := []client.Object{&v1alpha1.ComputeTemplate{}, &v1alpha1.ClusterComputeTemplate{}}
	if !opts.NoConfigMapTemplates {
		informers = append(informers, &corev1.ConfigMap{})
	}
	for _, o := range informers {
		if _, err := mgr.GetCache().GetInformer(ctx, o); err != nil {
			return fmt.Errorf("informer for %T: %w", o, err)
		}
	}
	templates := Templates{Cache: mgr.GetCache(), Live: mgr.GetAPIReader(), Namespaces: opts.WatchNamespaces, NoConfigMaps: opts.NoConfigMapTemplates}
	hc := Config{Templates: templates, Policy: policy.Get, Log: log.Named("admission"), Metrics: admissions, Volumes: NewVolumeCache(), Hashes: NewHashCache(), SingleCall: opts.SingleCall}
	server.Register(MutatePath, NewHTTPHandler(&MutatingHandler{hc}, hc.Log))
	server.Register(ValidatePath, NewHTTPHandler(&ValidatingHandler{hc}, hc.Log))
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("templates", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("template caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	go policy.Watch(ctx, opts.PolicyPollInterval)
	log.Info("serving admission webhooks", zap.String("host", opts.Host), zap.Int("port", opts.Port),
		zap.String("certMode", opts.CertMode), zap.String("certDir", opts.CertDir), zap.String("policy", opts.PolicyFile),
		zap.Strings("watchNamespaces", opts.WatchNamespaces), zap.Bool("configMapTemplates", !opts.NoConfigMapTemplates), zap.Bool("singleCall", opts.SingleCall))
	return mgr.Start(ctx)
}

func ptr[T any](v T) *T { return &v }
