#!/usr/bin/env bash
# A real Kubernetes control plane on this machine, no Docker needed: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler and kubectl built
# from source (hack/tools.sh), kwok for fake nodes and pod lifecycles, the
# real KubeRay operator (out of cluster), the KubeRay and raypilot CRDs,
# raypilot's chart installed with Helm (webhook configurations with a url
# client config), `raypilot webhook` with self-managed certificates,
# raysim playing every Ray cluster's GCS, and `raypilot scaler` (policy
# autoscaling.mode: central) talking to raysim; webhook and scaler use tokens
# of the chart's ServiceAccounts. raysim also plays the Ray dashboard's Serve
# API and the Serve proxies' health checks for the KubeRay operator, which
# reaches them through its HTTP_PROXY setting (raysim's dashboard proxy).
#
#   hack/local-cluster.sh up     start (idempotent); last line: the env file
#   hack/local-cluster.sh up --pods
#                                the same control plane plus ONE real node
#                                (hack/node: containerd, runc, CNI bridge,
#                                kubelet, kube-proxy; root needed, missing
#                                Debian packages installed with apt-get), and
#                                raypilot's chart installed with its defaults:
#                                webhook and scaler run as pods of the image
#                                hack/image builds, on that node (tainted
#                                raypilot.io/real-node; hack/node/values.yaml
#                                adds the toleration, nodeSelector, pull
#                                policy Never and the scaler's
#                                --gcs-proxy-address, raysim on the bridge's
#                                gateway). Ray pods stay on kwok nodes. The
#                                API server listens on all addresses and is
#                                advertised on the bridge's gateway, so the
#                                kubernetes Service reaches it from pods.
#   hack/local-cluster.sh env    print the env file's path
#   hack/local-cluster.sh down   stop what `up` started, by PID; remove state
#
# One component of a running control plane (chaos tests; COMPONENT is one of
# the names below, e.g. kube-apiserver, raypilot-webhook, raypilot-scaler):
#
#   hack/local-cluster.sh stop COMPONENT [SIGNAL]  signal it (default TERM,
#                                 KILL after 30 s) and wait until it exited
#   hack/local-cluster.sh start COMPONENT          start it as `up` did, wait
#                                 until it is ready; its log is appended to
#   hack/local-cluster.sh restart COMPONENT        stop (TERM), then start
#
# Host ports next to $RAYPILOT_WEBHOOK_PORT (default 29443): the webhook's
# health +1 and metrics +4, the scaler's health +2 and metrics +3.
#
# State (PID files, logs, certificates, etcd data) lives in one folder:
# $RAYPILOT_CLUSTER_DIR, default ~/.cache/raypilot/cluster.
#
# One difference from the chart's defaults, for tests: the scaler gives up
# on a drain call after $RAYPILOT_GCS_DRAIN_TIMEOUT (default 5s, the chart's
# 30s), so that a raylet simulated as too slow is retried within a test's
# patience.
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
RAYSIM_DASHBOARD_PORT=${RAYPILOT_RAYSIM_DASHBOARD_PORT:-28266}
NODES=${RAYPILOT_NODES:-3}
# The chart's release namespace (Helm release "raypilot").
RELEASE_NAMESPACE=raypilot-system
# Start order; `down` stops in reverse.
components=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok kuberay-operator raypilot-webhook raysim raypilot-scaler)
# --pods: the webhook and scaler are pods on a real node instead.
pods_components=(etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kwok kuberay-operator raysim)
PODS=
# shellcheck source=node/node.sh
source "$here/node/node.sh"
# pods_mode: switch to the --pods component list (from `up --pods`, or a
# state folder that `up --pods` made).
pods_mode() {
  PODS=1
  components=("${pods_components[@]}")
}
[[ -f $state/pods-mode ]] && pods_mode

log() { echo "local-cluster: $*" >&2; }

pid_alive() { [[ -f $state/pids/$1 ]] && kill -0 "$(cat "$state/pids/$1")" 2>/dev/null; }

