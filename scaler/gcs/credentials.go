package gcs

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
)

// rpcCredentials returns the per-RPC credentials Options ask for, nil for
// none. Errors never contain a token.
func rpcCredentials(opts Options) (tokenCredentials, error) {
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
		return bearerToken{token: opts.Token}, nil
	case AuthKubernetes:
		if opts.Token != "" {
			return nil, errors.New("AuthKubernetes sends the ServiceAccount token, yet a Ray token is set too")
		}
		return newTokenFile(opts.kubernetesTokenFile(), opts.KubernetesTokenRefresh, nil), nil
	default:
		return nil, fmt.Errorf("unknown %s", opts.Auth)
	}
}

// redactTokens removes from every RPC error the tokens creds may have sent,
// whatever the server echoed back, keeping the gRPC code. The calls' own
// error wrapping (wrapRPCError) removes Options.Token again; this also
// covers the rotating ServiceAccount token, which Client does not hold.
func redactTokens(creds tokenCredentials) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, method, req, reply, cc, opts...)
		if err == nil {
			return nil
		}
		for _, token := range creds.sent() {
			err = redactError(err, token)
		}
		return err
	}
}
