package gcs

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// credential is the bearer token every RPC of a Client carries: Ray's
// shared token, fixed for the connection, or a Kubernetes ServiceAccount
// token asked of a TokenSource per RPC.
type credential interface {
	fmt.Stringer
	// token returns the token for one RPC. Errors never contain a token.
	token(ctx context.Context) (string, error)
}

// newCredential returns the credential Options ask for, nil for none.
// Errors never contain a token.
func newCredential(opts Options) (credential, error) {
	switch opts.auth() {
	case AuthNone:
		return nil, nil
	case AuthToken:
		if opts.Token == "" {
			return nil, errors.New("AuthToken without a token")
		}
		if err := ValidateToken(opts.Token); err != nil {
			return nil, err
		}
		return bearerToken{value: opts.Token}, nil
	case AuthKubernetes:
		if opts.Token != "" {
			return nil, errors.New("AuthKubernetes sends a ServiceAccount token from its TokenSource, yet a Ray token is set too")
		}
		if opts.TokenSource == nil {
			return nil, errors.New("AuthKubernetes without a TokenSource")
		}
		return sourcedToken{src: opts.TokenSource}, nil
	default:
		return nil, fmt.Errorf("unknown %s", opts.Auth)
	}
}

// authorize attaches "authorization: Bearer <token>" to every RPC, the
// token being the one cred gives for that RPC, and removes that very token
// from the RPC's error, whatever the server echoed back, keeping the gRPC
// code. As each RPC's own token is removed from its own error, every token
// ever sent is covered, however often a TokenSource rotates it, without
// keeping old tokens around. When cred has no token to give, the RPC is not
// sent at all. The calls' own error wrapping (wrapRPCError) removes
// Options.Token again.
func authorize(cred credential) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		token, err := cred.token(ctx)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrCredential, err)
		}
		ctx = metadata.AppendToOutgoingContext(ctx, AuthMetadataKey, "Bearer "+token)
		return redactError(invoker(ctx, method, req, reply, cc, opts...), token)
	}
}

// sourcedToken is AuthKubernetes' credential: a token asked of a
// TokenSource for every RPC, checked before it is sent.
type sourcedToken struct {
	src TokenSource
}

var _ credential = sourcedToken{}

// token asks the source. The error names the source, never a token.
func (s sourcedToken) token(ctx context.Context) (string, error) {
	token, err := s.src.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("get the Kubernetes ServiceAccount token for Ray's Kubernetes token authentication from %s: %w", sourceName(s.src), err)
	}
	if token == "" {
		return "", fmt.Errorf("%s gave an empty Kubernetes ServiceAccount token", sourceName(s.src))
	}
	if err := ValidateToken(token); err != nil {
		return "", fmt.Errorf("the Kubernetes ServiceAccount token from %s: %w", sourceName(s.src), err)
	}
	return token, nil
}

// String names the source, never a token.
func (s sourcedToken) String() string {
	return "kubernetes serviceaccount token from " + sourceName(s.src)
}

// GoString is String.
func (s sourcedToken) GoString() string { return s.String() }
