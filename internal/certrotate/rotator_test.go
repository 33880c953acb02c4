package certrotate

import (
	"context"
	"crypto/tls"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/tlsserver"
)

var _ tlsserver.CertificateSource = (*Rotator)(nil)

// handlerSignal is a fake Secret informer that reports each handler added.
type handlerSignal struct {
	*controllertest.FakeInformer
	added chan struct{}
	once  sync.Once
}

func (h *handlerSignal) AddEventHandler(e toolscache.ResourceEventHandler) (toolscache.ResourceEventHandlerRegistration, error) {
	reg, err := h.FakeInformer.AddEventHandler(e)
	h.once.Do(func() { close(h.added) })
	return reg, err
}

func secretWithPair(t *testing.T) *corev1.Secret {
	t.Helper()
	b, err := certs.Generate([]string{"svc"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "certs", Namespace: "ns"},
		Data:       map[string][]byte{KeyTLSCert: b.Cert, KeyTLSKey: b.Key},
	}
}

func serving(t *testing.T, r *Rotator) *tls.Certificate {
	t.Helper()
	c, err := r.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// As a certificate source, the rotator serves what the Secret holds from
// Start on, and each new pair written to it, until its context ends.
func TestRotatorIsACertificateSource(t *testing.T) {
	r := &Rotator{opts: Options{SecretName: "certs", SecretNamespace: "ns"}, log: zap.NewNop()}
	if err := r.Start(context.Background()); err == nil {
		t.Fatal("started before Setup")
	}
	inf := &handlerSignal{FakeInformer: &controllertest.FakeInformer{}, added: make(chan struct{})}
	r.secrets = inf
	if _, err := r.GetCertificate(nil); err == nil {
		t.Fatal("a certificate before the Secret was read")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Start(ctx) }()
	<-inf.added

	first := secretWithPair(t)
	inf.Add(first)
	c1 := serving(t, r)
	second := secretWithPair(t)
	inf.Update(first, second)
	c2 := serving(t, r)
	if c2.Leaf.Equal(c1.Leaf) {
		t.Error("the Secret's new pair is not served")
	}
	other := secretWithPair(t)
	other.Name = "someone-elses"
	inf.Add(other)
	if !serving(t, r).Leaf.Equal(c2.Leaf) {
		t.Error("served a pair from another Secret")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
