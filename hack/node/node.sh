# shellcheck shell=bash
# One real node for `hack/local-cluster.sh up --pods` (sourced by it): a
# private containerd (its own socket, root and state under the cluster's
# state folder) with runc and the CNI bridge plugin, a real kubelet and
# kube-proxy (iptables mode) built by hack/tools.sh. The node is tainted and
# labelled raypilot.io/real-node so that only pods tolerating it (the chart's
# pods, through hack/node/values.yaml) land on it; Ray pods stay on kwok's
# fake nodes.
#
# The pod network is a host bridge ($POD_BRIDGE, gateway $POD_GATEWAY on
# $POD_SUBNET) created here before the API server starts: pods reach the
# host (the API server, advertised on the gateway address, and raysim's
# gRPC port) through it, and host processes (the API server calling the
# webhook's Service) reach pods through kube-proxy's rules and the bridge's
# route. No IP forwarding and no masquerading are needed: nothing leaves
# the host.
#
# Needs root, containerd, runc, the CNI plugins, iptables and conntrack:
# node_packages installs the missing ones with apt-get.

NODE_NAME=raypilot-node
NODE_TAINT_KEY=raypilot.io/real-node
POD_SUBNET=${RAYPILOT_POD_SUBNET:-10.85.0.0/24}
POD_GATEWAY=${RAYPILOT_POD_GATEWAY:-10.85.0.1}
POD_BRIDGE=${RAYPILOT_POD_BRIDGE:-rpcni0}
KUBELET_PORT=${RAYPILOT_KUBELET_PORT:-20250}
KUBE_PROXY_PORT=${RAYPILOT_KUBE_PROXY_PORT:-20256}
PAUSE_IMAGE=raypilot/pause:local
CNI_BIN_DIR=${RAYPILOT_CNI_BIN_DIR:-/usr/lib/cni}

node_log() { echo "local-cluster (node): $*" >&2; }

