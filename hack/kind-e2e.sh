#!/usr/bin/env bash
# End to end on a real cluster with real Ray, for machines WITH a Docker
# engine (this project's CI machines have none; there the script refuses):
#
#   1. a kind cluster (1 control plane + 2 workers, so anti-affinity spreads);
#   2. cert-manager from its release manifest;
#   3. the KubeRay operator from its Helm chart;
#   4. raypilot's image built locally (make image-docker) and loaded with `kind load`;
#   5. raypilot's chart with certManager.enabled=true, installed with --wait;
#   6. the seed walkthrough (examples/*.yaml) with real Ray pods: the compact
#      RayCluster is expanded, the create-actor RayJob makes the central
#      scaler add a worker, the delete-actor RayJob lets it go after the 30 s
#      idle timeout.
#
# Needs: docker, and (found on PATH, else built) kind, kubectl, helm. Docker
# should have about 6 CPUs and 10 GiB: the seed's compute template gives
# every Ray pod 2 CPUs / 4 GiB.
#
# Environment:
#   KUBERAY_CHART        chart reference for the KubeRay operator (default
#                        kuberay/kuberay-operator: add KubeRay's chart
#                        repository as "kuberay" first, as KubeRay's install
#                        guide says; or give a path to helm-chart/kuberay-operator
#                        of a KubeRay checkout)
#   KUBERAY_VERSION      chart version (default from hack/tools/versions.env)
#   CERT_MANAGER_VERSION cert-manager release (default v1.21.2)
#   CERT_MANAGER_MANIFEST URL or file of cert-manager's release manifest
#   KIND_CLUSTER         cluster name (default raypilot-e2e)
#   KEEP_CLUSTER=1       leave the cluster running at the end
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ex=$root/examples

if ! docker info >/dev/null 2>&1; then
  cat >&2 <<'EOF'
hack/kind-e2e.sh: no Docker engine (`docker info` failed), so no kind cluster
can run here. This end-to-end test needs a machine with Docker; this
project's CI machines have none. Without Docker, `make demo` and `make test`
run the same walkthrough on a local control plane (real API server and
KubeRay operator, nodes and Ray simulated).
EOF
  exit 1
fi