running() {
  for c in "${components[@]}"; do pid_alive "$c" || return 1; done
  kubectl_ get --raw /readyz >/dev/null 2>&1
}

kubectl_() { "$bin/kubectl" --kubeconfig "$state/kubeconfig" "$@"; }

# start NAME CMD...: run CMD in the background with its log and PID file;
# the log is truncated unless append_logs is set (a component's restart).
append_logs=
start() {
  local name=$1
  shift
  if [[ -n $append_logs ]]; then
    "$@" >>"$state/logs/$name.log" 2>&1 &
  else
    "$@" >"$state/logs/$name.log" 2>&1 &
  fi
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
      -extfile <(printf "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc%s\nextendedKeyUsage=serverAuth" "${PODS:+,IP:10.96.0.1,IP:$POD_GATEWAY}") \
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

# start_component NAME: start one component the way `up` does and wait
# until it is ready (the scheduler, controller manager, kwok and the KubeRay
# operator have no readiness endpoint here: they retry on their own).
start_component() {
  local d=$state/pki
  case $1 in
    etcd)
      log "starting etcd on 127.0.0.1:$ETCD_PORT"
      start etcd "$bin/etcd" --data-dir "$state/etcd" --name local \
        --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
        --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 10))" \
        --initial-cluster "local=http://127.0.0.1:$((ETCD_PORT + 10))" --log-level warn
      wait_for etcd 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
      ;;
    kube-apiserver)
      log "starting kube-apiserver on https://127.0.0.1:$APISERVER_PORT"
      # --pods: pods reach it through the kubernetes Service, whose endpoint
      # is the bridge's gateway (the lease reconciler writes it).
      local bind=127.0.0.1 advertise=127.0.0.1 reconciler=none
      local extra=()
      [[ -n $PODS ]] && { bind=0.0.0.0; advertise=$POD_GATEWAY; reconciler=lease; extra=(--kubelet-preferred-address-types InternalIP); }
      start kube-apiserver "$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
        --bind-address "$bind" --advertise-address "$advertise" --secure-port "$APISERVER_PORT" \
        --tls-cert-file "$d/apiserver.crt" --tls-private-key-file "$d/apiserver.key" --client-ca-file "$d/ca.crt" \
        --token-auth-file "$d/tokens.csv" --authorization-mode RBAC \
        --service-account-issuer https://kubernetes.default.svc.cluster.local \
        --service-account-key-file "$d/sa.pub" --service-account-signing-key-file "$d/sa.key" \
        --service-cluster-ip-range 10.96.0.0/16 --allow-privileged=true --endpoint-reconciler-type "$reconciler" "${extra[@]}"
      wait_for kube-apiserver 240 kubectl_ get --raw /readyz
      ;;
    kube-controller-manager)
      log "starting kube-controller-manager"
      start kube-controller-manager "$bin/kube-controller-manager" --kubeconfig "$state/kubeconfig" \
        --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
        --leader-elect=false --bind-address 127.0.0.1 --secure-port 0 \
        --service-account-private-key-file "$d/sa.key" --root-ca-file "$d/ca.crt" \
        --cluster-cidr 10.244.0.0/16 --service-cluster-ip-range 10.96.0.0/16 --use-service-account-credentials=false
      ;;
    kube-scheduler)
      log "starting kube-scheduler"
      start kube-scheduler "$bin/kube-scheduler" --kubeconfig "$state/kubeconfig" \
        --authentication-kubeconfig "$state/kubeconfig" --authorization-kubeconfig "$state/kubeconfig" \
        --leader-elect=false --bind-address 127.0.0.1 --secure-port 0
      ;;
    kwok)
      log "starting kwok with $NODES fake nodes"
      start kwok "$bin/kwok" --kubeconfig "$state/kubeconfig" --config "$state/kwok-stages.yaml" \
        --manage-all-nodes=false --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
        --cidr 10.0.0.1/24 --node-ip 10.0.0.1 --node-lease-duration-seconds 40 --server-address 127.0.0.1:0
      ;;
    kuberay-operator)
      # The RayService controller calls the Ray dashboard
      # (http://<cluster>-head-svc.<ns>.svc.cluster.local:8265/api/serve/...)
      # and each head's Serve proxy (http://<pod IP>:8000/-/healthz) with
      # plain http.Clients on Go's default transport, which honour
      # HTTP_PROXY: those requests go to raysim's dashboard proxy. Go never
      # proxies loopback addresses, so the API server connection is direct;
      # NO_PROXY says so for any other client too.
      log "starting the KubeRay operator (HTTP_PROXY: raysim's dashboard proxy on 127.0.0.1:$RAYSIM_DASHBOARD_PORT)"
      KUBECONFIG=$state/kubeconfig HTTP_PROXY="http://127.0.0.1:$RAYSIM_DASHBOARD_PORT" http_proxy= \
        NO_PROXY=127.0.0.1,localhost,::1 no_proxy= \
        start kuberay-operator "$bin/kuberay-operator" \
        --enable-leader-election=false --metrics-addr 127.0.0.1:0 --health-probe-bind-address 127.0.0.1:0
      ;;
    raypilot-webhook)
      # As the chart's Deployment runs it (self-managed certificates, the
      # chart's ServiceAccount), but on the host, reached by url.
      log "starting raypilot webhook on https://127.0.0.1:$WEBHOOK_PORT"
      start raypilot-webhook "$state/raypilot" webhook --kubeconfig "$state/webhook.kubeconfig" \
        --host 127.0.0.1 --port "$WEBHOOK_PORT" --policy "$policy" \
        --metrics-bind-address "127.0.0.1:$((WEBHOOK_PORT + 4))" --health-probe-bind-address "127.0.0.1:$((WEBHOOK_PORT + 1))" \
        --cert-mode self-managed --cert-secret-name raypilot-webhook-tls --cert-secret-namespace "$RELEASE_NAMESPACE" \
        --webhook-service-name raypilot-webhook --cert-extra-sans 127.0.0.1 \
        --mutating-webhook-configuration raypilot --validating-webhook-configuration raypilot \
        --leader-elect --leader-elect-resource-name raypilot-webhook-tls-writer
      # Ready only once its CA is in both webhook configurations.
      wait_for "raypilot webhook" 120 curl -fsS "http://127.0.0.1:$((WEBHOOK_PORT + 1))/readyz"
      ;;
    raysim)
      log "starting raysim (Ray GCS simulator)"
      # --pods: the scaler pod reaches its gRPC port on the bridge's gateway.
      local grpc_host=127.0.0.1
      [[ -n $PODS ]] && grpc_host=$POD_GATEWAY
      start raysim "$state/raysim" --kubeconfig "$state/kubeconfig" \
        --grpc-address "$grpc_host:$RAYSIM_GRPC_PORT" --http-address "127.0.0.1:$RAYSIM_HTTP_PORT" \
        --dashboard-address "127.0.0.1:$RAYSIM_DASHBOARD_PORT"
      wait_for raysim 60 curl -fsS "http://127.0.0.1:$RAYSIM_HTTP_PORT/v1/clusters/default/none/state"
      # Listening: a request naming no Ray pod gets its 502.
      wait_for "raysim's dashboard proxy" 60 curl -sS -o /dev/null "http://127.0.0.1:$RAYSIM_DASHBOARD_PORT/"
      ;;
    raypilot-scaler)
      log "starting raypilot scaler"
      start raypilot-scaler "$state/raypilot" scaler --kubeconfig "$state/scaler.kubeconfig" --policy "$policy" \
        --sharding --leader-elect-resource-namespace "$RELEASE_NAMESPACE" --gcs-proxy-address "127.0.0.1:$RAYSIM_GRPC_PORT" --metrics-bind-address "127.0.0.1:$((WEBHOOK_PORT + 3))" \
        --gcs-drain-timeout "${RAYPILOT_GCS_DRAIN_TIMEOUT:-5s}" \
        --health-probe-bind-address "127.0.0.1:$((WEBHOOK_PORT + 2))"
      wait_for "raypilot scaler" 60 curl -fsS "http://127.0.0.1:$((WEBHOOK_PORT + 2))/readyz"
      ;;
    containerd | kubelet | kube-proxy) node_start "$1" ;;
    *)
      log "unknown component $1 (one of: ${components[*]})"
      return 2
      ;;
  esac
}

