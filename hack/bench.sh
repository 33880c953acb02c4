#!/usr/bin/env bash
# `make bench`: runs the benchmarks and writes BENCHMARKS.md with every figure
# next to its baseline from the same run. Each part can be run alone:
#   hack/bench.sh engine|jsontree|volumes|webhook|load|apicreate|scalercap|shards|reaction|report
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"
export PATH="$PATH:/usr/local/go/bin"
out=${BENCH_OUT:-$root/_output/bench}
mkdir -p "$out"
parts=("$@")
[[ ${#parts[@]} -eq 0 ]] && parts=(engine jsontree volumes webhook load apicreate scalercap shards reaction)

bin=$(hack/tools.sh bin-dir)
export RAYPILOT_TOOLS_BIN=$bin PATH="$bin:$PATH"

# load_at PART start|end records the machine's load average (1 min) around
# a part, so each section can state it next to its figures.
load_at() { echo "$2 $(cut -d' ' -f1 /proc/loadavg)" >>"$out/$1.load"; }
# load_of PART prints "L1 at the start, L2 at the end" from load_at's record.
load_of() {
  [[ -f $out/$1.load ]] || { echo "not recorded"; return; }
  awk '$1 == "start" { s = $2 } $1 == "end" { e = $2 } END { printf "%s at the start, %s at the end", s, e }' "$out/$1.load"
}

# scalercap_profile PROFILE PHASE: where the scaler's CPU went in a window,
# as shares of all its samples (cumulative: a call's share includes its
# callees), from `go tool pprof -top -cum`.
scalercap_profile() {
  [[ -f $1 ]] || return 0
  go tool pprof -top -cum -nodecount=400 "$1" 2>/dev/null | awk -v ph="$2" '
    function pick(what, label) { if (index($0, what) && !(label in seen)) { seen[label] = $5; order[++n] = label } }
    { pick("scaler.(*Reconciler).Reconcile", "round (Reconcile)")
      pick("gcs.(*Client).GetClusterResourceState", "GetClusterResourceState call")
      pick("gcs.(*Client).ReportAutoscalingState", "ReportAutoscalingState call")
      pick("transport.(*loopyWriter).run", "gRPC writer")
      pick("transport.(*http2Client).reader", "gRPC reader")
      pick("runtime.gcBgMarkWorker", "GC background")
      pick("runtime.gcAssistAlloc", "GC assists")
      pick("scaler.Decide", "decision (Decide)")
      pick("client.(*client).List", "cache List (pods)")
      pick("client.(*client).Get", "cache Get (RayCluster)")
      pick(").DeepCopyInto", "deep copies")
      pick("logr.Logger.WithValues", "per-round loggers") }
    END { line = "profile  " ph ":"; for (i = 1; i <= n; i++) line = line sprintf(" %s %s%s", order[i], seen[order[i]], i < n ? "," : ""); print line }'
}

# run_part PART runs one benchmark; a part that fails is recorded
# ($out/PART.failed) and the others still run, so BENCHMARKS.md says which
# failed instead of losing the whole run.
run_part() {
  local p=$1
  case $p in
    engine) go test -run '^$' -bench . -benchmem -benchtime 2s ./scaler/engine/ | tee "$out/engine.txt" ;;
    jsontree) go test -run '^$' -bench DecodeEncode -benchmem ./internal/jsontree/ | tee "$out/jsontree.txt" ;;
    volumes) go test -run '^$' -bench Volumes -benchmem ./defaults/ | tee "$out/volumes.txt" ;;
    webhook)
      go test -run '^$' -bench . -benchmem -benchtime 2s ./webhook/ | tee "$out/webhook.txt"
      cut -d' ' -f1 /proc/loadavg >"$out/webhook-load.txt"
      # The profile the webhook and load sections explain missed targets with.
      go test -run '^$' -bench 'Admission/^seed$/^mutate$' -benchtime 3s -cpuprofile "$out/webhook-cpu.out" -o "$out/webhook.test" ./webhook/ >/dev/null
      go tool pprof -top -cum "$out/webhook.test" "$out/webhook-cpu.out" >"$out/webhook-profile.txt" 2>/dev/null ;;
    load) cut -d' ' -f1 /proc/loadavg >"$out/load-load.txt"; go run ./bench/webhookload -duration "${LOAD_DURATION:-10s}" -out "$out/load.json" | tee "$out/load.txt" ;;
    # Kyverno is the peer of the kyverno mode; built on first use, cached.
    apicreate) cut -d' ' -f1 /proc/loadavg >"$out/apicreate-load.txt"; hack/tools.sh build kyverno && go run ./bench/apicreate -creates "${APICREATE_CREATES:-1000}" -out "$out/apicreate.json" | tee "$out/apicreate.txt" ;;
    scalercap)
      rm -f "$out"/scalercap*.txt
      for iv in 500ms 1s; do
        go run ./bench/scalercap -clusters "${SCALERCAP_CLUSTERS:-2000}" -window "${SCALERCAP_WINDOW:-60s}" -interval "$iv" \
          -pprof-dir "$out/scalercap-$iv" -out "$out/scalercap-$iv.json" | tee "$out/scalercap-$iv.txt"
        for ph in baseline full; do scalercap_profile "$out/scalercap-$iv/scaler-$ph.pprof" "$ph" | tee -a "$out/scalercap-$iv.txt"; done
      done ;;
    shards) go run ./bench/scalercap -replicas "${SHARDS_REPLICAS:-3}" -clusters "${SHARDS_CLUSTERS:-3000}" -interval "${SHARDS_INTERVAL:-500ms}" \
      -window "${SHARDS_WINDOW:-45s}" -pprof-dir "$out/shards-pprof" -out "$out/shards.json" | tee "$out/shards.txt"
      go tool pprof -top -nodecount 15 "$out/shards-pprof/scaler-shard-0.pprof" >"$out/shards-profile.txt" 2>/dev/null || true ;;
    reaction) go run ./bench/reaction -trials "${TRIALS:-30}" -out "$out/reaction.json" | tee "$out/reaction.txt" ;;
    report) ;; # only rewrite BENCHMARKS.md from earlier results
    *) echo "unknown part $p" >&2; exit 2 ;;
  esac
}

