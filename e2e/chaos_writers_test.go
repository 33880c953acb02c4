package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// rayClusters is the RayCluster resource for the dynamic client.
var rayClusters = schema.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"}

// userEdit is one edit a user makes to the RayCluster while the scaler
// patches it: a patch writing value k, and the value it leaves in the
// object (as the watch prints it).
type userEdit struct {
	name  string
	typ   types.PatchType
	patch func(k int) string
	want  func(k int) string
}

var userEdits = []userEdit{
	{"annotation", types.MergePatchType, func(k int) string {
		return fmt.Sprintf(`{"metadata":{"annotations":{"chaos.raypilot.io/edit":"%d"}}}`, k)
	}, strconv.Itoa},
	{"label", types.MergePatchType, func(k int) string {
		return fmt.Sprintf(`{"metadata":{"labels":{"chaos.raypilot.io/edit":"%d"}}}`, k)
	}, strconv.Itoa},
	{"head rayStartParams", types.JSONPatchType, func(k int) string {
		return fmt.Sprintf(`[{"op":"add","path":"/spec/headGroupSpec/rayStartParams/chaos-edit","value":"%d"}]`, k)
	}, strconv.Itoa},
	// maxReplicas cycles 6, 7, 8: always above what the demand needs.
	{"maxReplicas", types.JSONPatchType, func(k int) string {
		return fmt.Sprintf(`[{"op":"replace","path":"/spec/workerGroupSpecs/0/maxReplicas","value":%d}]`, 6+k%3)
	}, func(k int) string { return strconv.Itoa(6 + k%3) }},
}

// userEditPeriod is the pace of the user's edits: ten a second, each one
// changing the resourceVersion the scaler's patch tests.
const userEditPeriod = 100 * time.Millisecond

// Scenario 4: a user edits the RayCluster (an annotation, a label, the head
// group's rayStartParams, the worker group's maxReplicas) back to back
// while the scaler scales it up to 4 workers and then down to 2. Nothing
// lost: every user edit is in the object afterwards and no version ever
// shows an older value after a newer one (no write from stale state); the
// replicas rise to exactly 4 and fall to exactly 2, never above or below
// (no double scale), with every patch seen on a watch.
func TestChaosConflictingWriters(t *testing.T) {
	chaos(t)
	for i := range iterations(t, 3) {
		t.Run(fmt.Sprint("iteration-", i), func(t *testing.T) {
			start := time.Now()
			conflictingWriters(t, chaosNamespace("writers", i))
			t.Logf("iteration took %s", time.Since(start).Round(100*time.Millisecond))
		})
	}
}