up() {
  source "$here/tools/versions.env"
  bin=$("$here/tools.sh" bin-dir)
  if [[ -d $state ]] && running; then
    log "already running (state in $state)"
    upgrade_running
    write_env
    echo "$envfile"
    return 0
  fi
  [[ -d $state ]] && { log "stale state in $state: cleaning up"; down >/dev/null; }
  [[ -n $want_pods ]] && pods_mode
  mkdir -p "$state"/{pids,logs,etcd}
  if [[ -n $PODS ]]; then
    node_check
    touch "$state/pods-mode"
    node_packages
    bin=$("$here/tools.sh" bin-dir etcd kube-apiserver kubectl kube-controller-manager kube-scheduler kwok kuberay-operator helm kubelet kube-proxy)
    node_network
    node_config
  fi
  log "building raypilot"
  (cd "$root" && go build -o "$state/raypilot" ./cmd/raypilot && go build -o "$state/raysim" ./e2e/raysim/cmd/raysim)
  # The local control plane hands autoscaled clusters to the central scaler.
  policy=${RAYPILOT_POLICY:-$state/policy.yaml}
  go mod download "github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION" "sigs.k8s.io/kwok@$KWOK_VERSION"
  # What `start COMPONENT` needs to start a component the same way later.
  printf 'policy=%q\nETCD_PORT=%q\nAPISERVER_PORT=%q\nWEBHOOK_PORT=%q\nRAYSIM_GRPC_PORT=%q\nRAYSIM_HTTP_PORT=%q\nRAYSIM_DASHBOARD_PORT=%q\n' \
    "$policy" "$ETCD_PORT" "$APISERVER_PORT" "$WEBHOOK_PORT" "$RAYSIM_GRPC_PORT" "$RAYSIM_HTTP_PORT" "$RAYSIM_DASHBOARD_PORT" >"$state/settings.env"
  [[ -n $PODS ]] && printf 'POD_SUBNET=%q\nPOD_GATEWAY=%q\nPOD_BRIDGE=%q\nKUBELET_PORT=%q\nKUBE_PROXY_PORT=%q\n' \
    "$POD_SUBNET" "$POD_GATEWAY" "$POD_BRIDGE" "$KUBELET_PORT" "$KUBE_PROXY_PORT" >>"$state/settings.env"
  pki
  kwok_config
  local d=$state/pki

  for c in "${components[@]}"; do
    start_component "$c"
    case $c in
      containerd) node_images ;;
      raysim) [[ -n $PODS ]] && chart_install_pods ;;
      kwok)
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
        [[ -n $PODS ]] || chart_install
        ;;
    esac
  done

  for c in "${components[@]}"; do
    pid_alive "$c" || { log "$c exited; see $state/logs/$c.log"; tail -20 "$state/logs/$c.log" >&2; exit 1; }
  done
  write_env
  log "ready: $(kubectl_ get nodes --no-headers | wc -l) nodes; logs in $state/logs"
  echo "$envfile"
}

