package gcsfake

import (
	"context"
	"fmt"
	"net"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Authority is the gRPC authority the scaler sends for cluster
// namespace/name when it dials every GCS through one proxy address: the
// cluster's default GCS address, KubeRay's head Service at Ray's GCS port
// (scaler.GCSAddress).
func Authority(namespace, name string) string {
	return name + "-head-svc." + namespace + ".svc:6379"
}

// ParseAuthority is the cluster an authority (or HTTP Host)
// "<name>-head-svc.<namespace>.svc[...][:port]" names.
func ParseAuthority(authority string) (namespace, name string, err error) {
	host := authority
	if h, _, err := net.SplitHostPort(authority); err == nil {
		host = h
	}
	parts := strings.Split(host, ".")
	if len(parts) < 2 || !strings.HasSuffix(parts[0], "-head-svc") {
		return "", "", fmt.Errorf("authority %q is not <cluster>-head-svc.<namespace>.svc:<port>", authority)
	}
	return parts[1], strings.TrimSuffix(parts[0], "-head-svc"), nil
}

// CallCluster is the cluster a gRPC call addresses by its :authority, so
// that one fake serves many clusters behind one address. The error is a
// gRPC status: InvalidArgument without an authority, NotFound when it names
// no cluster.
func CallCluster(ctx context.Context) (namespace, name string, err error) {
	md, _ := metadata.FromIncomingContext(ctx)
	auth := md.Get(":authority")
	if len(auth) == 0 {
		return "", "", status.Error(codes.InvalidArgument, "no :authority")
	}
	namespace, name, err = ParseAuthority(auth[0])
	if err != nil {
		return "", "", status.Error(codes.NotFound, err.Error())
	}
	return namespace, name, nil
}