func conflictingWriters(t *testing.T, ns string) {
	namespace(t, ns)
	startSeedCluster(t, ns, "3")
	versions := watchLines(t, ns, "raycluster", "test-cluster", `{.metadata.resourceVersion};{.spec.workerGroupSpecs[0].replicas};`+
		`{.metadata.annotations.chaos\.raypilot\.io/edit};{.metadata.labels.chaos\.raypilot\.io/edit};`+
		`{.spec.headGroupSpec.rayStartParams.chaos-edit};{.spec.workerGroupSpecs[0].maxReplicas}`)

	watchedUpTo(t, versions, mustKubectl(t, "", "get", "raycluster", "test-cluster", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}"))
	edits := userEdits
	dyn, err := dynamic.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	last := make([]int, len(edits)) // the last value each edit wrote
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(userEditPeriod)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			e, k := n%len(edits), n/len(edits)+1
			ed := edits[e]
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := dyn.Resource(rayClusters).Namespace(ns).Patch(ctx, "test-cluster", ed.typ, []byte(ed.patch(k)), metav1.PatchOptions{})
			cancel()
			mu.Lock()
			if err != nil {
				failures = append(failures, fmt.Sprintf("%s=%d: %v", ed.name, k, err))
			} else {
				last[e] = k
			}
			mu.Unlock()
		}
	}()
	stopWriter := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopWriter()

	base := "/v1/clusters/" + ns + "/test-cluster"
	for a := range 4 {
		mustRaysim(t, "POST", base+"/actors", map[string]any{"name": fmt.Sprintf("a%d", a), "resources": map[string]float64{"CPU": 2}})
	}
	eventually(t, 60*time.Second, "4 workers for 4 actors", func() (bool, string) {
		ws := running(pods(t, ns, "test-cluster"), "worker")
		return len(ws) == 4 && replicas(workerGroup(t, ns)) == 4 && len(clusterState(t, ns, "test-cluster").PendingResourceRequests) == 0,
			fmt.Sprintf("%d workers, replicas %d", len(ws), replicas(workerGroup(t, ns)))
	})
	// The watch lags the API a little: the up phase ends at the first line
	// on the watch from this resourceVersion or a later one.
	upVersions := watchedUpTo(t, versions, mustKubectl(t, "", "get", "raycluster", "test-cluster", "-n", ns, "-o", "jsonpath={.metadata.resourceVersion}"))
	for a := range 2 {
		mustRaysim(t, "DELETE", fmt.Sprintf("%s/actors/a%d", base, a), nil)
	}
	eventually(t, 60*time.Second, "2 idle workers removed", func() (bool, string) {
		g := workerGroup(t, ns)
		return replicas(g) == 2 && len(workerNames(t, ns)) == 2 && len(g.ScaleStrategy.WorkersToDelete) == 0,
			fmt.Sprintf("replicas %d, workers %v, list %v", replicas(g), workerNames(t, ns), g.ScaleStrategy.WorkersToDelete)
	})
	stopWriter()

	mu.Lock()
	defer mu.Unlock()
	for _, f := range failures {
		t.Errorf("a user edit failed: %s", f)
	}
	// Every user edit is there: the object holds the last value of each.
	out := mustKubectl(t, "", "get", "raycluster", "test-cluster", "-n", ns, "-o", `jsonpath={.metadata.resourceVersion};{.spec.workerGroupSpecs[0].replicas};`+
		`{.metadata.annotations.chaos\.raypilot\.io/edit};{.metadata.labels.chaos\.raypilot\.io/edit};`+
		`{.spec.headGroupSpec.rayStartParams.chaos-edit};{.spec.workerGroupSpecs[0].maxReplicas}`)
	fields := strings.Split(out, ";")
	watchedUpTo(t, versions, fields[0])
	for e, ed := range edits {
		if last[e] == 0 {
			t.Fatalf("edit %s never ran", ed.name)
		}
		if got, want := fields[2+e], ed.want(last[e]); got != want {
			t.Errorf("user edit lost: %s = %q, want the last written %q", ed.name, got, want)
		}
	}
	if fields[1] != "2" {
		t.Errorf("replicas = %s, want 2", fields[1])
	}

	// Every version: user values never go back (a write from stale state
	// would bring an older value back), replicas go 0→…→4 then 4→…→2.
	vs := versions()
	prev := make([]int, len(edits))
	replicaChanges, peak := 0, 0
	lastReplicas := -1
	var path []string // replicas and the resourceVersion they appeared at
	for i, v := range vs {
		f := strings.Split(v, ";")
		if len(f) != 2+len(edits) {
			t.Fatalf("watch line %q", v)
		}
		for e := range edits[:3] { // the three edits whose value is k
			if f[2+e] == "" {
				continue
			}
			k, err := strconv.Atoi(f[2+e])
			if err != nil {
				t.Fatalf("watch line %q: %v", v, err)
			}
			if k < prev[e] {
				t.Errorf("%s went back from %d to %d at version %s: a lost user edit", edits[e].name, prev[e], k, f[0])
			}
			prev[e] = k
		}
		r, err := strconv.Atoi(f[1])
		if err != nil {
			t.Fatalf("watch line %q: %v", v, err)
		}
		if r != lastReplicas {
			if lastReplicas >= 0 {
				replicaChanges++
			}
			path = append(path, fmt.Sprintf("%d@%s", r, f[0]))
		}
		if i < upVersions && lastReplicas >= 0 && r < lastReplicas {
			t.Errorf("replicas fell %d→%d while the demand grew", lastReplicas, r)
		}
		if i >= upVersions && r > lastReplicas {
			t.Errorf("replicas rose %d→%d while the demand shrank", lastReplicas, r)
		}
		if i >= upVersions && r < 2 {
			t.Errorf("replicas %d below the 2 workers still needed: double scale-down", r)
		}
		peak = max(peak, r)
		lastReplicas = r
	}
	if peak != 4 {
		t.Errorf("replicas peaked at %d, want exactly 4", peak)
	}
	t.Logf("%d versions on the watch, %d replica changes by the scaler (%s), user edits: %v",
		len(vs), replicaChanges, strings.Join(path, " → "), last)
}

// watchedUpTo waits until the watch printed the version rv (lines start
// with "<resourceVersion>;") and returns the number of lines before it.
func watchedUpTo(t *testing.T, versions func() []string, rv string) int {
	t.Helper()
	at := -1
	eventually(t, 10*time.Second, "the watch caught up with resourceVersion "+rv, func() (bool, string) {
		for i, v := range versions() {
			if strings.HasPrefix(v, rv+";") {
				at = i
				return true, ""
			}
		}
		return false, fmt.Sprint(len(versions()), " lines")
	})
	return at
}
