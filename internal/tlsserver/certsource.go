package tlsserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// CertificateSource supplies the serving certificate, as in cert-manager's
// webhook server (cert-manager: pkg/server/tls, CertificateSource).
// GetCertificate is the tls.Config hook, called concurrently for every
// handshake; Start keeps the certificate current (re-reading files,
// watching a Secret) until ctx ends, and returns nil then. The server
// starts its source when it starts and stops it once it has stopped
// serving, so a certificate changed during the shutdown delay is still
// picked up.
//
// The implementations are FileSource (a certificate directory) and
// certrotate.Rotator (a Secret the webhook manages itself).
type CertificateSource interface {
	GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error)
	Start(ctx context.Context) error
}

// FileSource serves dir's tls.crt and tls.key and reloads them when they
// change, without a restart (controller-runtime's certwatcher: a file
// watch, and a re-read every 10 s, which also catches the symlink swap of
// a mounted Secret). The pair is read once here, so a missing or unusable
// pair is an error now rather than at the first handshake.
func FileSource(dir string) (CertificateSource, error) {
	w, err := certwatcher.New(filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"))
	if err != nil {
		return nil, fmt.Errorf("load serving certificate from %s: %w", dir, err)
	}
	return w, nil
}
