#!/usr/bin/env bash
# Builds the pinned tools from the Go module proxy and caches them outside the
# checkout, keyed by version: etcd, kube-apiserver, kubectl,
# kube-controller-manager, kube-scheduler, kwok, the KubeRay operator
# (kuberay-operator), helm, and kubelet and kube-proxy (the real node of
# `hack/local-cluster.sh up --pods`). The six Kubernetes binaries come from
# one `go build` (their shared packages compile once, their links run in
# parallel); the other tools build at the same time, as background jobs, so
# a cold cache keeps both cores busy through module downloads and links.
# Kyverno (kyverno, the peer of `bench/apicreate`'s kyverno mode) is built
# only when named: it is about 400 modules and nothing else needs it.
#
#   hack/tools.sh build   [TOOL...]   build whatever is missing (default: all)
#   hack/tools.sh bin-dir [TOOL...]   build if needed, then print the folder
#                                     holding every built tool
#
# Cache root: $RAYPILOT_TOOLS_CACHE (default ~/.cache/raypilot/tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tools/versions.env
source "$here/tools/versions.env"

cache_root=${RAYPILOT_TOOLS_CACHE:-$HOME/.cache/raypilot/tools}
k8s_dir=$cache_root/kubernetes-$KUBERNETES_VERSION
etcd_dir=$cache_root/etcd-$ETCD_VERSION
kyverno_dir=$cache_root/kyverno-$KYVERNO_VERSION
bin_dir=$cache_root/bin

log() { echo "hack/tools.sh: $*" >&2; }

# Tools are never debugged here: no DWARF, which saves compile time as well
# as the link's (-ldflags -s -w); -trimpath keeps local paths out.
tool_buildflags="-trimpath -gcflags=all=-dwarf=false"

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
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
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
    rm -rf "$out.tmp" && mkdir -p "$out.tmp"
    local pkgs=()
    for b in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
    # -o DIR/ with several main packages writes one binary per package.
    go build $tool_buildflags -tags tools -ldflags "-s -w $ldflags" -o "$out.tmp/" "${pkgs[@]}"
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
    go build $tool_buildflags -tags tools -ldflags "-s -w" -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
  )
  mv "$out/etcd.tmp" "$out/etcd"
}

