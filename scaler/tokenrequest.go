package scaler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler/gcs"
)

// Lifetimes of the Ray client ServiceAccount's tokens.
const (
	// rayClientTokenSeconds is the lifetime raypilot asks for: the API
	// server's minimum (it refuses an expirationSeconds under 10 minutes,
	// validation of TokenRequest in Kubernetes'
	// pkg/apis/authentication/validation/validation.go), so that a token
	// captured by a head pod is useless soon after.
	rayClientTokenSeconds = 600
	// rayClientTokenRefresh is the part of a token's lifetime after which a
	// new one is requested: 80%, as the kubelet does for projected tokens
	// (requiresRefresh in Kubernetes' pkg/kubelet/token/token_manager.go).
	// The old token stays valid until it expires, so a refresh that fails
	// leaves two minutes to retry.
	rayClientTokenRefresh = 0.8
	// rayClientTokenRetry is how long a failed TokenRequest is not repeated
	// (its error is returned meanwhile), so that a missing RoleBinding does
	// not turn every RPC of every cluster into an API request.
	rayClientTokenRetry = 5 * time.Second
	// rayClientTokenMargin is how long before its expiry a token is no
	// longer sent, for clock skew and the GCS's own round trip to the API
	// server.
	rayClientTokenMargin = 30 * time.Second
)

// ErrKubernetesAuthOff marks the refusal to connect to a cluster that
// delegates Ray's token authentication to Kubernetes while raypilot has no
// Ray client ServiceAccount.
var ErrKubernetesAuthOff = errors.New("the cluster delegates Ray's token authentication to Kubernetes and raypilot's Kubernetes mode is off, " +
	"so raypilot does not connect and sends no token (never its own ServiceAccount token, which the head pod could capture); " +
	"turn Kubernetes mode on with the Helm chart value scaler.rayKubernetesAuth.enabled=true (flag --ray-client-service-account NAMESPACE/NAME) " +
	"to send short-lived tokens of a ServiceAccount allowed only ray:write and ray-user on rayclusters.ray.io, " +
	"or run the cluster with Ray's shared token (RAY_AUTH_MODE=token without RAY_ENABLE_K8S_TOKEN_AUTH)")

// tokenRequester is the part of a controller-runtime client that creates
// subresources: SubResource("token").Create is the TokenRequest API.
type tokenRequester interface {
	SubResource(subResource string) client.SubResourceClient
}

// serviceAccountTokens is the gcs.TokenSource of Ray's Kubernetes token
// authentication: short-lived tokens of one dedicated ServiceAccount (the
// chart's <release>-ray-client, which may do nothing in the Kubernetes API),
// from the TokenRequest API (POST serviceaccounts/NAME/token). A token is
// reused until 80% of its lifetime has passed, then replaced; every
// cluster's connection shares it. The tokens carry the API server's default
// audience, because Ray's GCS checks them with a TokenReview that names none
// (src/ray/rpc/authentication/k8s_util.cc in Ray). Safe for concurrent use;
// tokens never appear in its errors or String output.
type serviceAccountTokens struct {
	client tokenRequester
	sa     types.NamespacedName
	now    func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time     // a new token is requested from then on
	expiresAt time.Time     // the token is not sent from then on (margin included)
	failedAt  time.Time     // the last TokenRequest that failed, for rayClientTokenRetry
	failure   error         // its error
	inflight  chan struct{} // closed when the TokenRequest in flight ends; nil when none is
}

var _ gcs.TokenSource = (*serviceAccountTokens)(nil)

// newServiceAccountTokens returns the token source of ServiceAccount sa;
// now nil means time.Now.
func newServiceAccountTokens(c tokenRequester, sa types.NamespacedName, now func() time.Time) *serviceAccountTokens {
	if now == nil {
		now = time.Now
	}
	return &serviceAccountTokens{client: c, sa: sa, now: now}
}

