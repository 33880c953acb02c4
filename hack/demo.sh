#!/usr/bin/env bash
# `make demo`: the seed walkthrough on the local control plane, narrated.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
ex=$root/examples

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. A Kubernetes control plane with the real KubeRay operator (nodes simulated by kwok)"
envfile=$("$here/local-cluster.sh" up | tail -n 1)
# shellcheck source=/dev/null
source "$envfile"
run kubectl get nodes

step "2. The compute template: 2 CPU / 4 GiB for every Ray pod that names it"
run kubectl apply -f "$ex/compute-template.yaml"
run kubectl get computetemplates

step "3. The ray-example ConfigMap with the code the jobs run"
run kubectl apply -f "$ex/ray-example-configmap.yaml"
run kubectl get configmaps ray-example

step "4. The compact RayCluster: $(grep -cv '^ *#' "$ex/raycluster.yaml") lines instead of the API server's ~75 of JSON"
sed '/^ *#/d' "$ex/raycluster.yaml"
run kubectl apply -f "$ex/raycluster.yaml"
echo
echo "What the API server stored, after raypilot's webhook expanded it (+ = added):"
kubectl get raycluster test-cluster -o go-template-file="$here/demo/summary.tmpl"

step "5. KubeRay creates the head pod (no autoscaler sidecar: the central scaler took over); no worker yet"
printf '$ kubectl wait --for=condition=Ready pod -l ray.io/cluster=test-cluster,ray.io/node-type=head\n'
for i in $(seq 1 120); do
  kubectl get pod -l ray.io/cluster=test-cluster,ray.io/node-type=head -o name 2>/dev/null | grep -q . && break
  sleep 0.5
done
kubectl wait --for=condition=Ready pod -l ray.io/cluster=test-cluster,ray.io/node-type=head --timeout=120s
run kubectl get pods
run kubectl get raycluster test-cluster

actors="$RAYSIM_URL/v1/clusters/default/test-cluster/actors"
curl -fsS -X DELETE "$actors/actor1" >/dev/null 2>&1 || true # a previous run's actor

step "6. Scale up: the create-actor job asks for a detached actor needing 1 CPU"
run kubectl apply -f "$ex/rayjob-create-actor.yaml"
echo "Ray cannot run here, so raysim (which plays Ray's GCS) receives what detached_actor.py asks Ray for:"
printf '$ curl -X POST %s -d %s\n' "$actors" "'{\"name\":\"actor1\",\"resources\":{\"CPU\":1}}'"
start=$(date +%s%N)
curl -fsS -X POST "$actors" -d '{"name":"actor1","resources":{"CPU":1}}'
for i in $(seq 1 100); do
  [[ $(kubectl get pods -l ray.io/cluster=test-cluster,ray.io/node-type=worker --field-selector=status.phase=Running --no-headers 2>/dev/null | wc -l) -ge 1 ]] && break
  sleep 0.1
done
ms=$((($(date +%s%N) - start) / 1000000))
printf 'A worker is Running %d.%03d s later (Ray'"'"'s own autoscaler loops every 5 s):\n' $((ms / 1000)) $((ms % 1000))
run kubectl get pods
run kubectl get events --field-selector reason=ScaledUp -o custom-columns=REASON:.reason,MESSAGE:.message

step "7. Scale down: the delete-actor job kills the actor; the idle worker goes after idleTimeoutSeconds (30 s)"
run kubectl apply -f "$ex/rayjob-delete-actor.yaml"
printf '$ curl -X DELETE %s/actor1\n' "$actors"
curl -fsS -X DELETE "$actors/actor1"
printf 'waiting for Ray to drain the idle worker and the scaler to remove it'
for i in $(seq 1 90); do
  [[ $(kubectl get pods -l ray.io/cluster=test-cluster,ray.io/node-type=worker --no-headers 2>/dev/null | wc -l) -eq 0 ]] && break
  printf '.'
  sleep 1
done
echo
run kubectl get pods
run kubectl get events --field-selector reason=ScaledDown -o custom-columns=REASON:.reason,MESSAGE:.message

step "Done. Poke the cluster yourself:"
echo "  source $envfile; kubectl get raycluster"
echo "  curl -X POST \$RAYSIM_URL/v1/clusters/default/test-cluster/tasks -d '{\"resources\":{\"CPU\":1},\"count\":6,\"durationSeconds\":60}'"
echo "Tear it down:"
echo "  make cluster-down"
