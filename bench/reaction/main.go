// Command reaction measures the scaler's reaction on the local control plane
// (hack/local-cluster.sh): demand posted to raysim → worker replicas patched,
// over many trials, and how a burst of 1,000 pending requests is answered.
//
//	RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir) go run ./bench/reaction -trials 30
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Result is what the benchmark measured.
type Result struct {
	Trials         int       `json:"trials"`
	ReactionMillis []float64 `json:"reactionMillis"`
	P50            float64   `json:"p50Millis"`
	P99            float64   `json:"p99Millis"`
	Max            float64   `json:"maxMillis"`
	BurstRequests  int       `json:"burstRequests"`
	BurstReplicas  []int32   `json:"burstReplicasSeen"`
	BurstMillis    float64   `json:"burstMillis"`
	PollMillis     float64   `json:"pollMillis"`
}

func main() {
	trials := flag.Int("trials", 30, "scale-up trials")
	out := flag.String("out", "", "write the result as JSON here")
	flag.Parse()
	if err := run(*trials, *out); err != nil {
		fmt.Fprintln(os.Stderr, "reaction:", err)
		os.Exit(1)
	}
}

const poll = 10 * time.Millisecond

func run(trials int, outFile string) error {
	root, _ := os.Getwd()
	up := exec.Command(filepath.Join(root, "hack", "local-cluster.sh"), "up")
	up.Stderr = os.Stderr
	envOut, err := up.Output()
	if err != nil {
		return fmt.Errorf("local-cluster up: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(string(envOut)), "\n")
	vars, err := exec.Command("bash", "-c", `source "$1" && echo "$KUBECONFIG $RAYSIM_URL"`, "_", lines[len(lines)-1]).Output()
	if err != nil {
		return err
	}
	f := strings.Fields(string(vars))
	kubeconfig, raysim := f[0], f[1]
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	ctrllog.SetLogger(logr.Discard())
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = rayv1.AddToScheme(scheme)
	k, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}
	kubectl := func(stdin string, args ...string) error {
		cmd := exec.Command("kubectl", append([]string{"--kubeconfig", kubeconfig}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	ctx := context.Background()
	res := Result{Trials: trials, PollMillis: float64(poll.Milliseconds())}

	ns := fmt.Sprintf("bench-reaction-%d", time.Now().Unix())
	if err := kubectl("", "create", "namespace", ns); err != nil {
		return err
	}
	defer func() { _ = kubectl("", "delete", "namespace", ns, "--wait=false") }()
	setup := `apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata: {name: two-cpu}
spec: {cpu: "2", memory: 4Gi}
---
apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata: {name: four-cpu}
spec: {cpu: "4", memory: 8Gi}
---
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: trials, annotations: {ray.io/compute-template: two-cpu}}
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: true
  autoscalerOptions: {idleTimeoutSeconds: 3600}
  headGroupSpec: {rayStartParams: {num-cpus: "0"}, template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 100, template: {}}
---
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: burst, annotations: {ray.io/compute-template: four-cpu}}
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: true
  autoscalerOptions: {idleTimeoutSeconds: 3600}
  headGroupSpec: {rayStartParams: {num-cpus: "0"}, template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 300, template: {}}
`
	if err := kubectl(setup, "apply", "-n", ns, "-f", "-"); err != nil {
		return err
	}
	replicas := func(name string) int32 {
		var rc rayv1.RayCluster
		if err := k.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &rc); err != nil || len(rc.Spec.WorkerGroupSpecs) == 0 || rc.Spec.WorkerGroupSpecs[0].Replicas == nil {
			return -1
		}
		return *rc.Spec.WorkerGroupSpecs[0].Replicas
	}
	// The scaler starts on a cluster once its head runs and Ray reports it.
	for _, name := range []string{"trials", "burst"} {
		if err := waitFor(90*time.Second, func() bool { return headNodes(raysim, ns, name) == 1 }); err != nil {
			return fmt.Errorf("head of %s: %w", name, err)
		}
	}
	time.Sleep(2 * time.Second)

	for i := 1; i <= trials; i++ {
		body := fmt.Sprintf(`{"name":"a%d","resources":{"CPU":2}}`, i)
		start := time.Now()
		if err := post(raysim+"/v1/clusters/"+ns+"/trials/actors", body); err != nil {
			return err
		}
		if err := waitFor(30*time.Second, func() bool { return replicas("trials") >= int32(i) }); err != nil {
			return fmt.Errorf("trial %d: %w", i, err)
		}
		res.ReactionMillis = append(res.ReactionMillis, float64(time.Since(start).Microseconds())/1000)
		time.Sleep(300 * time.Millisecond) // let the worker register before the next trial
	}
	sorted := slices.Clone(res.ReactionMillis)
	slices.Sort(sorted)
	res.P50, res.P99, res.Max = quantile(sorted, 0.50), quantile(sorted, 0.99), sorted[len(sorted)-1]

	res.BurstRequests = 1000
	start := time.Now()
	if err := post(raysim+"/v1/clusters/"+ns+"/burst/tasks", `{"resources":{"CPU":1},"count":1000,"durationSeconds":3600}`); err != nil {
		return err
	}
	last := int32(0)
	err = waitFor(30*time.Second, func() bool {
		if r := replicas("burst"); r != last && r > 0 {
			last = r
			res.BurstReplicas = append(res.BurstReplicas, r)
			if res.BurstMillis == 0 {
				res.BurstMillis = float64(time.Since(start).Microseconds()) / 1000
			}
		}
		return last >= 250
	})
	if err != nil {
		return fmt.Errorf("burst: replicas seen %v: %w", res.BurstReplicas, err)
	}

	fmt.Printf("scale-up reaction over %d trials (actor posted to raysim → replicas patched, polled every %s): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		trials, poll, res.P50, res.P99, res.Max)
	fmt.Printf("burst of %d × {CPU: 1} on 4-CPU workers (maxReplicas 300): replicas values seen %v, first patch after %.0f ms\n",
		res.BurstRequests, res.BurstReplicas, res.BurstMillis)
	if outFile != "" {
		data, _ := json.MarshalIndent(res, "", "  ")
		return os.WriteFile(outFile, data, 0o644)
	}
	return nil
}

func quantile(sorted []float64, q float64) float64 {
	idx := int(q*float64(len(sorted)-1) + 0.5)
	return sorted[idx]
}

func waitFor(timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return nil
		}
		time.Sleep(poll)
	}
	return fmt.Errorf("not within %s", timeout)
}

func post(url, body string) error {
	resp, err := http.Post(url, "application/json", bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("POST %s: %s", url, resp.Status)
	}
	return nil
}

func headNodes(raysim, ns, name string) int {
	resp, err := http.Get(raysim + "/v1/clusters/" + ns + "/" + name + "/state")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var st struct {
		NodeStates []struct {
			RayNodeTypeName string `json:"rayNodeTypeName"`
		} `json:"nodeStates"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	n := 0
	for _, s := range st.NodeStates {
		if s.RayNodeTypeName == "headgroup" {
			n++
		}
	}
	return n
}