# upgrade_running: a control plane started by an older version of this
# script has no dashboard proxy in raysim and an operator without HTTP_PROXY
# (its settings.env names no RAYSIM_DASHBOARD_PORT): rebuild raysim and
# restart both, so `up` always leaves a control plane RayServices work on.
upgrade_running() {
  grep -q '^RAYSIM_DASHBOARD_PORT=' "$state/settings.env" 2>/dev/null && return 0
  log "the running control plane predates raysim's dashboard proxy: restarting raysim and the KubeRay operator"
  printf 'RAYSIM_DASHBOARD_PORT=%q\n' "$RAYSIM_DASHBOARD_PORT" >>"$state/settings.env"
  stop_component raysim
  (cd "$root" && go build -o "$state/raysim" ./e2e/raysim/cmd/raysim)
  start_one raysim
  stop_component kuberay-operator
  start_one kuberay-operator
}

# chart_install installs charts/raypilot with real Helm, as a platform team
# would, except that the webhook and scaler run on this host: the webhook
# configurations call https://127.0.0.1:$WEBHOOK_PORT, and the two processes
# authenticate with tokens of the chart's own ServiceAccounts (TokenRequest),
# so everything on this control plane runs under exactly the chart's RBAC.
# The policy is the chart's ConfigMap, rendered from values.yaml.
chart_install() {
  log "installing charts/raypilot with Helm into $RELEASE_NAMESPACE"
  "$bin/helm" --kubeconfig "$state/kubeconfig" upgrade --install raypilot "$root/charts/raypilot" \
    --namespace "$RELEASE_NAMESPACE" --create-namespace --wait --timeout 2m \
    --set webhook.deploy=false --set scaler.deploy=false \
    --set webhook.clientConfig.url="https://127.0.0.1:$WEBHOOK_PORT" >"$state/logs/helm.log"
  local sa
  for sa in webhook scaler; do
    identity_kubeconfig "$sa" >"$state/$sa.kubeconfig"
    chmod 600 "$state/$sa.kubeconfig"
  done
  if [[ -z ${RAYPILOT_POLICY:-} ]]; then
    kubectl_ -n "$RELEASE_NAMESPACE" get configmap raypilot-policy -o jsonpath='{.data.policy\.yaml}' >"$policy"
  fi
}

