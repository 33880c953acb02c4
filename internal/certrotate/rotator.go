// Package certrotate manages the webhook's own TLS without cert-manager: a
// CA and a serving certificate kept in one Secret, the CA bundle injected
// into the webhook's Mutating/ValidatingWebhookConfigurations, renewal well
// before expiry (CA included, with an overlap so no client is cut off), and
// every replica serving the current certificate without a restart.
//
// Every replica watches the Secret and serves its tls.crt/tls.key through
// tls.Config.GetCertificate (the Rotator is the TLS server's
// tlsserver.CertificateSource); it reports ready only once every webhook of
// both configurations has a caBundle that verifies the certificate it
// serves. One
// replica (the leader, when leader election is on) writes the Secret and the
// configurations, and re-injects the bundle whenever someone changes it
// (helm upgrade resetting caBundle): it watches the configurations rather
// than injecting once, and retries failed writes with backoff.
//
// Why GetCertificate fed from a Secret watch rather than files in a cert
// directory: the new pair is swapped atomically (no window where tls.crt and
// tls.key on disk disagree), it is served as soon as the watch event
// arrives (certwatcher polls every 10 s, and a mounted Secret volume is
// refreshed only every kubelet sync, up to a minute or more), the replica
// knows exactly which certificate it serves (readiness compares that one
// with the caBundles), and the container needs no writable volume.
//
// RBAC the chart must grant the webhook's ServiceAccount (all reads come
// from informers restricted by a metadata.name field selector, so
// resourceNames rules apply to list and watch too):
//
//	Role in the Secret's namespace:
//	  ""/secrets  list, watch, update  resourceNames: [<cert-secret-name>]
//	  ""/secrets  create               (Kubernetes cannot limit create by name)
//	ClusterRole:
//	  admissionregistration.k8s.io/mutatingwebhookconfigurations   list, watch, update  resourceNames: [<mutating>]
//	  admissionregistration.k8s.io/validatingwebhookconfigurations list, watch, update  resourceNames: [<validating>]
//	With leader election, Role in the lease namespace:
//	  coordination.k8s.io/leases  get, update  resourceNames: [<leader-election-id>]
//	  coordination.k8s.io/leases  create
//
// Reads never use get: the informers list and watch with
// fieldSelector=metadata.name=<name>, which the authorizer checks against
// resourceNames. Every replica needs the list/watch rules (it serves from
// the Secret and checks the caBundles for readiness); the write rules are
// used by the leader only, but replicas share one ServiceAccount.
package certrotate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/raypilot/raypilot/internal/lease"
)

