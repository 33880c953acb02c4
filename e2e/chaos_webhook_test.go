package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"
)

// Rate and (least) length of the stream of creates in scenario 5.
const (
	createPeriod = 50 * time.Millisecond // 20 creates a second
	streamLength = 20 * time.Second
)

// webhookFailurePolicies reads the failurePolicy of each raypilot webhook
// from the configurations the chart installed on the control plane.
func webhookFailurePolicies(t *testing.T) map[string]admissionv1.FailurePolicyType {
	t.Helper()
	out := map[string]admissionv1.FailurePolicyType{}
	for _, kind := range []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"} {
		stdout, stderr, err := kubectl(t, "", "get", kind, "raypilot", "-o", "json")
		if err != nil {
			t.Fatalf("kubectl get %s raypilot: %v: %s", kind, err, stderr)
		}
		var cfg struct {
			Webhooks []struct {
				Name          string                         `json:"name"`
				FailurePolicy *admissionv1.FailurePolicyType `json:"failurePolicy"`
			} `json:"webhooks"`
		}
		if err := json.Unmarshal([]byte(stdout), &cfg); err != nil {
			t.Fatalf("%s raypilot: %v", kind, err)
		}
		for _, w := range cfg.Webhooks {
			p := admissionv1.Fail // the API's default
			if w.FailurePolicy != nil {
				p = *w.FailurePolicy
			}
			out[w.Name] = p
		}
	}
	if len(out) == 0 {
		t.Fatal("the raypilot webhook configurations name no webhook")
	}
	return out
}

