package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/tlsserver"
)

// swapSource serves whatever certificate was stored last, as the
// rotator does after each rotation.
type swapSource struct {
	cert atomic.Pointer[tls.Certificate]
}

func (s *swapSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no certificate yet")
}

func (s *swapSource) Start(ctx context.Context) error { <-ctx.Done(); return nil }

// pair issues a serving certificate valid for validity from now.
func pair(t *testing.T, validity time.Duration, now time.Time) (*certs.Bundle, tls.Certificate) {
	t.Helper()
	b, err := certs.Generate([]string{"127.0.0.1"}, validity, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	return b, c
}

// expiry returns the exported expiry, or ok false when there is no series.
func expiry(t *testing.T, reg prometheus.Gatherer) (v float64, ok bool) {
	t.Helper()
	got := gather(t, reg, MetricCertificateExpiry)
	if len(got) > 1 || len(got) == 1 && len(got[0].Label) != 0 {
		t.Fatalf("%s: %v; want at most one series, without labels", MetricCertificateExpiry, got)
	}
	if len(got) == 0 {
		return 0, false
	}
	return got[0].GetGauge().GetValue(), true
}

// The gauge is the NotAfter of the certificate served at scrape time: none
// before one is served, then each new one after a rotation; the leaf is
// parsed when the source did not keep it.
func TestCertificateExpiryFollowsTheServedCertificate(t *testing.T) {
	src := &swapSource{}
	reg := prometheus.NewPedanticRegistry()
	unregister, err := registerCertificateExpiry(reg, src, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := expiry(t, reg); ok {
		t.Errorf("no certificate served: exported %v", v)
	}
	now := time.Now()
	_, first := pair(t, time.Hour, now)
	src.cert.Store(&first)
	if v, ok := expiry(t, reg); !ok || v != float64(first.Leaf.NotAfter.Unix()) {
		t.Errorf("exported %v (%v), want the served NotAfter %d", v, ok, first.Leaf.NotAfter.Unix())
	}
	_, second := pair(t, 7*24*time.Hour, now)
	notAfter := second.Leaf.NotAfter.Unix()
	second.Leaf = nil
	src.cert.Store(&second)
	if v, _ := expiry(t, reg); v != float64(notAfter) {
		t.Errorf("after a rotation exported %v, want %d", v, notAfter)
	}
	// A second server of the process registers nothing; the first one's
	// unregisters its gauge when it stops.
	again, err := registerCertificateExpiry(reg, &swapSource{}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	again()
	if _, ok := expiry(t, reg); !ok {
		t.Error("the second server's unregister removed the first one's gauge")
	}
	unregister()
	if _, ok := expiry(t, reg); ok {
		t.Error("still exported after unregister")
	}
}

// With certificates read from files (cert-manager mode) the gauge is
// exported too.
func TestCertificateExpiryOfFiles(t *testing.T) {
	dir := t.TempDir()
	b, c := pair(t, 90*24*time.Hour, time.Now())
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	src, err := tlsserver.FileSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	if _, err := registerCertificateExpiry(reg, src, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	if v, _ := expiry(t, reg); v != float64(c.Leaf.NotAfter.Unix()) {
		t.Errorf("exported %v, want %d", v, c.Leaf.NotAfter.Unix())
	}
	families, err := reg.Gather()
	if err != nil || len(families) != 1 || families[0].GetType() != dto.MetricType_GAUGE {
		t.Errorf("gathered %v, %v; want one gauge", families, err)
	}
}