// Options configure the rotator.
type Options struct {
	// SecretName and SecretNamespace name the Secret holding the CA and the
	// serving certificate.
	SecretName, SecretNamespace string
	// Hosts are the serving certificate's DNS names and IP addresses (see
	// Hosts for the Service names).
	Hosts []string
	// MutatingConfig and ValidatingConfig name the configurations whose
	// every webhook gets the CA bundle; empty means none of that kind.
	MutatingConfig, ValidatingConfig string
	// LeafValidity and CAValidity: lifetimes; each is renewed with a third left.
	LeafValidity, CAValidity time.Duration
	// Settle: see Policy.Settle; zero takes min(30 s, LeafValidity/10).
	Settle time.Duration
	// Leader election among replicas; without it, this replica writes.
	LeaderElection bool
	Lease          lease.Options
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

// Hosts are the DNS names a Service's clients use: <svc>, <svc>.<ns>,
// <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local, then extra (IPs or names).
func Hosts(service, namespace string, extra []string) []string {
	var out []string
	if service != "" {
		out = append(out, service, service+"."+namespace, service+"."+namespace+".svc", service+"."+namespace+".svc.cluster.local")
	}
	for _, e := range extra {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (o *Options) setDefaults() {
	if o.Settle == 0 {
		o.Settle = min(30*time.Second, o.LeafValidity/10)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease.Namespace == "" {
		o.Lease.Namespace = o.SecretNamespace
	}
	if o.Lease.Name == "" {
		o.Lease.Name = o.SecretName + "-writer"
	}
	o.Lease.SetDefaults()
}

func (o Options) policy() Policy {
	return Policy{Hosts: o.Hosts, LeafValidity: o.LeafValidity, CAValidity: o.CAValidity, Settle: o.Settle}
}

// Validate reports missing or inconsistent options.
func (o Options) Validate() error {
	if o.SecretName == "" || o.SecretNamespace == "" {
		return errors.New("the certificate Secret needs a name and a namespace (for a pod: $POD_NAMESPACE from the downward API)")
	}
	o.setDefaults()
	return o.policy().Validate()
}

// CacheOptions restrict the manager's informers to the one Secret and the
// two configurations (field selector metadata.name), so neither memory nor
// RBAC extends to other Secrets or configurations. Merge them into the
// manager's cache.Options.ByObject.
func (o Options) CacheOptions() map[client.Object]cache.ByObject {
	byName := func(name string) fields.Selector { return fields.OneTermEqualSelector("metadata.name", name) }
	m := map[client.Object]cache.ByObject{
		&corev1.Secret{}: {Namespaces: map[string]cache.Config{o.SecretNamespace: {}}, Field: byName(o.SecretName)},
	}
	if o.MutatingConfig != "" {
		m[&admissionv1.MutatingWebhookConfiguration{}] = cache.ByObject{Field: byName(o.MutatingConfig)}
	}
	if o.ValidatingConfig != "" {
		m[&admissionv1.ValidatingWebhookConfiguration{}] = cache.ByObject{Field: byName(o.ValidatingConfig)}
	}
	return m
}

// Rotator serves the Secret's certificate and, on the writing replica, keeps
// the Secret and the configurations current.
type Rotator struct {
	opts   Options
	policy Policy
	log    *zap.Logger
	cache  cache.Cache
	client client.Client
	lease  *lease.Runner
	// secrets is the Secret's informer (Setup); Start loads from it.
	secrets cache.Informer

	served  atomic.Pointer[served]
	trigger chan struct{}

	// Writer-only state: when the pending next CA was first seen in every
	// configuration. Losing it (new leader) only delays the roll by Settle.
	nextSerial string
	nextSince  time.Time
}

type served struct {
	cert *tls.Certificate
	leaf *x509.Certificate
}

// New validates opts and builds a rotator on mgr, whose cache must have been
// created with opts.CacheOptions(). Call Setup before starting mgr, and
// hand the rotator to the TLS server as its certificate source (GetCertificate
// and Start).
func New(opts Options, mgr manager.Manager, log *zap.Logger) (*Rotator, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.setDefaults()
	r := &Rotator{
		opts: opts, policy: opts.policy(), log: log,
		cache: mgr.GetCache(), client: mgr.GetClient(),
		trigger: make(chan struct{}, 1),
	}
	if opts.LeaderElection {
		lr, err := lease.New(mgr.GetConfig(), opts.Lease, log.Named("lease"))
		if err != nil {
			return nil, err
		}
		r.lease = lr
	}
	return r, nil
}

// Setup registers the watches and the writer with mgr.
func (r *Rotator) Setup(ctx context.Context, mgr manager.Manager) error {
	sec, err := r.cache.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("secret informer: %w", err)
	}
	r.secrets = sec
	poke := toolscache.ResourceEventHandlerFuncs{
		AddFunc: func(any) { r.poke() }, UpdateFunc: func(_, _ any) { r.poke() }, DeleteFunc: func(any) { r.poke() },
	}
	if _, err := sec.AddEventHandler(poke); err != nil {
		return err
	}
	for _, c := range r.configs() {
		inf, err := r.cache.GetInformer(ctx, c.obj())
		if err != nil {
			return fmt.Errorf("%s informer: %w", c.kind, err)
		}
		if _, err := inf.AddEventHandler(poke); err != nil {
			return err
		}
	}
	return mgr.Add(manager.RunnableFunc(r.runWriter))
}

// Start serves the Secret's certificate until ctx ends: the pair it holds
// now, then every new one written to it (tlsserver.CertificateSource).
// Call Setup first.
func (r *Rotator) Start(ctx context.Context) error {
	if r.secrets == nil {
		return errors.New("certificate rotator started before Setup")
	}
	// Registering replays the Secret already cached as an add.
	reg, err := r.secrets.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    r.load,
		UpdateFunc: func(_, o any) { r.load(o) },
	})
	if err != nil {
		return fmt.Errorf("watch Secret %s/%s: %w", r.opts.SecretNamespace, r.opts.SecretName, err)
	}
	<-ctx.Done()
	if err := r.secrets.RemoveEventHandler(reg); err != nil {
		return fmt.Errorf("stop watching Secret %s/%s: %w", r.opts.SecretNamespace, r.opts.SecretName, err)
	}
	return nil
}

// GetCertificate serves the Secret's current certificate (tls.Config hook).
func (r *Rotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if s := r.served.Load(); s != nil {
		return s.cert, nil
	}
	return nil, fmt.Errorf("no serving certificate yet: Secret %s/%s not read", r.opts.SecretNamespace, r.opts.SecretName)
}

// Ready is a readiness check: a certificate is served and every webhook of
// the managed configurations has a caBundle that verifies it.
func (r *Rotator) Ready(req *http.Request) error {
	s := r.served.Load()
	if s == nil {
		return fmt.Errorf("no serving certificate yet: Secret %s/%s not read", r.opts.SecretNamespace, r.opts.SecretName)
	}
	now := r.opts.Now()
	for _, c := range r.configs() {
		hooks, err := c.get(req.Context(), r.cache)
		if err != nil {
			return err
		}
		for _, h := range hooks {
			if err := verifies(h.bundle, s.leaf, now); err != nil {
				return fmt.Errorf("%s %s webhook %s: %w", c.kind, c.name, h.name, err)
			}
		}
	}
	return nil
}

func verifies(bundle []byte, leaf *x509.Certificate, now time.Time) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(bundle) {
		return errors.New("caBundle empty or unreadable")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("caBundle does not verify the served certificate (serial %x): %w", leaf.SerialNumber, err)
	}
	return nil
}

