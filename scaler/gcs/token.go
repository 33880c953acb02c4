package gcs

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// AuthMetadataKey is the gRPC metadata key that carries Ray's auth token
// (kAuthTokenKey in Ray's src/ray/rpc/authentication/authentication_token.h).
const AuthMetadataKey = "authorization"

// AuthTokenSecretKey is the key, in the Secret KubeRay creates for a
// RayCluster's spec.authOptions, whose value is Ray's auth token. KubeRay
// passes it to the Ray containers as RAY_AUTH_TOKEN
// (RAY_AUTH_TOKEN_SECRET_KEY in KubeRay's
// ray-operator/controllers/ray/utils/constant.go, v1.5.1).
const AuthTokenSecretKey = "auth_token"

// redacted replaces the token wherever it could otherwise be printed.
const redacted = "[REDACTED]"

// rayWhitespace is what Ray trims around a token
// (AuthenticationTokenLoader::TrimWhitespace in Ray's
// src/ray/rpc/authentication/authentication_token_loader.cc).
const rayWhitespace = " \t\n\r\f\v"

// TrimToken trims a token the way Ray does when it reads one from
// RAY_AUTH_TOKEN or a file.
func TrimToken(s string) string { return strings.Trim(s, rayWhitespace) }

// TokenFromFile returns the token a token file holds, the way Ray reads
// RAY_AUTH_TOKEN_PATH and ~/.ray/auth_token: the first line, trimmed
// (AuthenticationTokenLoader::ReadTokenFromFile in Ray's
// src/ray/rpc/authentication/authentication_token_loader.cc). Empty means
// the file holds no token.
func TokenFromFile(content []byte) string {
	first, _, _ := strings.Cut(string(content), "\n")
	return TrimToken(first)
}

// TokenFromSecret returns Ray's auth token from the data of the Secret that
// KubeRay creates for spec.authOptions (key AuthTokenSecretKey), trimmed as
// Ray trims RAY_AUTH_TOKEN. Errors never contain the token.
func TokenFromSecret(data map[string][]byte) (string, error) {
	raw, ok := data[AuthTokenSecretKey]
	if !ok {
		return "", fmt.Errorf("ray auth token secret: no key %q", AuthTokenSecretKey)
	}
	token := TrimToken(string(raw))
	if token == "" {
		return "", fmt.Errorf("ray auth token secret: key %q is empty", AuthTokenSecretKey)
	}
	if err := ValidateToken(token); err != nil {
		return "", fmt.Errorf("ray auth token secret: key %q: %w", AuthTokenSecretKey, err)
	}
	return token, nil
}

// ValidateToken checks that the token can travel as a gRPC metadata value
// (printable ASCII). The error does not contain the token.
func ValidateToken(token string) error {
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

// bearerToken is AuthToken's credential: Ray's shared token
// (RAY_AUTH_MODE=token), the same for every RPC.
type bearerToken struct {
	value string
}

var _ credential = bearerToken{}

// token returns the shared token.
func (b bearerToken) token(context.Context) (string, error) { return b.value, nil }

// String hides the token.
func (bearerToken) String() string { return "bearer " + redacted }

// GoString hides the token.
func (b bearerToken) GoString() string { return b.String() }