# chart_install_pods (--pods): charts/raypilot with its defaults, the
# webhook and scaler as pods on the real node; hack/node/values.yaml only
# places them there and keeps the kubelet from pulling. Records how long
# `helm install --wait` took (helm-install-seconds) for the e2e tier.
chart_install_pods() {
  log "installing charts/raypilot with Helm into $RELEASE_NAMESPACE (webhook and scaler pods on $NODE_NAME)"
  local t0=$SECONDS
  if ! "$bin/helm" --kubeconfig "$state/kubeconfig" upgrade --install raypilot "$root/charts/raypilot" \
    --namespace "$RELEASE_NAMESPACE" --create-namespace --wait --timeout 3m \
    -f "$here/node/values.yaml" --set "scaler.extraArgs={--gcs-proxy-address=$POD_GATEWAY:$RAYSIM_GRPC_PORT}" >"$state/logs/helm.log" 2>&1; then
    cat "$state/logs/helm.log" >&2
    kubectl_ -n "$RELEASE_NAMESPACE" get pods -o wide >&2 || true
    return 1
  fi
  echo $((SECONDS - t0)) >"$state/helm-install-seconds"
  log "chart ready in $((SECONDS - t0)) s"
}

# identity_kubeconfig SA: a kubeconfig with a token of ServiceAccount
# raypilot-SA in the release namespace.
identity_kubeconfig() {
  local token
  token=$(kubectl_ -n "$RELEASE_NAMESPACE" create token "raypilot-$1" --duration 720h)
  cat <<KC
apiVersion: v1
kind: Config
clusters:
- name: raypilot-local
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$state/pki/ca.crt"}
users:
- name: system:serviceaccount:$RELEASE_NAMESPACE:raypilot-$1
  user: {token: "$token"}
contexts:
- name: raypilot-local
  context: {cluster: raypilot-local, user: "system:serviceaccount:$RELEASE_NAMESPACE:raypilot-$1"}
current-context: raypilot-local
KC
}