// load swaps in the Secret's serving pair when it changed; a bad pair is
// logged and the previous one kept.
func (r *Rotator) load(o any) {
	sec, ok := o.(*corev1.Secret)
	if !ok || sec.Name != r.opts.SecretName || sec.Namespace != r.opts.SecretNamespace {
		return
	}
	if len(sec.Data[KeyTLSCert]) == 0 {
		return // not written yet
	}
	pair, err := tls.X509KeyPair(sec.Data[KeyTLSCert], sec.Data[KeyTLSKey])
	if err != nil {
		r.log.Error("certificate Secret holds an unusable serving pair; keeping the current one",
			zap.String("secret", sec.Namespace+"/"+sec.Name), zap.Error(err))
		return
	}
	if cur := r.served.Load(); cur != nil && cur.leaf.Equal(pair.Leaf) {
		return
	}
	r.served.Store(&served{cert: &pair, leaf: pair.Leaf})
	r.log.Info("serving certificate loaded", zap.String("serial", fmt.Sprintf("%x", pair.Leaf.SerialNumber)),
		zap.String("issuer", pair.Leaf.Issuer.CommonName), zap.Time("notAfter", pair.Leaf.NotAfter))
}

func (r *Rotator) poke() {
	select {
	case r.trigger <- struct{}{}:
	default:
	}
}

// runWriter writes on this replica, or on whichever replica leads.
func (r *Rotator) runWriter(ctx context.Context) error {
	if r.lease == nil {
		r.writeLoop(ctx)
		return nil
	}
	return r.lease.Run(ctx, r.writeLoop)
}

