// Package certs creates a self-signed CA and serving certificates signed by
// it, PEM-encoded, for the webhook's TLS; and parses them back.
package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// backdate is how far before "now" a certificate's validity starts, so a
// peer whose clock is a little behind still accepts it.
const backdate = time.Hour

// Bundle is a CA and a serving key pair, PEM-encoded.
type Bundle struct {
	CACert, Cert, Key []byte
}

// WriteDir writes the serving pair as tls.crt and tls.key into dir (created
// if missing), the layout `raypilot webhook --cert-dir` reads.
func (b *Bundle) WriteDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for name, data := range map[string][]byte{"tls.crt": b.Cert, "tls.key": b.Key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// KeyPair is a certificate with its private key, both PEM-encoded and parsed.
type KeyPair struct {
	CertPEM, KeyPEM []byte
	Cert            *x509.Certificate
	Key             crypto.Signer
}

// Generate creates a CA and a serving certificate for hosts (DNS names or IP
// addresses), both valid for validity from now.
func Generate(hosts []string, validity time.Duration, now time.Time) (*Bundle, error) {
	ca, err := NewCA("raypilot-webhook-ca", validity, now)
	if err != nil {
		return nil, err
	}
	leaf, err := ca.Issue(hosts, validity, now)
	if err != nil {
		return nil, err
	}
	return &Bundle{CACert: ca.CertPEM, Cert: leaf.CertPEM, Key: leaf.KeyPEM}, nil
}

// NewCA creates a self-signed CA valid for validity from now.
func NewCA(commonName string, validity time.Duration, now time.Time) (*KeyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	return newKeyPair(der, key)
}

// Issue creates a serving certificate for hosts (DNS names or IP addresses),
// signed by ca, valid for validity from now but never past ca's own expiry
// (a client would reject the chain from then on anyway).
func (ca *KeyPair) Issue(hosts []string, validity time.Duration, now time.Time) (*KeyPair, error) {
	if len(hosts) == 0 {
		return nil, errors.New("serving certificate needs at least one host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate serving key: %w", err)
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	tmpl.DNSNames, tmpl.IPAddresses = SplitHosts(hosts)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("create serving certificate: %w", err)
	}
	return newKeyPair(der, key)
}

// SplitHosts separates IP addresses from DNS names.
func SplitHosts(hosts []string) (dns []string, ips []net.IP) {
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	return dns, ips
}

// Covers reports whether cert names exactly hosts (as a set): a certificate
// for fewer hosts fails some clients, one for more names hosts nobody asked for.
func Covers(cert *x509.Certificate, hosts []string) bool {
	dns, ips := SplitHosts(hosts)
	if !sameSet(cert.DNSNames, dns) {
		return false
	}
	got := make([]string, 0, len(cert.IPAddresses))
	for _, ip := range cert.IPAddresses {
		got = append(got, ip.String())
	}
	want := make([]string, 0, len(ips))
	for _, ip := range ips {
		want = append(want, ip.String())
	}
	return sameSet(got, want)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// ParseKeyPair parses a PEM certificate and its PEM private key and checks
// that they belong together.
func ParseKeyPair(certPEM, keyPEM []byte) (*KeyPair, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse key pair: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("private key of type %T cannot sign", pair.PrivateKey)
	}
	return &KeyPair{CertPEM: certPEM, KeyPEM: keyPEM, Cert: pair.Leaf, Key: signer}, nil
}

// ParseCertificates parses every CERTIFICATE block of a PEM bundle; other
// blocks are ignored, a malformed certificate is an error.
func ParseCertificates(bundle []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, bundle = pem.Decode(bundle)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
}

// EncodeCertificates PEM-encodes certificates into one bundle.
func EncodeCertificates(cs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range cs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

func newKeyPair(der []byte, key *ecdsa.PrivateKey) (*KeyPair, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return &KeyPair{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Cert:    cert,
		Key:     key,
	}, nil
}

func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}