// Token returns a token of the ServiceAccount, requesting a new one when
// the cached one is past 80% of its lifetime. One request is in flight at
// a time: meanwhile the others get the current token while it is valid, or
// wait for the request (until their ctx ends). When a request fails, the
// current token is still returned while it is valid; otherwise the error,
// which is also returned without a new request for rayClientTokenRetry
// unless the failure was the requester's ctx's own.
func (s *serviceAccountTokens) Token(ctx context.Context) (string, error) {
	for {
		s.mu.Lock()
		now := s.now()
		current := s.token
		valid := current != "" && now.Before(s.expiresAt)
		switch {
		case valid && now.Before(s.refreshAt):
			s.mu.Unlock()
			return current, nil
		case s.failure != nil && now.Sub(s.failedAt) < rayClientTokenRetry:
			failure := s.failure
			s.mu.Unlock()
			if valid {
				return current, nil
			}
			return "", failure
		case s.inflight != nil && valid:
			s.mu.Unlock()
			return current, nil
		case s.inflight != nil:
			wait := s.inflight
			s.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return "", fmt.Errorf("wait for the TokenRequest in flight: %w", ctx.Err())
			}
		}
		done := make(chan struct{})
		s.inflight = done
		s.mu.Unlock()
		return s.refresh(ctx, done, now, current, valid)
	}
}

// refresh makes the TokenRequest that Token started (done is its inflight
// channel) and records its outcome. now is when it started, current the
// token until then and valid whether that one may still be sent.
func (s *serviceAccountTokens) refresh(ctx context.Context, done chan struct{}, now time.Time, current string, valid bool) (string, error) {
	token, lifetime, err := s.request(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inflight = nil
	close(done)
	if err != nil {
		if ctx.Err() == nil {
			s.failure, s.failedAt = err, now
		}
		if valid {
			return current, nil
		}
		return "", err
	}
	s.failure = nil
	s.token = token
	s.refreshAt = now.Add(time.Duration(float64(lifetime) * rayClientTokenRefresh))
	s.expiresAt = now.Add(lifetime - rayClientTokenMargin)
	return token, nil
}

// request asks the TokenRequest API for a token and returns it with the
// lifetime granted: the shorter of what the API server says it granted
// (spec.expirationSeconds of the answer, which it lowers to its
// --service-account-max-token-expiration: TokenREST.Create in Kubernetes'
// pkg/registry/core/serviceaccount/storage/token.go, which also fills in
// its own audiences when none are asked for) and the time left until the
// token's expirationTimestamp by the local clock.
func (s *serviceAccountTokens) request(ctx context.Context) (string, time.Duration, error) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: s.sa.Namespace, Name: s.sa.Name}}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{
		// No audiences: the API server's own, the one Ray's TokenReview checks.
		ExpirationSeconds: ptr.To(int64(rayClientTokenSeconds)),
	}}
	start := s.now()
	if err := s.client.SubResource("token").Create(ctx, sa, tr); err != nil {
		return "", 0, s.explain(err)
	}
	token := tr.Status.Token
	if token == "" {
		return "", 0, errors.New("the API server answered the TokenRequest without a token")
	}
	if err := gcs.ValidateToken(token); err != nil {
		return "", 0, fmt.Errorf("the token the TokenRequest API issued: %w", err)
	}
	lifetime := tr.Status.ExpirationTimestamp.Sub(start)
	if granted := tr.Spec.ExpirationSeconds; granted != nil && *granted > 0 {
		lifetime = min(lifetime, time.Duration(*granted)*time.Second)
	}
	if lifetime <= rayClientTokenMargin {
		return "", 0, fmt.Errorf("the TokenRequest API issued a token that expires at %s, too soon to use (is the clock of raypilot's node right?)",
			tr.Status.ExpirationTimestamp.UTC().Format(time.RFC3339))
	}
	return token, lifetime, nil
}

// explain wraps a TokenRequest error with the fix. The caller (gcs, or
// the test) names the ServiceAccount in front.
func (s *serviceAccountTokens) explain(err error) error {
	switch {
	case apierrors.IsForbidden(err):
		return fmt.Errorf("TokenRequest: %w; raypilot's ServiceAccount needs create on serviceaccounts/token for %s in namespace %s "+
			"(the Helm chart's Role with scaler.rayKubernetesAuth.enabled=true)", err, s.sa.Name, s.sa.Namespace)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("TokenRequest: %w; create ServiceAccount %s (the Helm chart does with scaler.rayKubernetesAuth.enabled=true) "+
			"or point --ray-client-service-account at an existing one", err, s.sa)
	default:
		return fmt.Errorf("TokenRequest for ServiceAccount %s: %w", s.sa, err)
	}
}

// String names the ServiceAccount, never a token.
func (s *serviceAccountTokens) String() string {
	return "TokenRequest for ServiceAccount " + s.sa.String()
}

// GoString is String.
func (s *serviceAccountTokens) GoString() string { return s.String() }