// writeLoop reconciles on every watch event, at the next renewal time, and
// retries failures with backoff, until ctx ends (leadership lost or stop).
func (r *Rotator) writeLoop(ctx context.Context) {
	r.log.Info("managing webhook certificates", zap.String("secret", r.opts.SecretNamespace+"/"+r.opts.SecretName),
		zap.Strings("hosts", r.opts.Hosts), zap.Duration("leafValidity", r.opts.LeafValidity), zap.Duration("caValidity", r.opts.CAValidity))
	const resync = time.Minute
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		wake, err := r.reconcile(ctx)
		var delay time.Duration
		if err != nil {
			backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
			delay = backoff
			if ctx.Err() == nil {
				r.log.Warn("webhook certificates not reconciled; retrying", zap.Duration("in", delay), zap.Error(err))
			}
		} else {
			backoff = 0
			delay = min(wake.Sub(r.opts.Now()), resync)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
		case <-r.trigger:
		case <-t.C:
		}
		t.Stop()
	}
}

// reconcile brings the Secret and the configurations to the planned state
// and returns when it must run again.
func (r *Rotator) reconcile(ctx context.Context) (time.Time, error) {
	key := types.NamespacedName{Namespace: r.opts.SecretNamespace, Name: r.opts.SecretName}
	var sec corev1.Secret
	exists := true
	if err := r.cache.Get(ctx, key, &sec); apierrors.IsNotFound(err) {
		exists = false
	} else if err != nil {
		return time.Time{}, fmt.Errorf("read Secret %s: %w", key, err)
	}
	cur, problems := ParseState(sec.Data)
	for _, p := range problems {
		r.log.Warn("certificate Secret: unreadable part will be replaced", zap.String("secret", key.String()), zap.Error(p))
	}
	now := r.opts.Now()
	out, err := r.policy.Plan(cur, now, r.publishedSince(ctx, cur, now))
	if err != nil {
		return time.Time{}, err
	}
	if out.Changed {
		if err := r.writeSecret(ctx, key, &sec, exists, out.State); err != nil {
			return time.Time{}, err
		}
		for _, why := range out.Reasons {
			r.log.Info("webhook certificates: "+why, zap.String("secret", key.String()))
		}
	}
	if err := r.inject(ctx, out.State.BundlePEM()); err != nil {
		return time.Time{}, err
	}
	return out.WakeAt, nil
}

func (r *Rotator) writeSecret(ctx context.Context, key types.NamespacedName, sec *corev1.Secret, exists bool, st State) error {
	if !exists {
		sec = &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "raypilot-webhook"}},
			Type: corev1.SecretTypeTLS,
			Data: st.Data(),
		}
		err := r.client.Create(ctx, sec)
		if apierrors.IsAlreadyExists(err) {
			// Another replica (or an old leader) won the race: plan again
			// from what it wrote, once our cache has it.
			return fmt.Errorf("create Secret %s: created concurrently, re-reading: %w", key, err)
		}
		if err != nil {
			return fmt.Errorf("create Secret %s: %w", key, err)
		}
		return nil
	}
	upd := sec.DeepCopy()
	upd.Data = st.Data()
	// The cached resourceVersion makes this a compare-and-swap: a stale
	// cache or a concurrent writer yields a conflict and a retry.
	if err := r.client.Update(ctx, upd); err != nil {
		return fmt.Errorf("update Secret %s: %w", key, err)
	}
	return nil
}