for p in "${parts[@]}"; do
  case $p in engine | jsontree | volumes | webhook | load | apicreate | scalercap | shards | reaction | report) ;;
    *) echo "unknown part $p" >&2; exit 2 ;;
  esac
  [[ $p == report ]] && continue
  rm -f "$out/$p.load" "$out/$p.failed"
  load_at "$p" start
  if ! run_part "$p"; then
    echo "bench: part $p failed" >&2
    date -u +%H:%M:%S >"$out/$p.failed"
  fi
  load_at "$p" end
done

# profile_shares: where a seed admission's CPU goes, from the profile the
# webhook part takes (cumulative shares of `go tool pprof -top -cum`).
profile_shares() {
  [[ -f $out/webhook-profile.txt ]] || { echo "no profile (run hack/bench.sh webhook)"; return; }
  awk 'function share(name) { return (name in cum) ? cum[name] : "0%" }
    NF >= 6 { cum[$6] = $5 }
    END {
      p = "github.com/raypilot/raypilot/"
      printf "CPU profile of seed/mutate (`go test -bench Admission/seed/mutate -cpuprofile`, cumulative shares of the samples): the expansion rules (`defaults.(*expander).root`) %s, the JSON patch (`jsontree.Patch`) %s, the copy of the input it diffs against (`jsontree.DeepCopy`) %s, decoding the review (`webhook.readReview`) %s, writing the answer (`webhook.appendAllowedReview` %s, `encoding/json` %s), garbage collection (`runtime.gcBgMarkWorker`) %s", share(p "defaults.(*expander).root"), share(p "internal/jsontree.Patch"), share(p "internal/jsontree.DeepCopy"), share(p "webhook.readReview"), share(p "webhook.appendAllowedReview"), share("encoding/json.(*Encoder).Encode"), share("runtime.gcBgMarkWorker")
    }' "$out/webhook-profile.txt"
}