# shellcheck source=tools/versions.env
source "$here/tools/versions.env"
KIND_CLUSTER=${KIND_CLUSTER:-raypilot-e2e}
KIND_VERSION=${KIND_VERSION:-v0.33.0}
CERT_MANAGER_VERSION=${CERT_MANAGER_VERSION:-v1.21.2}
CERT_MANAGER_MANIFEST=${CERT_MANAGER_MANIFEST:-https://github.com/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml}
KUBERAY_CHART=${KUBERAY_CHART:-kuberay/kuberay-operator}
KUBERAY_CHART_VERSION=${KUBERAY_CHART_VERSION:-${KUBERAY_VERSION#v}}
NS=raypilot-system
TAG=kind-e2e
IMAGE=raypilot/raypilot:$TAG

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
die() { echo "hack/kind-e2e.sh: $*" >&2; exit 1; }

# Tools: PATH first, else the pinned builds (kubectl, helm) and kind from
# the Go module proxy.
if ! command -v kubectl >/dev/null || ! command -v helm >/dev/null; then
  PATH="$("$here/tools.sh" bin-dir kubectl helm):$PATH"
fi
if command -v kind >/dev/null; then
  kind() { command kind "$@"; }
else
  kind() { go run "sigs.k8s.io/kind@$KIND_VERSION" "$@"; }
fi
if [[ $KUBERAY_CHART != /* && $KUBERAY_CHART != ./* ]] && ! helm show chart "$KUBERAY_CHART" --version "$KUBERAY_CHART_VERSION" >/dev/null 2>&1; then
  die "cannot find the KubeRay chart $KUBERAY_CHART $KUBERAY_CHART_VERSION: add KubeRay's chart repository as \"kuberay\" (helm repo add kuberay <URL from KubeRay's install guide>) or set KUBERAY_CHART to a chart folder"
fi

cleanup() {
  if [[ ${KEEP_CLUSTER:-} == 1 ]]; then
    echo "cluster $KIND_CLUSTER kept (KEEP_CLUSTER=1); delete it with: kind delete cluster --name $KIND_CLUSTER"
  else
    kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# wait_for DESCRIPTION SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
  local what=$1 secs=$2; shift 2
  printf 'waiting for %s' "$what"
  for _ in $(seq 1 "$secs"); do
    if "$@" >/dev/null 2>&1; then echo " ok"; return 0; fi
    printf '.'; sleep 1
  done
  echo
  die "timed out after ${secs}s waiting for $what"
}
workers() { kubectl get pods -l ray.io/cluster=test-cluster,ray.io/node-type=worker --no-headers 2>/dev/null | wc -l; }

step "1. kind cluster $KIND_CLUSTER"
kind delete cluster --name "$KIND_CLUSTER" >/dev/null 2>&1 || true
kind create cluster --name "$KIND_CLUSTER" --wait 120s --config - <<'EOF'
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
- role: worker
EOF
run kubectl get nodes

step "2. cert-manager $CERT_MANAGER_VERSION"
run kubectl apply -f "$CERT_MANAGER_MANIFEST"
run kubectl -n cert-manager wait --for=condition=Available deployment --all --timeout=300s

step "3. KubeRay operator $KUBERAY_CHART_VERSION"
version_flag=()
[[ -d $KUBERAY_CHART ]] || version_flag=(--version "$KUBERAY_CHART_VERSION")
run helm install kuberay-operator "$KUBERAY_CHART" "${version_flag[@]}" --namespace kuberay-system --create-namespace --wait --timeout 5m

step "4. raypilot image $IMAGE, loaded into the kind nodes"
run make -C "$root" image-docker IMAGE="${IMAGE%:*}" IMAGE_TAG="$TAG"
run kind load docker-image "$IMAGE" --name "$KIND_CLUSTER"

step "5. raypilot chart, certManager.enabled=true"
run helm install raypilot "$root/charts/raypilot" --namespace "$NS" --create-namespace \
  --set certManager.enabled=true --set image.tag="$TAG" --set image.pullPolicy=Never --wait --timeout 5m
run kubectl -n "$NS" get pods -o wide
# cainjector fills the caBundle asynchronously (cert-manager #2908): wait until
# the API server can call the webhook before using it.
wait_for "the webhook to answer through the API server" 120 \
  kubectl apply --dry-run=server -f "$ex/compute-template.yaml" -f "$ex/raycluster.yaml"

step "6. The seed walkthrough with real Ray"
run kubectl apply -f "$ex/compute-template.yaml"
run kubectl apply -f "$ex/ray-example-configmap.yaml"
run kubectl apply -f "$ex/raycluster.yaml"
echo "stored (expanded by the webhook, handed to the central scaler):"
kubectl get raycluster test-cluster -o jsonpath='{.metadata.annotations.raypilot\.io/autoscaling}{" enableInTreeAutoscaling="}{.spec.enableInTreeAutoscaling}{" head image="}{.spec.headGroupSpec.template.spec.containers[0].image}{"\n"}'
[[ $(kubectl get raycluster test-cluster -o jsonpath='{.spec.headGroupSpec.template.spec.containers[0].resources.requests.cpu}') == 2 ]] \
  || die "the RayCluster was not expanded from the compute template"
wait_for "the head pod" 120 kubectl get pod -l ray.io/cluster=test-cluster,ray.io/node-type=head -o name
run kubectl wait --for=condition=Ready pod -l ray.io/cluster=test-cluster,ray.io/node-type=head --timeout=600s
[[ $(workers) -eq 0 ]] || die "a worker exists before any demand"

run kubectl apply -f "$ex/rayjob-create-actor.yaml"
wait_for "the scaler to add a worker for the actor" 300 \
  bash -c '[[ $(kubectl get pods -l ray.io/cluster=test-cluster,ray.io/node-type=worker --field-selector=status.phase=Running --no-headers | wc -l) -ge 1 ]]'
wait_for "the create-actor job to succeed" 600 \
  bash -c '[[ $(kubectl get rayjob create-actor -o jsonpath={.status.jobStatus}) == SUCCEEDED ]]'
run kubectl get events --field-selector reason=ScaledUp

run kubectl apply -f "$ex/rayjob-delete-actor.yaml"
wait_for "the delete-actor job to succeed" 600 \
  bash -c '[[ $(kubectl get rayjob delete-actor -o jsonpath={.status.jobStatus}) == SUCCEEDED ]]'
wait_for "the idle worker to be removed (idleTimeoutSeconds 30)" 300 bash -c '[[ $(kubectl get pods -l ray.io/cluster=test-cluster,ray.io/node-type=worker --no-headers 2>/dev/null | wc -l) -eq 0 ]]'
run kubectl get events --field-selector reason=ScaledDown

step "7. helm uninstall keeps the CRDs and the RayCluster"
run helm uninstall raypilot --namespace "$NS" --wait
run kubectl get crd computetemplates.raypilot.io
run kubectl get raycluster test-cluster
echo "kind e2e passed"
