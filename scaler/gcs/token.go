package gcs

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/credentials"
)

// AuthMetadataKey is the gRPC metadata key that carries Ray's auth token
// (kAuthTokenKey in Ray's src/ray/rpc/authentication/authentication_token.h).
const AuthMetadataKey = "authorization"

// AuthTokenSecretKey is the key, in the Secret KubeRay creates for a
// RayCluster's spec.authOptions, whose value is Ray's auth token. KubeRay
// passes it to the Ray containers as RAY_AUTH_TOKEN.
const AuthTokenSecretKey = "auth_token"

// redacted replaces the token wherever it could otherwise be printed.
const redacted = "[REDACTED]"

// TokenFromSecret returns Ray's auth token from the data of the Secret that
// KubeRay creates for spec.authOptions (key AuthTokenSecretKey). Leading and
// trailing white space, such as the newline a file-based Secret often
// carries, is removed. Errors never contain the token.
func TokenFromSecret(data map[string][]byte) (string, error) {
	raw, ok := data[AuthTokenSecretKey]
	if !ok {
		return "", fmt.Errorf("ray auth token secret: no key %q", AuthTokenSecretKey)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return "", fmt.Errorf("ray auth token secret: key %q is empty", AuthTokenSecretKey)
	}
	if err := validateToken(token); err != nil {
		return "", fmt.Errorf("ray auth token secret: key %q: %w", AuthTokenSecretKey, err)
	}
	return token, nil
}

// validateToken checks that the token can travel as a gRPC metadata value
// (printable ASCII). The error does not contain the token.
func validateToken(token string) error {
	for i := 0; i < len(token); i++ {
		if c := token[i]; c < 0x20 || c > 0x7e {
			return errors.New("token contains a character that is not printable ASCII, which gRPC metadata cannot carry")
		}
	}
	return nil
}

// redactedToken says whether a token is set without showing it.
func redactedToken(token string) string {
	if token == "" {
		return "<none>"
	}
	return redacted
}

// bearerToken attaches "authorization: Bearer <token>" to every RPC.
type bearerToken struct {
	token string
}

var _ credentials.PerRPCCredentials = bearerToken{}

// GetRequestMetadata returns the authorization metadata.
func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{AuthMetadataKey: "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false: a Ray GCS is plaintext unless TLS is
// configured, and Ray's own clients send the token over plaintext too.
func (bearerToken) RequireTransportSecurity() bool { return false }

// String hides the token.
func (bearerToken) String() string { return "bearer " + redacted }

// GoString hides the token.
func (b bearerToken) GoString() string { return b.String() }