# BENCHMARKS.md from whatever parts have results.
{
  echo "# Benchmarks"
  echo
  echo "Generated by \`make bench\` on $(date -u +%Y-%m-%d). Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3)."
  echo "Figures from one run; other work on the machine shows up in them, so compare each figure with its baseline from the same run."
  for f in "$out"/*.failed; do
    [[ -e $f ]] || continue
    echo
    echo "**Part \`$(basename "$f" .failed)\` failed in this run** (at $(cat "$f") UTC; \`hack/bench.sh $(basename "$f" .failed)\` runs it alone): its section below, if any, is from the output it wrote before failing."
  done
  if [[ -f $out/webhook.txt ]]; then
    echo
    echo "## Webhook admission, in process (\`go test -bench . ./webhook/\`)"
    echo
    echo "A full admission (AdmissionReview decoded, expanded, validated, patch built, response encoded) through the handler the server registers (\`webhook.NewHTTPHandler\`); baseline: the same review decoded by controller-runtime's \`admission.Webhook\` and an allowed response encoded, no expansion."
    echo
    echo "| case | ns/op | allocs/op | baseline ns/op | baseline allocs/op | ratio (time) |"
    echo "|---|---|---|---|---|---|"
    awk '/^BenchmarkAdmission/ {
      split($1, a, "/"); c = a[2]; kind = a[3]; sub(/-[0-9]+$/, "", kind)
      for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns = $i; if ($(i+1) == "allocs/op") al = $i }
      if (kind == "baseline") { bns[c] = ns; bal[c] = al } else { n[c] = ns; al2[c] = al; k[c] = kind; order[++m] = c }
    } END { for (j = 1; j <= m; j++) { c = order[j]; printf "| %s/%s | %s | %s | %s | %s | %.1f× |\n", c, k[c], n[c], al2[c], bns[c], bal[c], n[c] / bns[c] } }' "$out/webhook.txt"
    echo
    echo "\`seed-single/mutate\` is the single-call mode (\`--single-call\`): seed/mutate and the validating checks of its result in one call. Machine load average (1 min) at the end of the run: $(cat "$out/webhook-load.txt" 2>/dev/null || echo unknown)."
    echo
    verdict=$(awk '/^BenchmarkAdmission/ {
      split($1, a, "/"); c = a[2]; kind = a[3]; sub(/-[0-9]+$/, "", kind)
      for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") ns = $i
      if (kind == "baseline") b[c] = ns; else n[c] = ns
    } END {
      split("seed 2 large 8", t, " ")
      for (i = 1; i < 4; i += 2) { c = t[i]; lim = t[i+1]
        if (!(c in n) || !(c in b)) continue
        r = n[c] / b[c]
        printf "%s/mutate: %.1f× the baseline (target ≤ %d×): %s. ", c, r, lim, (r <= lim) ? "met" : sprintf("missed by %.1f×", r - lim)
        if (r > lim) missed = 1
      }
      if (missed) printf "MISSED"
    }' "$out/webhook.txt")
    printf '%s' "${verdict%MISSED}"
    if [[ $verdict == *MISSED ]]; then
      printf 'Why: %s. The baseline decodes the same compact review and answers without a patch; beyond that, an admission runs the rules, copies the input to diff against, and encodes the expanded parts (about four times the input for the seed) into the patch, and allocates for all of it, which garbage collection pays for.\n' "$(profile_shares)"
    else
      echo
    fi
  fi
  if [[ -f $out/volumes.txt ]]; then
    echo
    echo "## Expansion engine, adversarial compact volumes (\`go test -run '^\$' -bench Volumes -benchmem ./defaults/\`)"
    echo
    echo "The engine alone (\`defaults.Expand\`) on clusters built to be expensive through \`raypilot.io/volumes\` (mutate: patch built; validate: no output); baseline: the seed cluster in the same run. Target: every case, the 4,000-volume × 20-group cluster first, admitted or refused in ≤ 50 ms. Machine load average (1 min): $(load_of volumes)."
    echo
    echo '```'
    grep '^Benchmark' "$out/volumes.txt"
    echo '```'
    awk '/^BenchmarkVolumes\// { w = c = 0
        for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") w = $i / 1e6; if ($(i+1) == "cpu-ns/op") c = $i / 1e6 }
        if (w > worst) { worst = w; name = $1 } if (c > worstCPU) { worstCPU = c; nameCPU = $1 }
        if ($1 ~ /^BenchmarkVolumes\/4000x20-refused\/mutate/) { big = w; bigCPU = c } }
      END { if (name == "") exit
        sub(/-[0-9]+$/, "", name); sub(/-[0-9]+$/, "", nameCPU)
        printf "\nThe 4,000 × 20 cluster: %.1f ms (%.1f ms of CPU). The slowest case, %s: %.1f ms; the most CPU, %s: %.1f ms. Target ≤ 50 ms: %s.\n", big, bigCPU, name, worst, nameCPU, worstCPU,
          worst <= 50 ? "met" : (worstCPU <= 50 ? sprintf("missed by %.1f ms of wall time; every case is within it in CPU, so the rest is waiting for a core (see the load)", worst - 50) : sprintf("missed by %.1f ms", worst - 50)) }' "$out/volumes.txt"
  fi
  if [[ -f $out/load.txt ]]; then
    echo
    echo "## Webhook over TLS (\`go run ./bench/webhookload\`)"
    echo
    echo "Open-loop load at fixed rates against the real \`raypilot webhook\` process over HTTPS with keep-alive; baseline: an HTTPS server in the load generator that decodes the review and answers allowed. Targets: at 1000/s, p99 ≤ 5 ms and ≤ 2.5 × the baseline's p99 of the same run; at 2000/s, p99 ≤ 8 ms with 0 errors. Machine load average (1 min) at the start of the run: $(cat "$out/load-load.txt" 2>/dev/null || echo unknown)."
    echo
    echo '```'
    grep -E '^(target|webhook|baseline) ' "$out/load.txt" || true
    echo '```'
    verdict=$(awk '$1 == "webhook" { p99[$2] = $6; err[$2] = $4 } $1 == "baseline" { b[$2] = $6 }
      function v(ok, by) { return ok ? "met" : "missed by " by }
      END {
        if (1000 in p99) {
          r = p99[1000] / b[1000]
          printf "At 1000/s: webhook p99 %s ms (≤ 5 ms: %s), %.1f× the baseline p99 %s ms (≤ 2.5×: %s). ", p99[1000], v(p99[1000] <= 5, sprintf("%.1f ms", p99[1000] - 5)), r, b[1000], v(r <= 2.5, sprintf("%.1f×", r - 2.5))
          if (p99[1000] > 5 || r > 2.5) missed = 1
        }
        if (2000 in p99) {
          printf "At 2000/s: webhook p99 %s ms (≤ 8 ms: %s), %s errors (0: %s). ", p99[2000], v(p99[2000] <= 8, sprintf("%.1f ms", p99[2000] - 8)), err[2000], v(err[2000] == 0, err[2000] " errors")
          if (p99[2000] > 8 || err[2000] > 0) missed = 1
        }
        if (missed) printf "MISSED"
      }' "$out/load.txt")
    echo
    printf '%s' "${verdict%MISSED}"
    if [[ $verdict == *MISSED ]]; then
      printf 'Why: the webhook and the baseline serve the same reviews over the same TLS connections, so what the webhook adds is its CPU per admission; on 2 cores shared with the load generator and the baseline server (and anything else running: see the load average), a p99 is queueing behind that CPU and garbage collection. %s.\n' "$(profile_shares)"
    else
      echo
    fi
  fi
  if [[ -f $out/apicreate.txt ]]; then
    echo
    echo "## RayCluster create through the API server (\`go run ./bench/apicreate\`)"
    echo
    echo "Creates (then deletes) of the seed cluster (\`examples/raycluster.yaml\`, unique names) through a real kube-apiserver and etcd with the KubeRay and raypilot CRDs, closed loop at each concurrency, the client without client-side throttling; with raypilot's webhook configurations registered (the real \`raypilot webhook\` process over TLS, mutating and validating; mode \`webhook\`), with the single-call configuration (\`raypilot webhook --single-call\`, mutating configuration only; mode \`single\`), the same compact cluster with none (\`without\`), and, as the baseline of the target, the object the webhook stores, already expanded, with none (\`expanded\`). The modes alternate in rounds, their order reversed every other round, in the same run. Latencies in ms. Target: p99 of \`webhook\` (and of \`single\`) / \`expanded\` ≤ 1.05 at concurrency 10 and 50. Machine load average (1 min) at the start: $(cat "$out/apicreate-load.txt" 2>/dev/null || echo unknown)."
    echo
    echo '```'
    grep -E '^(apicreate:|mode |webhook |without |expanded |single |kyverno |cpu |ratio )' "$out/apicreate.txt" || true
    echo '```'
    awk '$1 == "cpu" && $3 ~ /^[0-9]+$/ { api[$2, $3] = $4; hook[$2, $3] = $6; tot[$2, $3] = $9; if (!($3 in seen)) { seen[$3] = 1; conc[++nc] = $3 } }
      /^ratio .*target missed/ { missed = 1 }
      END { if (!missed) exit
        printf "\nWhere the target is missed, the CPU per create (the `cpu` rows, from `/proc`) says why."
        for (i = 1; i <= nc; i++) { c = conc[i]
          printf " At concurrency %s, kube-apiserver spends %s ms per create for the expanded object sent with no webhook, %s ms with the two webhook calls and %s ms with one; the webhook processes %s and %s ms; all processes %s, %s and %s ms.", c, api["expanded", c], api["webhook", c], api["single", c], hook["webhook", c], hook["single", c], tot["expanded", c], tot["webhook", c], tot["single", c] }
        printf " The stored object is the same in the three modes; what `webhook` and `single` pay beyond `expanded` is the admission calls: the API server encodes the AdmissionReview (the compact object), sends it over TLS, waits for the answer, applies the JSON patch and decodes the result again, and with two calls sends the expanded object once more to the validating webhook. On 2 shared cores the creates queue behind that CPU, so the p99 ratio follows the CPU ratio and the load on the machine.\n" }' "$out/apicreate.txt"
  fi
  if [[ -f $out/apicreate.txt ]] && grep -q '^kyverno  concurrency' "$out/apicreate.txt"; then
    echo
    echo "### Kyverno as the peer (mode \`kyverno\`)"
    echo
    echo "Users who do not run raypilot write the same defaults as a Kyverno mutate policy: Kyverno v1.19.1's admission controller (\`hack/tools.sh build kyverno\`) runs as a separate process out of cluster (\`--serverIP\`, its own certificates and webhook configurations, admission reports off) with \`bench/apicreate/kyverno/policy.yaml\`, a ClusterPolicy doing raypilot's expansion of the seed; the run checks first that both store the same RayCluster (the \`kyverno stores the same\` line lists what is ignored). The \`kyverno\` lines above compare raypilot's webhook with Kyverno per concurrency: create p99 and the admission process's CPU per create (\`raypilot webhook\` vs \`kyverno\`, the \`cpu\` rows). Target: both ratios raypilot / Kyverno below 1."
    awk '$1 == "cpu" { api[$2 "/" $3] = $4; hook[$2 "/" $3] = $6; kyv[$2 "/" $3] = $7 }
      /^apicreate: machine load average/ { load0 = $7; load1 = $11 }
      $1 == "kyverno" && $2 == "concurrency" { n = $3; sub(/:$/, "", n); line[n] = $0; order[++m] = n }
      END {
        for (j = 1; j <= m; j++) {
          n = order[j]
          if (line[n] ~ /: met$/) { printf "\nAt concurrency %s: target met.\n", n; continue }
          why = sprintf("kube-apiserver spends %s ms per create with raypilot'"'"'s configurations and %s ms with Kyverno'"'"'s", api["webhook/" n], api["kyverno/" n])
          if (api["webhook/" n] + 0 > api["kyverno/" n] + 0)
            why = why ". raypilot registers a mutating and a validating webhook, so a create makes two admission calls (each an AdmissionReview encoded and sent over TLS), where Kyverno registers only a mutating webhook for a policy without validate rules (kyverno v1.19.1: pkg/controllers/webhook/controller.go); creates queue behind that CPU on the 2 shared cores, more so at high concurrency. Closing it: one admission call per create (the validation inside the mutating call, or a ValidatingAdmissionPolicy for the rules that need no lookup)"
          else
            why = why ", so CPU does not explain the gap: with few creates per cell the p99 is close to the maximum of one round, and the run shares 2 cores with other work"
          printf "\nAt concurrency %s: target missed (%s). Why, from the CPU accounting of the same run (`/proc` utime + stime per create): the admission process costs %s ms per create with raypilot'"'"'s webhook and %s ms with Kyverno; %s. Machine load average (1 min): %s at the start, %s at the end.\n", n, substr(line[n], index(line[n], "missed (") + 8, length(line[n]) - index(line[n], "missed (") - 8), hook["webhook/" n], kyv["kyverno/" n], why, load0, load1
        }
      }' "$out/apicreate.txt"
  fi
  for iv in 500ms 1s; do
    f=$out/scalercap-$iv.txt
    [[ -f $f ]] || continue
    echo
    echo "## Scaler capacity at \`--interval $iv\` (\`go run ./bench/scalercap -interval $iv\`)"
    echo
    echo "One \`raypilot scaler --interval $iv\` process (\`--active-interval\` half of it) managing 2,000 RayClusters (CPU from utime + stime and RSS from \`/proc/<pid>\` over a steady window), with 100 clusters as the baseline in the same run so the per-cluster cost shows; the chart's memory limit (512 MiB, Go soft limit 90%) passed as the chart passes it. API server: real etcd + kube-apiserver, no KubeRay operator (clusters and Running head pods created as KubeRay and the webhook would leave them). GCS: in-process fakes in the benchmark serving Ray's real gRPC \`AutoscalerStateService\` (the state version counting reads, as Ray's does), reached through \`--gcs-proxy-address\`. Gap: time between two GCS reads of one cluster. Reaction: pending demand posted to a random cluster's GCS at a random time → replicas patch seen on a watch. CPU per round: the window's CPU over its GCS reads; it depends less on the machine's load than the cores do. Targets at 2,000 clusters: CPU ≤ 1 core at 500 ms, ≤ 0.4 core at 1 s; RSS ≤ 250 MiB; reaction p99 ≤ interval + 200 ms; gap p99 ≤ 1.2 × interval. The \`profile\` lines are the CPU profile of each window (\`-pprof-dir\`; profiling itself costs about 1%)."
    echo
    echo '```'
    grep -E '^(scalercap:|phase |baseline |full |\(rss|split |percluster |target |profile )' "$f" || true
    echo '```'
    if grep -q '^target .*missed' "$f"; then
      echo
      echo "Where a target is missed, the \`profile\` lines say where the CPU went. A round is a GCS read (gRPC: the call, its writer and reader goroutines), a cache read of the cluster and its pods (no deep copies), the decision, and a report only when it changed. When the scaler gets less CPU than its rounds need (the load average: the 2 cores are shared with etcd, the API server, the benchmark and any other work), reads per cluster per second fall below 1/interval and the gaps and the reaction grow with the backlog, not with the per-round cost. The reaction includes the wait for the cluster's next read: uniform over the interval when rounds are on time, so a p99 within interval + 200 ms needs rounds on time. RSS follows the Go heap: the live heap (the cached RayClusters and pods, a gRPC connection per cluster) is collected at twice its size (GOGC 100) while the chart's soft limit (90% of 512 MiB) stays above that; a smaller container limit trades RSS for collector CPU (\`go run ./bench/scalercap -memory-limit BYTES\`)."
    fi
  done
  if [[ -f $out/shards.txt ]]; then
    echo
    echo "## Active-active scaler replicas (\`go run ./bench/scalercap -replicas 3\`)"
    echo
    echo "Three \`raypilot scaler --sharding\` processes share the RayClusters (3,000 by default, \`SHARDS_CLUSTERS\`; this run's count is on the first line; same API server, clusters and GCS fakes as the capacity section, \`--interval 500ms\`). Over a steady window: each replica's CPU and RSS against the mean of the three (the equal share), the clusters each manages, and the reaction (demand posted to a random cluster → replicas patch seen on a watch). Then one replica is killed with SIGKILL: the time until each of its clusters is read again by another (bound by its member Lease's 10 s duration). The kube-apiserver writes an audit log of RayCluster patches, whose user agent carries each replica's identity: no (cluster, second) may be patched by two replicas. The fakes have no worker nodes, so the drain count can only show that no drain was sent at all. Targets: each replica within 1.3 × the equal share, reaction p99 ≤ 700 ms, every cluster taken over within 15 s, no cluster patched by two replicas in one second, 0 drains of busy nodes."
    echo
    echo '```'
    grep -E '^(shards:|replica |[0-9]+ |shards |target )' "$out/shards.txt" || true
    echo '```'
    if grep -q '^target .*missed' "$out/shards.txt"; then
      echo
      echo "Where a target is missed: each replica still watches every RayCluster and Ray pod, so its RSS does not shrink with its share (the informer caches are the same size in every replica) and only the per-cluster work (GCS connections, rounds) divides; the reaction at \`--interval 500ms\` is the wait for the cluster's next read plus read → patch, and 3,000 clusters at two rounds per second need about 1.5 cores for the three replicas together at the capacity section's 0.4–0.5 ms of CPU per round, more than the 2 shared cores leave them next to etcd, the API server and the benchmark (see the load average): rounds run late (the wait p99 grows past the interval)."
      if [[ -s $out/shards-profile.txt ]]; then
        echo
        echo "CPU profile of replica 0 over the window (\`go tool pprof -top\`, the 15 heaviest functions):"
        echo
        echo '```'
        # The standard library's internal/ packages marked as such (std:).
        grep -vE '^(File|Build ID):' "$out/shards-profile.txt" | sed -E 's#( )(internal/)#\1std:\2#'
        echo '```'
      fi
    fi
  fi
  if [[ -f $out/engine.txt ]]; then
    echo
    echo "## Scaler engine (\`go test -run '^\$' -bench . -benchmem ./scaler/engine/\`)"
    echo
    echo "Decision time of the pure engine (\`scaler/engine\`), \`cpu-ns/op\` the process CPU per decision where reported (garbage collection included). Machine load average (1 min): $(load_of engine)."
    echo
    echo "One round's usual inputs: 10,000 pending requests (\`Pending10k\`), 1,000 idle workers to scan (\`IdleScan1000\`), 100 placement groups (\`PlacementGroups100\`), and the common round of a small cluster (\`SmallCluster\`: three workers, one pending shape). Target: ≤ 20 ms for the largest case."
    echo
    echo '```'
    grep -E '^Benchmark(DecidePending10k|DecideIdleScan1000|DecidePlacementGroups100|DecideSmallCluster)' "$out/engine.txt"
    echo '```'
    awk '/^Benchmark(DecidePending10k|DecideIdleScan1000|DecidePlacementGroups100)-/ { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op" && $i / 1e6 > worst) { worst = $i / 1e6; name = $1 } }
      END { if (name == "") exit
        sub(/-[0-9]+$/, "", name)
        printf "\nSlowest case, %s: %.2f ms. Target ≤ 20 ms: %s.\n", name, worst, worst <= 20 ? "met" : sprintf("missed by %.2f ms", worst - 20) }' "$out/engine.txt"
    echo
    echo "Demand beyond one round: 10,000 running workers (20 groups, half busy) with 20,000 distinct pending request shapes of one request each (\`DistinctShapes10k\`), which any Ray user can queue and Ray's scheduler needs about nodes² × shapes for; baseline in the same run: the same workers with the same 20,000 requests as one shape (\`OneShape10k\`). \`DistinctNodes10k\` gives every worker a different amount of free memory, so that no two nodes share a trial (the round's budget alone bounds it); \`DistinctShapes1k\` is 1,000 workers × 1,000 shapes. \`shapes-decided\` is how many of the shapes the round decided on (the prefix in Ray's order; \`Plan.Truncated\`, Event \`DemandTruncated\`), the rest waiting for later rounds. What keeps it bounded: identical shapes are one run, nodes in the same state share one trial, the best node comes from a heap and each placement re-tries only the trials it invalidated, and the packing steps of a round are counted against \`roundBudget\` (\`scaler/engine/budget.go\`). Target: ≤ 200 ms per decision for \`DistinctShapes10k\`; on a loaded machine the wall time grows with the load, the CPU time does not, so both are compared."
    echo
    echo '```'
    grep -E '^Benchmark(DecideDistinctShapes10k|DecideOneShape10k|DecideDistinctNodes10k|DecideDistinctShapes1k)' "$out/engine.txt"
    echo '```'
    awk '/^BenchmarkDecideDistinctShapes10k-/ { for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") w = $i / 1e6; if ($(i+1) == "cpu-ns/op") c = $i / 1e6 } }
      /^BenchmarkDecideOneShape10k-/ { for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") base = $i / 1e6 }
      END { if (w == "") exit
        printf "\nDistinctShapes10k: %.0f ms per decision (%.0f ms of CPU), %.1f× the one-shape baseline (%.0f ms). Target ≤ 200 ms: %s.\n", w, c, w / base, base, w <= 200 ? "met" : (c <= 200 ? sprintf("missed by %.0f ms of wall time; the CPU per decision (%.0f ms) is within it, so the rest is waiting for a core", w - 200, c) : sprintf("missed by %.0f ms", w - 200)) }' "$out/engine.txt"
  fi
  if [[ -f $out/jsontree.txt ]]; then
    echo
    echo "## JSON trees: internal/jsontree against encoding/json (\`go test -run '^\$' -bench DecodeEncode -benchmem ./internal/jsontree/\`)"
    echo
    echo "One decode into a generic tree and encode back, with \`internal/jsontree\` (the engine's decoder and encoder) and, as the baseline in the same run, with \`encoding/json\` as the engine would have to use it (\`UseNumber\` into \`any\`, encoded without HTML escaping; both give the same bytes, checked before timing). Documents: the seed RayCluster of the golden corpus as the mutating webhook receives it (compact) and as the validating webhook receives it (expanded), and a large cluster (20 worker groups, 10 compact volumes) both ways. Target: jsontree faster than encoding/json on every document. Machine load average (1 min): $(load_of jsontree)."
    echo
    echo "| document | jsontree ns/op | cpu-ns/op | allocs/op | encoding/json ns/op | cpu-ns/op | allocs/op | time ratio |"
    echo "|---|---|---|---|---|---|---|---|"
    awk '/^BenchmarkDecodeEncode\// {
      split($1, a, "/"); d = a[2]; impl = a[3]; sub(/-[0-9]+$/, "", impl)
      for (i = 2; i <= NF; i++) { if ($(i+1) == "ns/op") ns = $i; if ($(i+1) == "cpu-ns/op") cpu = $i; if ($(i+1) == "allocs/op") al = $i }
      if (!(d in seen)) { seen[d] = 1; order[++m] = d }
      N[d, impl] = ns; C[d, impl] = cpu; A[d, impl] = al
    } END {
      slower = 0
      for (j = 1; j <= m; j++) { d = order[j]
        printf "| %s | %s | %s | %s | %s | %s | %s | %.2f |\n", d, N[d, "jsontree"], C[d, "jsontree"], A[d, "jsontree"], N[d, "encoding-json"], C[d, "encoding-json"], A[d, "encoding-json"], N[d, "jsontree"] / N[d, "encoding-json"]
        if (N[d, "jsontree"] + 0 >= N[d, "encoding-json"] + 0) slower++ }
      printf "\nTarget (jsontree faster on every document): %s.\n", slower == 0 ? "met" : sprintf("missed on %d of %d documents", slower, m) }' "$out/jsontree.txt"
  fi
  if [[ -f $out/reaction.txt ]]; then
    echo
    echo "## Reaction on the local control plane (\`go run ./bench/reaction\`)"
    echo
    echo "Demand posted to raysim → worker replicas patched, through the real API server, KubeRay operator and raypilot scaler (interval 1 s). Reference: Ray's autoscaler loops every 5 s and launches about 10 workers per loop. Target: p99 ≤ 1.5 s. Machine load average (1 min): $(load_of reaction)."
    echo
    echo '```'
    grep -v '^local-cluster' "$out/reaction.txt"
    echo '```'
    sed -n 's/.*p99 \([0-9.]*\) ms.*/\1/p' "$out/reaction.txt" | head -1 | awk '{ printf "\nReaction p99 %s ms. Target ≤ 1500 ms: %s.\n", $1, $1 <= 1500 ? "met" : sprintf("missed by %.0f ms", $1 - 1500) }'
  fi
} >BENCHMARKS.md
echo "wrote BENCHMARKS.md"
