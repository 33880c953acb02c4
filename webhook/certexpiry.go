package webhook

import (
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/raypilot/raypilot/internal/tlsserver"
)

// MetricCertificateExpiry is the NotAfter of the serving certificate.
const MetricCertificateExpiry = "raypilot_webhook_certificate_expiry_timestamp_seconds"

// certificateExpiry exports the NotAfter of the certificate its source
// serves at the time of each scrape, so the value follows every rotation
// (certrotate.Rotator) and reload (tlsserver.FileSource) with no state of
// its own. Before a certificate is served it exports nothing.
type certificateExpiry struct {
	source tlsserver.CertificateSource
	desc   *prometheus.Desc
}

func newCertificateExpiry(source tlsserver.CertificateSource) certificateExpiry {
	return certificateExpiry{source: source, desc: prometheus.NewDesc(MetricCertificateExpiry,
		"Expiry (NotAfter, Unix seconds) of the TLS certificate the webhook serves now: the self-managed one or the one read from --cert-dir.", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c certificateExpiry) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c certificateExpiry) Collect(ch chan<- prometheus.Metric) {
	cert, err := c.source.GetCertificate(nil)
	if err != nil || cert == nil || len(cert.Certificate) == 0 {
		return // none served yet
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return
		}
	}
	ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(leaf.NotAfter.Unix()))
}

// registerCertificateExpiry exports the expiry of source's certificate on
// reg until unregister is called. Another webhook server of the same
// process (tests) may have registered its own first: that one stays, and
// this one exports nothing.
func registerCertificateExpiry(reg prometheus.Registerer, source tlsserver.CertificateSource, log *zap.Logger) (unregister func(), err error) {
	c := newCertificateExpiry(source)
	if err := reg.Register(c); err != nil {
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			log.Info("certificate expiry exported by another webhook server of this process")
			return func() {}, nil
		}
		return nil, fmt.Errorf("register %s: %w", MetricCertificateExpiry, err)
	}
	return func() { reg.Unregister(c) }, nil
}