# Kyverno's go.mod has replace directives, which apply only in the main
# module: a scratch module requires it and repeats them (from
# hack/tools/kyverno/replace.txt, copied from kyverno's go.mod).
build_kyverno() {
  local out=$kyverno_dir/bin
  [[ -x $out/kyverno && -d $kyverno_dir/crds ]] && return 0
  log "building kyverno $KYVERNO_VERSION (cold: about 400 modules)"
  local mod=$kyverno_dir/module
  mkdir -p "$mod" "$out"
  {
    echo "module raypilot.io/tools/kyverno"
    echo
    echo "go $KYVERNO_GO_VERSION"
    echo
    echo "require github.com/kyverno/kyverno $KYVERNO_VERSION"
    echo
    cat "$here/tools/kyverno/replace.txt"
  } >"$mod/go.mod"
  cat >"$mod/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/kyverno/kyverno/cmd/kyverno"
GO
  (
    cd "$mod"
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0
    go mod tidy -e >/dev/null 2>&1 || true
    go build $tool_buildflags -tags tools \
      -ldflags "-s -w -X github.com/kyverno/kyverno/pkg/version.BuildVersion=$KYVERNO_VERSION" \
      -o "$out/kyverno.tmp" github.com/kyverno/kyverno/cmd/kyverno
    # Its CRDs, from the same module version, in one folder beside bin/
    # (bench/apicreate installs them).
    local src
    src=$(go list -m -f '{{.Dir}}' github.com/kyverno/kyverno)
    rm -rf "$kyverno_dir/crds.tmp" && mkdir -p "$kyverno_dir/crds.tmp"
    cp "$src"/config/crds/*/*.yaml "$kyverno_dir/crds.tmp/"
    chmod u+w "$kyverno_dir/crds.tmp"/*.yaml
  )
  rm -rf "$kyverno_dir/crds" && mv "$kyverno_dir/crds.tmp" "$kyverno_dir/crds"
  mv "$out/kyverno.tmp" "$out/kyverno"
}

# go_install NAME PACKAGE VERSION: for modules without replace directives.
go_install() {
  local name=$1 pkg=$2 version=$3
  local out=$cache_root/$name-$version/bin
  [[ -x $out/$name ]] && return 0
  log "building $name $version"
  local tmp=$out.tmp
  rm -rf "$tmp" && mkdir -p "$tmp"
  (
    export GOFLAGS=-mod=mod GOWORK=off CGO_ENABLED=0 GOBIN=$tmp
    local ldflags="-s -w"
    [[ $name == helm ]] && ldflags+=" -X helm.sh/helm/v3/internal/version.version=$version"
    go install $tool_buildflags -ldflags "$ldflags" "$pkg@$version"
  )
  mkdir -p "$out"
  mv "$tmp/$(basename "${pkg}")" "$out/$name"
  rm -rf "$tmp"
}

build_tool() {
  case $1 in
    etcd) build_etcd ;;
    kube-apiserver | kubectl | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) build_kubernetes "$1" ;;
    kwok) go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION" ;;
    kuberay-operator) go_install kuberay-operator github.com/ray-project/kuberay/ray-operator "$KUBERAY_VERSION" ;;
    helm) go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" ;;
    kyverno) build_kyverno ;;
    *) echo "hack/tools.sh: unknown tool $1" >&2; exit 2 ;;
  esac
}

# Binaries are linked into one folder so callers need a single PATH entry;
# the links point into version-keyed folders, so a version bump rebuilds.
link_bin() {
  mkdir -p "$bin_dir"
  ln -sfn "$etcd_dir/bin/etcd" "$bin_dir/etcd"
  for b in kube-apiserver kubectl kube-controller-manager kube-scheduler; do
    ln -sfn "$k8s_dir/bin/$b" "$bin_dir/$b"
  done
  # kubelet and kube-proxy only once built: a caller may name the tools it
  # needs (hack/local-cluster.sh without --pods does not need these two).
  for b in kubelet kube-proxy; do
    if [[ -x $k8s_dir/bin/$b ]]; then ln -sfn "$k8s_dir/bin/$b" "$bin_dir/$b"; fi
  done
  ln -sfn "$cache_root/kwok-$KWOK_VERSION/bin/kwok" "$bin_dir/kwok"
  ln -sfn "$cache_root/kuberay-operator-$KUBERAY_VERSION/bin/kuberay-operator" "$bin_dir/kuberay-operator"
  ln -sfn "$cache_root/helm-$HELM_VERSION/bin/helm" "$bin_dir/helm"
  if [[ -x $kyverno_dir/bin/kyverno ]]; then ln -sfn "$kyverno_dir/bin/kyverno" "$bin_dir/kyverno"; fi
}

all_tools=(etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kubelet kube-proxy kwok kuberay-operator helm)

cmd=${1:-build}
shift || true
tools=("$@")
[[ ${#tools[@]} -eq 0 ]] && tools=("${all_tools[@]}")
case $cmd in
  build | bin-dir)
    k8s=() jobs=()
    for t in "${tools[@]}"; do
      case $t in
        kube-apiserver | kubectl | kube-controller-manager | kube-scheduler | kubelet | kube-proxy) k8s+=("$t") ;;
        *) build_tool "$t" & jobs+=("$!:$t") ;;
      esac
    done
    # One go build session for the Kubernetes binaries shares their packages.
    if [[ ${#k8s[@]} -gt 0 ]]; then build_kubernetes "${k8s[@]}" & jobs+=("$!:${k8s[*]}"); fi
    # Each job runs under set -e; wait collects every failure before exiting.
    failed=()
    for j in "${jobs[@]}"; do wait "${j%%:*}" || failed+=("${j#*:}"); done
    if [[ ${#failed[@]} -gt 0 ]]; then
      log "failed to build: ${failed[*]}"
      exit 1
    fi
    link_bin
    [[ $cmd == bin-dir ]] && echo "$bin_dir"
    ;;
  *)
    echo "usage: $0 [build|bin-dir] [TOOL...]" >&2
    exit 2
    ;;
esac
exit 0
