#!/usr/bin/env bash
# Regenerates the Go code for Ray's GCS autoscaler API:
#
#   scaler/gcs/proto/*.proto  ->  scaler/gcs/rpcpb/*.pb.go
#
# Installs the pinned protoc plugins from the Go module proxy into a cache
# folder outside the checkout (keyed by version) and runs protoc. Idempotent:
# running it twice leaves the tree unchanged.
#
#   hack/gen-proto.sh
#
# Needs protoc on PATH (Debian: apt-get install -y protobuf-compiler). The
# generated headers record the protoc version; the committed code was made
# with libprotoc 3.21.12 (Debian bookworm).
#
# Cache root: $RAYPILOT_TOOLS_CACHE (default ~/.cache/raypilot/tools).
set -euo pipefail

PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1
PROTOC_VERSION_EXPECTED="libprotoc 3.21.12"

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache_root=${RAYPILOT_TOOLS_CACHE:-$HOME/.cache/raypilot/tools}
plugin_dir=$cache_root/protoc-plugins/go-$PROTOC_GEN_GO_VERSION-grpc-$PROTOC_GEN_GO_GRPC_VERSION

log() { echo "hack/gen-proto.sh: $*" >&2; }

install_plugin() {
  local name=$1 pkg=$2 version=$3
  [[ -x $plugin_dir/$name ]] && return 0
  log "installing $name $version into $plugin_dir"
  mkdir -p "$plugin_dir"
  GOBIN=$plugin_dir GOFLAGS=-buildvcs=false GOWORK=off CGO_ENABLED=0 \
    go install "$pkg@$version"
}

command -v protoc >/dev/null || {
  log "protoc not found; install it (Debian: apt-get install -y protobuf-compiler)"
  exit 1
}
have=$(protoc --version)
[[ $have == "$PROTOC_VERSION_EXPECTED" ]] ||
  log "warning: $have differs from $PROTOC_VERSION_EXPECTED; generated headers will differ"

install_plugin protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go "$PROTOC_GEN_GO_VERSION"
install_plugin protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc "$PROTOC_GEN_GO_GRPC_VERSION"

cd "$root"
out=scaler/gcs/rpcpb
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Paths are given relative to the module root so the descriptors register
# under unique names (scaler/gcs/proto/common.proto, not common.proto).
PATH=$plugin_dir:$PATH protoc \
  --proto_path=. \
  --go_out="$tmp" --go_opt=module=github.com/raypilot/raypilot \
  --go-grpc_out="$tmp" --go-grpc_opt=module=github.com/raypilot/raypilot \
  scaler/gcs/proto/common.proto scaler/gcs/proto/autoscaler.proto scaler/gcs/proto/node_info.proto
# Replace the generated files only once protoc has succeeded.
for dir in "$out" "$out/nodeinfopb"; do
  mkdir -p "$dir"
  rm -f "$dir"/*.pb.go
  cp "$tmp/$dir"/*.pb.go "$dir"/
  log "generated $(cd "$dir" && ls -- *.pb.go | tr '\n' ' ') in $dir"
done
