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

step "5. KubeRay creates the head pod; no worker yet (minReplicas 0)"
printf '$ kubectl wait --for=condition=Ready pod -l ray.io/cluster=test-cluster,ray.io/node-type=head\n'
for i in $(seq 1 120); do
  kubectl get pod -l ray.io/cluster=test-cluster,ray.io/node-type=head -o name 2>/dev/null | grep -q . && break
  sleep 0.5
done
kubectl wait --for=condition=Ready pod -l ray.io/cluster=test-cluster,ray.io/node-type=head --timeout=120s
run kubectl get pods
run kubectl get raycluster test-cluster

step "Done. Poke the cluster yourself:"
echo "  source $envfile; kubectl get raycluster"
echo "Tear it down:"
echo "  make cluster-down"