write_env() {
  local pods_env=
  [[ -n $PODS ]] && pods_env="# up --pods: webhook and scaler are pods on node $NODE_NAME.
export RAYPILOT_PODS=1
export RAYPILOT_POD_GATEWAY=$POD_GATEWAY
export RAYPILOT_RAYSIM_GRPC_PORT=$RAYSIM_GRPC_PORT
export RAYPILOT_CONTAINERD_ADDRESS=$state/node/containerd/containerd.sock"
  cat >"$envfile" <<ENV
# raypilot local control plane: source this file.
export KUBECONFIG="$state/kubeconfig"
export PATH="$bin:\$PATH"
export RAYSIM_URL="http://127.0.0.1:$RAYSIM_HTTP_PORT"
# raysim's Ray dashboard, as the KubeRay operator reaches it, e.g.
#   curl -x \$RAYSIM_DASHBOARD_PROXY http://<cluster>-head-svc.<ns>.svc.cluster.local:8265/api/serve/applications/
export RAYSIM_DASHBOARD_PROXY="http://127.0.0.1:$RAYSIM_DASHBOARD_PORT"
$pods_env
ENV
}

down() {
  if [[ ! -d $state ]]; then
    log "not running"
    return 0
  fi
  if [[ -n $PODS ]]; then
    bin=$("$here/tools.sh" bin-dir kubelet kube-proxy 2>/dev/null || true)
    [[ -f $state/settings.env ]] && source "$state/settings.env"
    node_drain
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
  [[ -n $PODS ]] && node_cleanup
  rm -rf "$state"
  log "stopped; removed $state"
}

# component_env: what starting one component of a running control plane
# needs: the tools, and the policy and ports `up` used.
component_env() {
  local name=$1
  [[ -f $state/settings.env ]] || { log "no control plane in $state (run: $0 up)"; exit 1; }
  [[ " ${components[*]} " == *" $name "* ]] || { log "unknown component $name (one of: ${components[*]})"; exit 2; }
  source "$here/tools/versions.env"
  bin=$("$here/tools.sh" bin-dir)
  source "$state/settings.env"
}

# stop_component NAME [SIGNAL]: send SIGNAL (default TERM) and wait until
# the process exited; a TERM not obeyed within 30 s (Kubernetes' default grace period) becomes
# a KILL.
stop_component() {
  local name=$1 sig=${2:-TERM} pid
  component_env "$name"
  if ! pid_alive "$name"; then
    log "$name is not running"
    return 0
  fi
  pid=$(cat "$state/pids/$name")
  kill -s "$sig" "$pid"
  for ((t = 0; t < 150; t++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) still running 30 s after SIG$sig: killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  log "$name (pid $pid) stopped with SIG$sig"
}

# start_one NAME: start a stopped component of a running control plane, its
# log appended to.
start_one() {
  local name=$1
  component_env "$name"
  if pid_alive "$name"; then
    log "$name is already running (pid $(cat "$state/pids/$name"))"
    return 0
  fi
  append_logs=1
  echo "--- local-cluster: started again at $(date -u +%FT%TZ)" >>"$state/logs/$name.log"
  start_component "$name"
  pid_alive "$name" || { log "$name exited; see $state/logs/$name.log"; tail -20 "$state/logs/$name.log" >&2; exit 1; }
  log "$name running again (pid $(cat "$state/pids/$name"))"
}

usage() {
  echo "usage: $0 up [--pods]|down|env" >&2
  echo "       $0 stop COMPONENT [SIGNAL] | start COMPONENT | restart COMPONENT" >&2
  echo "       COMPONENT: ${components[*]}" >&2
  exit 2
}

case ${1:-} in
  up)
    want_pods=
    [[ ${2:-} == --pods ]] && want_pods=1
    up
    ;;
  down) down ;;
  env) echo "$envfile" ;;
  stop) [[ $# -ge 2 ]] || usage; stop_component "$2" "${3:-TERM}" ;;
  start) [[ $# -eq 2 ]] || usage; start_one "$2" ;;
  restart) [[ $# -eq 2 ]] || usage; stop_component "$2" TERM; start_one "$2" ;;
  *) usage ;;
esac
