package gcs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// selfSignedCert returns a certificate for 127.0.0.1 and a pool trusting it.
func selfSignedCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "ray-head"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

func TestTLS(t *testing.T) {
	cert, pool := selfSignedCert(t)
	srv := &fakeGCS{}
	addr := startServer(t, srv, grpc.Creds(credentials.NewServerTLSFromCert(&cert)))

	c := dial(t, addr, Options{Token: testToken, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}})
	if err := c.Probe(context.Background()); err != nil {
		t.Fatalf("Probe over TLS: %v", err)
	}
	if h := srv.authHeaders(); len(h) != 1 || len(h[0]) != 1 || h[0][0] != "Bearer "+testToken {
		t.Errorf("server did not get the bearer token over TLS")
	}

	// A plaintext client cannot talk to a TLS GCS; Dial says where it failed.
	_, err := Dial(context.Background(), addr, Options{Timeout: 200 * time.Millisecond, Token: testToken})
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("plaintext Dial to a TLS server: error %v, want one naming %s", err, addr)
	}
	assertNoToken(t, err, testToken)
}