// Scenario 5: the webhook process is stopped (SIGTERM) and started again
// at a random moment of a stream of RayCluster creates (20 a second for
// 20 s). Nothing lost beyond what the failure policy documents: with
// failurePolicy Fail (the chart's default), every create either
// succeeds and is stored expanded, or fails with the API server's "failed
// calling webhook" error and stores nothing; none is stored unexpanded.
// (With Ignore, creates would not fail and the ones admitted while the
// webhook was away would be stored unexpanded: counted and reported.)
func TestChaosWebhookRestartDuringCreates(t *testing.T) {
	chaos(t)
	keepRunning(t, "raypilot-webhook")
	policies := webhookFailurePolicies(t)
	t.Logf("failure policies: %v", policies)
	for i := range iterations(t, 3) {
		t.Run(fmt.Sprint("iteration-", i), func(t *testing.T) {
			start := time.Now()
			webhookRestartDuringCreates(t, chaosNamespace("webhook", i), policies)
			t.Logf("iteration took %s", time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// streamCluster is a compact RayCluster the webhook expands: suspended,
// so the KubeRay operator creates no pods for the hundreds of them.
func streamCluster(name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "ray.io/v1", "kind": "RayCluster",
		"metadata": map[string]any{"name": name, "annotations": map[string]any{"ray.io/compute-template": "default-template"}},
		"spec": map[string]any{
			"rayVersion": "2.9.0", "suspend": true,
			"headGroupSpec":    map[string]any{"rayStartParams": map[string]any{}, "template": map[string]any{}},
			"workerGroupSpecs": []any{map[string]any{"groupName": "wg", "minReplicas": int64(0), "maxReplicas": int64(2), "template": map[string]any{}}},
		},
	}}
}

type createResult struct {
	name   string
	issued time.Time
	err    error
}

func webhookRestartDuringCreates(t *testing.T, ns string, policies map[string]admissionv1.FailurePolicyType) {
	namespace(t, ns)
	dyn, err := dynamic.NewForConfig(restConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	client := dyn.Resource(rayClusters).Namespace(ns)
	// The webhook's template cache has the new namespace's template once a
	// dry-run create is expanded.
	eventually(t, 30*time.Second, "the webhook expands in the new namespace", func() (bool, string) {
		_, err := client.Create(context.Background(), streamCluster("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil, fmt.Sprint(err)
	})

	// A random moment of the stream's first half, so that the stream goes
	// on for a while after the webhook is back.
	restartAt := time.Duration(rand.Int64N(int64(streamLength/2-2*time.Second))) + 2*time.Second
	t.Logf("stopping the webhook %s into the stream", restartAt.Round(time.Millisecond))
	var (
		mu      sync.Mutex
		results []createResult
		wg      sync.WaitGroup
	)
	// The restart runs beside the stream; it calls no t method.
	var restartErr error
	var restartTook time.Duration
	var restartEnded time.Time
	restartDone := make(chan struct{})
	go func() {
		defer close(restartDone)
		time.Sleep(restartAt)
		began := time.Now()
		restartErr = runLocalCluster("restart", "raypilot-webhook")
		restartEnded = time.Now()
		restartTook = restartEnded.Sub(began)
	}()
	tick := time.NewTicker(createPeriod)
	defer tick.Stop()
	// The stream lasts streamLength, and at least 3 s past the restart
	// however long the restart takes, to show the service resumed.
	streaming := func(streamStart time.Time) bool {
		if time.Since(streamStart) < streamLength {
			return true
		}
		select {
		case <-restartDone:
			return time.Since(restartEnded) < 3*time.Second
		default:
			return true
		}
	}
	for n, streamStart := 0, time.Now(); streaming(streamStart); n++ {
		<-tick.C
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			issued := time.Now()
			_, err := client.Create(ctx, streamCluster(name), metav1.CreateOptions{})
			mu.Lock()
			results = append(results, createResult{name, issued, err})
			mu.Unlock()
		}(fmt.Sprintf("s-%03d", n))
	}
	wg.Wait()
	<-restartDone
	if restartErr != nil {
		t.Fatalf("restarting the webhook: %v", restartErr)
	}

	failOpen := policies["expand.raypilot.io"] == admissionv1.Ignore
	succeeded := map[string]bool{}
	var failed []string
	afterRestart := 0
	for _, r := range results {
		if r.issued.After(restartEnded) {
			// The webhook answers its readiness probe again: service resumed.
			afterRestart++
			if r.err != nil {
				t.Errorf("create %s, issued after the webhook was back, failed: %v", r.name, r.err)
			}
		}
		if r.err == nil {
			succeeded[r.name] = true
			continue
		}
		failed = append(failed, r.name)
		// The documented answer of a webhook with failurePolicy Fail that
		// cannot be called: the API server refuses the create.
		if failOpen || !apierrors.IsInternalError(r.err) || !strings.Contains(r.err.Error(), "failed calling webhook") {
			t.Errorf("create %s failed otherwise than the failure policy documents: %v", r.name, r.err)
		}
	}
	stored, err := client.List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	unexpanded := 0
	var storedNames []string
	for _, item := range stored.Items {
		storedNames = append(storedNames, item.GetName())
		var rc rayv1.RayCluster
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(item.Object, &rc); err != nil {
			t.Fatal(err)
		}
		if p := expansionProblem(rc, "default-template", "2"); p != "" {
			unexpanded++
			if !failOpen {
				t.Errorf("stored unexpanded despite failurePolicy Fail: %s: %s", rc.Name, p)
			}
		}
		if !succeeded[item.GetName()] {
			t.Errorf("%s is stored though its create failed", item.GetName())
		}
	}
	for name := range succeeded {
		if !slices.Contains(storedNames, name) {
			t.Errorf("%s was created but is not stored", name)
		}
	}
	if afterRestart < 3*int(time.Second/createPeriod)/2 {
		t.Errorf("only %d creates after the webhook was back: the stream does not show the service resumed", afterRestart)
	}
	slices.Sort(failed)
	t.Logf("%d creates: %d succeeded (all stored, %d unexpanded), %d failed (%s); webhook restart took %s; %d creates after it, all admitted",
		len(results), len(succeeded), unexpanded, len(failed), strings.Join(failed, " "), restartTook.Round(10*time.Millisecond), afterRestart)
	if len(failed) > 0 {
		t.Logf("first failure: %v", results[slices.IndexFunc(results, func(r createResult) bool { return r.err != nil })].err)
	}
}
