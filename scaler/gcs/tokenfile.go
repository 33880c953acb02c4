package gcs

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"
)

// DefaultKubernetesTokenFile is where the kubelet mounts a pod's own
// ServiceAccount token, and where Ray's clients read theirs when the
// cluster delegates authentication to Kubernetes (kK8sSaTokenPath in Ray's
// src/ray/rpc/authentication/k8s_constants.h, read by
// src/ray/rpc/authentication/authentication_token_loader.cc when
// RAY_ENABLE_K8S_TOKEN_AUTH is set).
const DefaultKubernetesTokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// DefaultKubernetesTokenRefresh is how long a ServiceAccount token read
// from its file is reused before the file is read again, when
// Options.KubernetesTokenRefresh is zero. The kubelet replaces a projected
// token once 80% of its lifetime (at least 10 minutes) has passed, and the
// old token stays valid until it expires, so a token at most this old is
// always still accepted.
const DefaultKubernetesTokenRefresh = 30 * time.Second

// tokenFile attaches "authorization: Bearer <token>" to every RPC, the
// token being the content of a file that is replaced while in use: a
// projected Kubernetes ServiceAccount token, which the kubelet rotates. The
// file is read again once refresh has passed since the last read, so a
// rotated token is sent from then on. Safe for concurrent use.
type tokenFile struct {
	path    string
	refresh time.Duration
	now     func() time.Time

	mu       sync.Mutex
	token    string
	previous string // the token before the last rotation, for redaction
	readAt   time.Time
}

var _ tokenCredentials = (*tokenFile)(nil)

// newTokenFile returns credentials reading path, at most once per refresh
// (zero or negative: DefaultKubernetesTokenRefresh).
func newTokenFile(path string, refresh time.Duration, now func() time.Time) *tokenFile {
	if refresh <= 0 {
		refresh = DefaultKubernetesTokenRefresh
	}
	if now == nil {
		now = time.Now
	}
	return &tokenFile{path: path, refresh: refresh, now: now}
}

// current returns the token, reading the file when the last read is older
// than refresh. The error names the file and never contains a token.
func (f *tokenFile) current() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if f.token != "" && now.Sub(f.readAt) < f.refresh {
		return f.token, nil
	}
	raw, err := os.ReadFile(f.path)
	if err != nil {
		return "", fmt.Errorf("read the Kubernetes ServiceAccount token that raypilot sends to a Ray GCS with Kubernetes token authentication: %w "+
			"(in a pod, keep automountServiceAccountToken on; outside one, point raypilot at a token file, e.g. from `kubectl create token`)", err)
	}
	// The whole file, trimmed: Ray's own readers (ReadFile in
	// src/ray/rpc/authentication/k8s_util.cc) take it whole.
	token := TrimToken(string(raw))
	if token == "" {
		return "", fmt.Errorf("the Kubernetes ServiceAccount token file %s is empty", f.path)
	}
	if err := ValidateToken(token); err != nil {
		return "", fmt.Errorf("the Kubernetes ServiceAccount token file %s: %w", f.path, err)
	}
	if token != f.token {
		f.previous, f.token = f.token, token
	}
	f.readAt = now
	return token, nil
}

// GetRequestMetadata returns the authorization metadata with the current
// token.
func (f *tokenFile) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	token, err := f.current()
	if err != nil {
		return nil, err
	}
	return map[string]string{AuthMetadataKey: "Bearer " + token}, nil
}

// RequireTransportSecurity is false, as for bearerToken: Ray's GCS is
// plaintext by default and Ray's own clients send the token that way.
func (*tokenFile) RequireTransportSecurity() bool { return false }

func (f *tokenFile) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return []string{f.token, f.previous}
}

// String names the file, never the token.
func (f *tokenFile) String() string { return "kubernetes serviceaccount token from " + f.path }

// GoString is String.
func (f *tokenFile) GoString() string { return f.String() }
