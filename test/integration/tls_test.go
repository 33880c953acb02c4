package integration

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/raypilot/raypilot/internal/certs"
)

func TestTLSSettings(t *testing.T) {
	if _, err := tls.Dial("tcp", webhookAddr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 handshake succeeded; want TLS >= 1.2 only")
	}
	conn, err := tls.Dial("tcp", webhookAddr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if p := conn.ConnectionState().NegotiatedProtocol; p == "h2" {
		t.Error("HTTP/2 negotiated; want it off by default")
	}
}

// The serving certificate is replaced on disk (as a Secret volume update or
// cert-manager renewal would) and served without a restart; admission keeps
// working once the CA bundle follows.
func TestServingCertificateReloads(t *testing.T) {
	bundle, err := certs.Generate([]string{"127.0.0.1", "localhost"}, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(bundle.Cert)
	want, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, then certificate: the watcher reloads on either write and
	// retries until the pair matches.
	if err := os.WriteFile(filepath.Join(certDir, "tls.key"), bundle.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certDir, "tls.crt"), bundle.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := tls.Dial("tcp", webhookAddr, &tls.Config{InsecureSkipVerify: true})
		if err == nil {
			served := conn.ConnectionState().PeerCertificates[0]
			conn.Close()
			if served.SerialNumber.Cmp(want.SerialNumber) == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("new serving certificate not served after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mut, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, "raypilot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mut.Webhooks[0].ClientConfig.CABundle = bundle.CACert
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, mut, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	val, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "raypilot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	val.Webhooks[0].ClientConfig.CABundle = bundle.CACert
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, val, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitWebhookActive(); err != nil {
		t.Fatal(err)
	}
}
