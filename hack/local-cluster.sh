#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, no Docker needed: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl built
# from source (hack/tools.sh), kwok for fake nodes and pod lifecycles, the
# real KubeRay operator (out of cluster), the KubeRay and raypilot CRDs,
# `raypilot webhook` registered with a url client config and a CA bundle,
# raysim playing every Ray cluster's GCS, and `raypilot scaler` (policy
# autoscaling.mode: central) talking to raysim.
#
#   hack/local-cluster.sh up     start (idempotent); last line: the env file
#   hack/local-cluster.sh env    print the env file's path
#   hack/local-cluster.sh down   stop what `up` started, by PID; remove state
#
# State (PID files, logs, certificates, etcd data) lives in one folder:
# $RAYPILOT_CLUSTER_DIR, default ~/.cache/raypilot/cluster.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
export PATH="$PATH:/usr/local/go/bin"

state=${RAYPILOT_CLUSTER_DIR:-$HOME/.cache/raypilot/cluster}
envfile=$state/env.sh
ETCD_PORT=${RAYPILOT_ETCD_PORT:-23790}
APISERVER_PORT=${RAYPILOT_APISERVER_PORT:-26443}
WEBHOOK_PORT=${RAYPILOT_WEBHOOK_PORT:-29443}
RAYSIM_GRPC_PORT=${RAYPILOT_RAYSIM_GRPC_PORT:-26379}
RAYSIM_HTTP_PORT=${RAYPILOT_RAYSIM_HTTP_PORT:-28265}
NODES=${RAYPILOT_NODES:-3}
# Start order; `down` stops in reverse.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kuberay-operator raypilot-webhook raysim raypilot-scaler)

log() { echo "local-cluster: $*" >&2; }

pid_alive() { [[ -f $state/pids/$1 ]] && kill -0 "$(cat "$state/pids/$1")" 2>/dev/null; }

running() {
  for c in "${components[@]}"; do pid_alive "$c" || return 1; done
  kubectl_ get --raw /readyz >/dev/null 2>&1
}