# node_packages: containerd, runc, CNI plugins, iptables, conntrack.
node_packages() {
  local missing=()
  command -v containerd >/dev/null || missing+=(containerd)
  command -v runc >/dev/null || missing+=(runc)
  [[ -x $CNI_BIN_DIR/bridge && -x $CNI_BIN_DIR/host-local && -x $CNI_BIN_DIR/loopback ]] || missing+=(containernetworking-plugins)
  command -v iptables >/dev/null || missing+=(iptables)
  command -v conntrack >/dev/null || missing+=(conntrack)
  [[ ${#missing[@]} -eq 0 ]] && return 0
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    node_log "missing ${missing[*]}: install them (Debian: apt-get install ${missing[*]}); --pods also needs root"
    return 1
  fi
  node_log "installing ${missing[*]} (apt-get)"
  if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >"$state/logs/apt.log" 2>&1; then
    tail -20 "$state/logs/apt.log" >&2
    return 1
  fi
}

node_check() {
  [[ $(id -u) -eq 0 ]] || { node_log "--pods needs root (a kubelet, containerd, iptables)"; return 1; }
  if ip link show "$POD_BRIDGE" >/dev/null 2>&1 && [[ ! -f $state/node/bridge ]]; then
    node_log "a bridge $POD_BRIDGE exists already (another --pods cluster?); set RAYPILOT_POD_BRIDGE, RAYPILOT_POD_SUBNET and RAYPILOT_POD_GATEWAY"
    return 1
  fi
}

# node_network: the pod bridge with the gateway address, before the API
# server advertises that address.
node_network() {
  mkdir -p "$state/node"
  if ! ip link show "$POD_BRIDGE" >/dev/null 2>&1; then
    ip link add "$POD_BRIDGE" type bridge
    touch "$state/node/bridge"
  fi
  ip addr replace "$POD_GATEWAY/${POD_SUBNET#*/}" dev "$POD_BRIDGE"
  ip link set "$POD_BRIDGE" up
}

node_config() {
  local n=$state/node
  mkdir -p "$n/cni" "$n/containerd" "$n/kubelet" "$n/pod-logs" "$n/ipam"
  cat >"$n/cni/10-raypilot.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "raypilot",
  "plugins": [
    {"type": "bridge", "bridge": "$POD_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$n/ipam", "ranges": [[{"subnet": "$POD_SUBNET", "gateway": "$POD_GATEWAY"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "loopback"}
  ]
}
JSON
  # restrict_oom_score_adj: without it every sandbox fails here ("can't get
  # final child's PID from pipe"): the sandbox may not lower its OOM score.
  cat >"$n/containerd/config.toml" <<TOML
version = 2
root = "$n/containerd/root"
state = "$n/containerd/state"
[grpc]
  address = "$n/containerd/containerd.sock"
[ttrpc]
  address = "$n/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(node_image_name "$PAUSE_IMAGE")"
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$n/cni"
TOML
  cat >"$n/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine: cgroup v1, no systemd, no QoS hierarchy.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
containerRuntimeEndpoint: unix://$n/containerd/containerd.sock
podLogsDir: $n/pod-logs
address: $POD_GATEWAY
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((KUBELET_PORT + 1))
# The API server's calls (logs, exec) are not authenticated on this
# single-user control plane.
authentication: {anonymous: {enabled: true}, webhook: {enabled: false}}
authorization: {mode: AlwaysAllow}
clusterDomain: cluster.local
# A shared disk: never evict for what others write to it.
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
YAML
}

# node_image_name REF: the name containerd's CRI finds REF by.
node_image_name() { (cd "$here/node" && GOFLAGS=-mod=mod GOWORK=off go run . normalize "$1"); }

ctr_() { ctr -a "$state/node/containerd/containerd.sock" -n k8s.io "$@"; }

# node_images: the pause image (FROM scratch, a static Go binary) and
# raypilot's image from hack/image (what `make image` builds), imported into
# containerd under the names the kubelet asks for.
node_images() {
  local n=$state/node
  (cd "$here/node" && CGO_ENABLED=0 GOWORK=off go build -trimpath -ldflags "-s -w" -o "$n/pause" ./pause &&
    GOFLAGS=-mod=mod GOWORK=off go run . pause-image "$n/pause" "$PAUSE_IMAGE" "$n/pause.tar")
  ctr_ images import "$n/pause.tar" >/dev/null
  node_log "building raypilot's image (hack/image, as make image does)"
  local out
  out=$(cd "$here/image" && go run . build --src "$root" --repository raypilot/raypilot --out "$n/raypilot-image.tar" 2>"$state/logs/image-build.log")
  # REPOSITORY:TAG@DIGEST
  local ref=${out%%@*}
  ctr_ images import "$n/raypilot-image.tar" >/dev/null
  local full
  full=$(node_image_name "$ref")
  [[ $full == "$ref" ]] || ctr_ images tag --force "$ref" "$full" >/dev/null
  node_log "imported $ref into containerd"
}

# node_tag_image NEWTAG: the imported raypilot image under another tag (a
# `helm upgrade` to a new image tag without a registry).
node_tag_image() {
  local ref
  ref=$(ctr_ images ls -q | grep -v '^sha256:' | grep '/raypilot/raypilot:' | head -1)
  ctr_ images tag --force "$ref" "${ref%:*}:$1" >/dev/null
}

node_start() {
  local n=$state/node
  case $1 in
    containerd)
      log "starting containerd (socket $n/containerd/containerd.sock)"
      start containerd containerd --config "$n/containerd/config.toml"
      wait_for containerd 60 ctr_ version
      ;;
    kubelet)
      log "starting kubelet (node $NODE_NAME, port $KUBELET_PORT)"
      start kubelet "$bin/kubelet" --config "$n/kubelet/config.yaml" --kubeconfig "$state/kubeconfig" \
        --root-dir "$n/kubelet/root" --hostname-override "$NODE_NAME" --node-ip "$POD_GATEWAY" \
        --node-labels "$NODE_TAINT_KEY=true" --register-with-taints "$NODE_TAINT_KEY=true:NoSchedule"
      wait_for "the kubelet's node" 240 bash -c "'$bin/kubectl' --kubeconfig '$state/kubeconfig' get node $NODE_NAME --no-headers | grep -q ' Ready'"
      ;;
    kube-proxy)
      log "starting kube-proxy (iptables mode)"
      touch "$n/kube-proxy-started"
      start kube-proxy "$bin/kube-proxy" --kubeconfig "$state/kubeconfig" --hostname-override "$NODE_NAME" \
        --proxy-mode iptables --cluster-cidr "$POD_SUBNET" --conntrack-max-per-core 0 \
        --iptables-localhost-nodeports=false --nodeport-addresses "$POD_GATEWAY/32" \
        --metrics-bind-address "127.0.0.1:$KUBE_PROXY_PORT" --healthz-bind-address "127.0.0.1:$((KUBE_PROXY_PORT + 1))"
      wait_for kube-proxy 120 curl -fsS "http://127.0.0.1:$((KUBE_PROXY_PORT + 1))/healthz"
      ;;
  esac
}

# node_drain: before the node's processes stop, its pods go (cordoned, so
# the Deployments' replacements stay Pending) and the kubelet tears down
# their sandboxes (CNI DEL, network namespaces).
node_drain() {
  pid_alive kubelet && pid_alive kube-apiserver || return 0
  kubectl_ cordon "$NODE_NAME" >/dev/null 2>&1 || true
  kubectl_ delete pods -A --field-selector "spec.nodeName=$NODE_NAME" --grace-period 1 --timeout 60s >/dev/null 2>&1 || true
  local i
  for ((i = 0; i < 60; i++)); do
    [[ -z $(ctr_ tasks ls -q 2>/dev/null) ]] && break
    sleep 1
  done
}

# node_cleanup: after the processes stopped: leftover shims of this
# containerd, mounts under the state folder, kube-proxy's rules, the bridge.
node_cleanup() {
  local n=$state/node pid
  [[ -d $n ]] || return 0
  for pid in $(pgrep -f -- "-address $n/containerd/containerd.sock" || true); do kill -KILL "$pid" 2>/dev/null || true; done
  local m
  while read -r m; do umount -l "$m" 2>/dev/null || true; done < <(awk -v p="$state/" 'index($2, p) == 1 {print $2}' /proc/mounts | sort -r)
  if [[ -x ${bin:-}/kube-proxy ]] && [[ -f $n/kube-proxy-started ]]; then
    "$bin/kube-proxy" --cleanup --proxy-mode iptables >/dev/null 2>&1 || true
  fi
  node_kubelet_rules_cleanup
  if [[ -f $n/bridge ]]; then ip link del "$POD_BRIDGE" 2>/dev/null || true; fi
}

# node_kubelet_rules_cleanup: the chains the kubelet itself adds
# (kube-proxy --cleanup leaves them): KUBE-FIREWALL with its jumps from
# INPUT and OUTPUT, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT.
node_kubelet_rules_cleanup() {
  local ipt table chain
  for ipt in iptables ip6tables; do
    command -v "$ipt" >/dev/null || continue
    for chain in INPUT OUTPUT; do
      while "$ipt" -t filter -D "$chain" -j KUBE-FIREWALL 2>/dev/null; do :; done
    done
    for table in filter nat mangle; do
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        "$ipt" -t "$table" -F "$chain" 2>/dev/null && "$ipt" -t "$table" -X "$chain" 2>/dev/null || true
      done
    done
  done
}
