#!/usr/bin/env bash
# Builds pinned etcd, kube-apiserver and kubectl from the Go module proxy and
# caches them outside the checkout, keyed by version.
#
#   hack/tools.sh bin-dir        print the folder holding the binaries (builds if needed)
#   hack/tools.sh build          build whatever is missing
#
# Cache root: $RAYPILOT_TOOLS_CACHE (default ~/.cache/raypilot/tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/versions.env
source "$here/tools/versions.env"

cache_root=${RAYPILOT_TOOLS_CACHE:-$HOME/.cache/raypilot/tools}
k8s_dir=$cache_root/kubernetes-$KUBERNETES_VERSION
etcd_dir=$cache_root/etcd-$ETCD_VERSION
bin_dir=$cache_root/bin-$KUBERNETES_VERSION-$ETCD_VERSION

log() { echo "hack/tools.sh: $*" >&2; }

# A scratch module per tool keeps the product's go.mod free of k8s.io/kubernetes.
make_k8s_module() {
  local dir=$1
  mkdir -p "$dir"
  local staging
  staging=$(cat "$here/tools/kubernetes/staging-modules.txt")
  {
    echo "module raypilot.io/tools/kubernetes"
    echo
    echo "go 1.26"
    echo
    echo "require k8s.io/kubernetes $KUBERNETES_VERSION"
    echo
    echo "replace ("
    for m in $staging; do echo "	$m => $m $KUBERNETES_STAGING_VERSION"; done
    echo ")"
  } >"$dir/go.mod"
  cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
}

build_kubernetes() {
  local out=$k8s_dir/bin
  local want=("$@")
  local missing=()
  for b in "${want[@]}"; do [[ -x $out/$b ]] || missing+=("$b"); done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "building ${missing[*]} $KUBERNETES_VERSION (cold: several minutes on 2 cores)"
  local mod=$k8s_dir/module
  make_k8s_module "$mod"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local ldflags=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.gitCommit=raypilot-tools -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  (
    cd "$mod"
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
    go mod tidy -e >/dev/null 2>&1 || true
    go mod download
    mkdir -p "$out.tmp"
    for b in "${missing[@]}"; do
      go build -trimpath -tags tools -ldflags "-s -w $ldflags" -o "$out.tmp/$b" "k8s.io/kubernetes/cmd/$b"
    done
  )
  mkdir -p "$out"
  for b in "${missing[@]}"; do mv "$out.tmp/$b" "$out/$b"; done
  rmdir "$out.tmp" 2>/dev/null || true
}

build_etcd() {
  local out=$etcd_dir/bin
  [[ -x $out/etcd ]] && return 0
  log "building etcd $ETCD_VERSION"
  local mod=$etcd_dir/module
  mkdir -p "$mod" "$out"
  cat >"$mod/go.mod" <<GOMOD
module raypilot.io/tools/etcd

go 1.26

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
  (
    cd "$mod"
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
    go mod tidy -e >/dev/null 2>&1 || true
    go build -trimpath -tags tools -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$out/etcd.tmp" "$out/etcd"
}

# Binaries are linked into one folder so callers need a single PATH entry.
link_bin() {
  mkdir -p "$bin_dir"
  for b in "$k8s_dir"/bin/* "$etcd_dir/bin/etcd"; do
    [[ -x $b ]] && ln -sf "$b" "$bin_dir/$(basename "$b")"
  done
}

k8s_tools=(kube-apiserver kubectl)
[[ -n ${RAYPILOT_TOOLS_ALL:-} ]] && k8s_tools+=(kube-controller-manager kube-scheduler)

case ${1:-build} in
  build)
    build_etcd
    build_kubernetes "${k8s_tools[@]}"
    link_bin
    ;;
  bin-dir)
    build_etcd
    build_kubernetes "${k8s_tools[@]}"
    link_bin
    echo "$bin_dir"
    ;;
  *)
    echo "usage: $0 [build|bin-dir]" >&2
    exit 2
    ;;
esac