kubectl_() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# start NAME CMD...: run CMD in the background with its log and PID file.
start() {
  local name=$1
  shift
  "$@" >"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name"
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  for ((i = 0; i < tries; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  log "$what did not come up; logs in $state/logs"
  return 1
}

# render FILE: substitute ${VAR} from the environment.
render() { perl -pe 's/\$\{(\w+)\}/defined $ENV{$1} ? $ENV{$1} : $&/ge' "$1"; }

pki() {
  local d=$state/pki
  mkdir -p "$d"
  openssl genrsa -out "$d/sa.key" 2048 2>/dev/null
  openssl rsa -in "$d/sa.key" -pubout -out "$d/sa.pub" 2>/dev/null
  # One CA signs the API server's and the webhook's serving certificates.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=raypilot-local-ca" \
    -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
  for svc in apiserver webhook; do
    openssl req -newkey rsa:2048 -nodes -subj "/CN=$svc" -keyout "$d/$svc.key" -out "$d/$svc.csr" 2>/dev/null
    openssl x509 -req -in "$d/$svc.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 30 \
      -extfile <(printf "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth") \
      -out "$d/$svc.crt" 2>/dev/null
  done
  mkdir -p "$d/webhook-serving"
  cp "$d/webhook.crt" "$d/webhook-serving/tls.crt"
  cp "$d/webhook.key" "$d/webhook-serving/tls.key"
  # A static admin token: this control plane is for one user on loopback.
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$d/admin.token"
  echo "$(cat "$d/admin.token"),admin,admin,system:masters" >"$d/tokens.csv"
  cat >"$state/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: raypilot-local
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$d/ca.crt"}
users:
- name: admin
  user: {token: "$(cat "$d/admin.token")"}
contexts:
- name: raypilot-local
  context: {cluster: raypilot-local, user: admin, namespace: default}
current-context: raypilot-local
KC
  chmod 600 "$state/kubeconfig" "$d"/*.key "$d/tokens.csv" "$d/admin.token"
}

kwok_config() {
  local stages
  stages=$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK_VERSION/kustomize/stage
  {
    # pod/fast: pods (and their init containers) are ready at once, so
    # reaction times measure raypilot and KubeRay, not a simulated delay.
    for f in "$stages"/node/fast/node-initialize.yaml "$stages"/node/heartbeat-with-lease/*.yaml "$stages"/pod/fast/*.yaml; do
      echo "---"
      cat "$f"
    done
  } >"$state/kwok-stages.yaml"
}

up() {
  source "$here/tools/versions.env"
  bin=$("$here/tools.sh" bin-dir)
  if [[ -d $state ]] && running; then
    log "already running (state in $state)"
    write_env
    echo "$envfile"
    return 0
  fi
  [[ -d $state ]] && { log "stale state in $state: cleaning up"; down >/dev/null; }
  mkdir -p "$state"/{pids,logs,etcd}
  log "building raypilot"
  (cd "$root" && go build -o "$state/raypilot" ./cmd/raypilot && go build -o "$state/raysim" ./e2e/raysim/cmd/raysim)
  # The local control plane hands autoscaled clusters to the central scaler.
  policy=${RAYPILOT_POLICY:-$state/policy.yaml}
  [[ -n ${RAYPILOT_POLICY:-} ]] || printf 'defaults:\n  autoscaling: {mode: central}\n' >"$state/policy.yaml"
  go mod download "github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION" "sigs.k8s.io/kwok@$KWOK_VERSION"
  pki
  kwok_config
  local d=$state/pki

  log "starting etcd on 127.0.0.1:$ETCD_PORT"
  start etcd "$bin/etcd" --data-dir "$state/etcd" --name local \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
    --initial-cluster "local=http://127.0.0.1:$((ETCD_PORT + 10))" --log-level warn
  wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

  log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
  start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$APISERVER_PORT" \
    --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" --client-ca-file "$d/ca.crt" \
    --token-auth-file "$d/tokens.csv" --authorization-mode RBAC \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
    --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true --endpoint-reconciler-type none
  wait_for kube-apiserver 240 kubectl_ get --raw /readyz

  log "starting kube-controller-manager and kube-scheduler"
  start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$state/kubeconfig" \
    --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
    --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
    --cluster-cidr 10.244.0.0/16 --service-cluster-ip-range 10.96.0.0/16 --use-service-account-credentials=false
  start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$state/kubeconfig" \
    --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
    --leader-elect=false --bind-address 127.0.0.1 --secure-port 0

  log "starting kwok with $NODES fake nodes"
  start kwok "$bin/kwok" --kubeconfig "$state/kubeconfig" --config "$state/kwok-stages.yaml" \
    --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --cidr 10.0.0.1/24 --node-ip 10.0.0.1 --node-lease-duration-seconds 40 --server-address 127.0.0.1:0
  for ((n = 0; n < NODES; n++)); do
    NODE_NAME=kwok-node-$n render "$here/local-cluster/node.yaml" | kubectl_ apply -f - >/dev/null
  done
  wait_for "the fake nodes" 120 bash -c "[[ \$('$bin/kubectl' --kubeconfig '$state/kubeconfig' get nodes --no-headers 2>/dev/null | grep -c ' Ready') -ge $NODES ]]"

  log "installing the KubeRay $KUBERAY_VERSION and raypilot CRDs"
  local kuberay
  kuberay=$(go env GOMODCACHE)/github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION
  kubectl_ apply --server-side -f "$kuberay/config/crd/bases" -f "$root/charts/raypilot/crds" >/dev/null
  wait_for "the CRDs" 120 kubectl_ wait --for condition=Established --timeout 5s crd --all
  wait_for "the default service account" 120 kubectl_ get serviceaccount default

  log "starting the KubeRay operator"
  KUBECONFIG=$state/kubeconfig start kuberay-operator "$bin/kuberay-operator" \
    --enable-leader-election=false --metrics-addr 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0

  log "starting raypilot webhook on https://127.0.0.1:$WEBHOOK_PORT"
  start raypilot-webhook "$state/raypilot" webhook --kubeconfig "$state/kubeconfig" \
    --host 127.0.0.1 --port "$WEBHOOK_PORT" --cert-dir "$d/webhook-serving" \
    --metrics-bind-address 0 --health-probe-bind-address "127.0.0.1:$((WEBHOOK_PORT + 1))" \
    --policy "$policy"
  wait_for "raypilot webhook" 120 curl -fsS "http://127.0.0.1:$((WEBHOOK_PORT + 1))/readyz"
  WEBHOOK_PORT=$WEBHOOK_PORT CA_BUNDLE=$(base64 -w0 <"$d/ca.crt") render "$here/local-cluster/webhook.yaml" | kubectl_ apply -f - >/dev/null

  log "starting raysim (Ray GCS simulator) and raypilot scaler"
  start raysim "$state/raysim" --kubeconfig "$state/kubeconfig" \
    --grpc-address "127.0.0.1:$RAYSIM_GRPC_PORT" --http-address "127.0.0.1:$RAYSIM_HTTP_PORT"
  start raypilot-scaler "$state/raypilot" scaler --kubeconfig "$state/kubeconfig" --policy "$policy" \
    --gcs-proxy-address "127.0.0.1:$RAYSIM_GRPC_PORT" --metrics-bind-address "127.0.0.1:$((WEBHOOK_PORT + 3))" \
    --health-probe-bind-address "127.0.0.1:$((WEBHOOK_PORT + 2))"
  wait_for raysim 60 curl -fsS "http://127.0.0.1:$RAYSIM_HTTP_PORT/v1/clusters/default/none/state"
  wait_for "raypilot scaler" 60 curl -fsS "http://127.0.0.1:$((WEBHOOK_PORT + 2))/readyz"

  for c in "${components[@]}"; do
    pid_alive "$c" || { log "$c exited; see $state/logs/$c.log"; tail -20 "$state/logs/$c.log" >&2; exit 1; }
  done
  write_env
  log "ready: $(kubectl_ get nodes --no-headers | wc -l) nodes; logs in $state/logs"
  echo "$envfile"
}

write_env() {
  cat >"$envfile" <<ENV
# raypilot local control plane: source this file.
export KUBECONFIG="$state/kubeconfig"
export PATH="$bin:\$PATH"
export RAYSIM_URL="http://127.0.0.1:$RAYSIM_HTTP_PORT"
ENV
}

down() {
  if [[ ! -d $state ]]; then
    log "not running"
    return 0
  fi
  for ((i = ${#components[@]} - 1; i >= 0; i--)); do
    local c=${components[i]} pid
    [[ -f $state/pids/$c ]] || continue
    pid=$(cat "$state/pids/$c")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((t = 0; t < 50; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$state"
  log "stopped; removed $state"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  env) echo "$envfile" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