// publishedSince tracks since when cur.Next has been in every webhook's
// caBundle (zero if it is not, or there is no next CA).
func (r *Rotator) publishedSince(ctx context.Context, cur State, now time.Time) time.Time {
	if cur.Next == nil {
		r.nextSerial = ""
		return time.Time{}
	}
	for _, c := range r.configs() {
		hooks, err := c.get(ctx, r.cache)
		if err != nil {
			r.nextSerial = ""
			return time.Time{}
		}
		for _, h := range hooks {
			if !BundleContains(h.bundle, cur.Next.Cert) {
				r.nextSerial = ""
				return time.Time{}
			}
		}
	}
	serial := cur.Next.Cert.SerialNumber.String()
	if r.nextSerial != serial {
		r.nextSerial, r.nextSince = serial, now
	}
	return r.nextSince
}

// inject sets caBundle on every webhook of the configurations that differ.
func (r *Rotator) inject(ctx context.Context, bundle []byte) error {
	var errs []error
	for _, c := range r.configs() {
		changed, err := c.inject(ctx, r.cache, r.client, bundle)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if changed > 0 {
			r.log.Info("CA bundle injected", zap.String("kind", c.kind), zap.String("name", c.name), zap.Int("webhooks", changed))
		}
	}
	return errors.Join(errs...)
}

// config is one managed webhook configuration.
type config struct {
	kind, name string
	mutating   bool
}

type hook struct {
	name   string
	bundle []byte
}

func (r *Rotator) configs() []config {
	var out []config
	if r.opts.MutatingConfig != "" {
		out = append(out, config{kind: "MutatingWebhookConfiguration", name: r.opts.MutatingConfig, mutating: true})
	}
	if r.opts.ValidatingConfig != "" {
		out = append(out, config{kind: "ValidatingWebhookConfiguration", name: r.opts.ValidatingConfig})
	}
	return out
}

func (c config) obj() client.Object {
	if c.mutating {
		return &admissionv1.MutatingWebhookConfiguration{}
	}
	return &admissionv1.ValidatingWebhookConfiguration{}
}

// get returns the webhooks' names and caBundles; an absent configuration is
// an error (readiness must stay false until it exists and is injected).
func (c config) get(ctx context.Context, rd client.Reader) ([]hook, error) {
	o := c.obj()
	if err := rd.Get(ctx, types.NamespacedName{Name: c.name}, o); err != nil {
		return nil, fmt.Errorf("read %s %s: %w", c.kind, c.name, err)
	}
	var out []hook
	switch o := o.(type) {
	case *admissionv1.MutatingWebhookConfiguration:
		for _, w := range o.Webhooks {
			out = append(out, hook{w.Name, w.ClientConfig.CABundle})
		}
	case *admissionv1.ValidatingWebhookConfiguration:
		for _, w := range o.Webhooks {
			out = append(out, hook{w.Name, w.ClientConfig.CABundle})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s %s has no webhooks", c.kind, c.name)
	}
	return out, nil
}

// inject updates the configuration if any webhook's caBundle differs from
// bundle and returns how many webhooks it changed. It writes with the cached
// resourceVersion, so it never overwrites a change it has not seen.
func (c config) inject(ctx context.Context, rd client.Reader, w client.Writer, bundle []byte) (int, error) {
	o := c.obj()
	if err := rd.Get(ctx, types.NamespacedName{Name: c.name}, o); err != nil {
		return 0, fmt.Errorf("read %s %s: %w", c.kind, c.name, err)
	}
	changed := 0
	set := func(cc *admissionv1.WebhookClientConfig) {
		if string(cc.CABundle) != string(bundle) {
			cc.CABundle = bundle
			changed++
		}
	}
	switch o := o.(type) {
	case *admissionv1.MutatingWebhookConfiguration:
		for i := range o.Webhooks {
			set(&o.Webhooks[i].ClientConfig)
		}
	case *admissionv1.ValidatingWebhookConfiguration:
		for i := range o.Webhooks {
			set(&o.Webhooks[i].ClientConfig)
		}
	}
	if changed == 0 {
		return 0, nil
	}
	if err := w.Update(ctx, o); err != nil {
		return 0, fmt.Errorf("inject CA bundle into %s %s: %w", c.kind, c.name, err)
	}
	return changed, nil
}
