package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/manifest"
)

// Client-side rate limits of the benchmark's own client, high enough that
// it never waits.
const (
	clientQPS   = 10000
	clientBurst = 20000
)

// expandedSeed is examples/raycluster.yaml as the webhook stores it under a
// policy with autoscaling mode central: annotated
// raypilot.io/autoscaling: central, enableInTreeAutoscaling false, the
// compute template expanded into full pod templates.
func expandedSeed(root string) (*rayv1.RayCluster, error) {
	var docs []manifest.Document
	for _, f := range []string{"compute-template.yaml", "raycluster.yaml"} {
		fh, err := os.Open(filepath.Join(root, "examples", f))
		if err != nil {
			return nil, err
		}
		d, err := manifest.Read(fh, f)
		fh.Close()
		if err != nil {
			return nil, err
		}
		docs = append(docs, d...)
	}
	policy, err := defaults.ParsePolicy([]byte("defaults:\n  autoscaling: {mode: central}\n"))
	if err != nil {
		return nil, err
	}
	out, err := manifest.Expand(docs, policy, "default")
	if err != nil {
		return nil, err
	}
	if len(out.Errors) > 0 {
		return nil, fmt.Errorf("expand the seed: %v", out.Errors)
	}
	for _, d := range out.Documents {
		if d.Kind != "RayCluster" {
			continue
		}
		rc := &rayv1.RayCluster{}
		if err := json.Unmarshal(d.JSON, rc); err != nil {
			return nil, err
		}
		if rc.Annotations[defaults.AnnotationAutoscaling] != defaults.AutoscalingCentral || rc.Spec.EnableInTreeAutoscaling == nil || *rc.Spec.EnableInTreeAutoscaling {
			return nil, fmt.Errorf("the expanded seed is not handed to the central scaler")
		}
		return rc, nil
	}
	return nil, fmt.Errorf("no RayCluster in examples/raycluster.yaml")
}

func newClient(cp *testcp.ControlPlane) (client.WithWatch, error) {
	cfg := rest.CopyConfig(cp.Config)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := rayv1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	return client.NewWithWatch(cfg, client.Options{Scheme: scheme})
}

// benchCluster is one RayCluster the benchmark created, with its fake GCS.
type benchCluster struct {
	namespace, name string
	gcs             *fakeCluster
	// busy: a reaction sample is running on it (or it is being reset).
	busy atomic.Bool
}

// createClusters creates clusters [from, to): the RayCluster, its head pod
// (labels as KubeRay sets them) with status Running and a pod IP, and the
// cluster's fake GCS.
func createClusters(ctx context.Context, cl client.Client, g *fakeGCS, seed *rayv1.RayCluster, namespaces, from, to int) ([]*benchCluster, error) {
	out := make([]*benchCluster, to-from)
	var firstErr error
	var mu sync.Mutex
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				bc, err := createCluster(ctx, cl, g, seed, namespaceName(i%namespaces), i)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				out[i-from] = bc
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return out, firstErr
}

func namespaceName(i int) string { return fmt.Sprintf("scalercap-%02d", i) }

func createCluster(ctx context.Context, cl client.Client, g *fakeGCS, seed *rayv1.RayCluster, ns string, i int) (*benchCluster, error) {
	rc := seed.DeepCopy()
	rc.Name, rc.Namespace = fmt.Sprintf("rc-%04d", i), ns
	if err := cl.Create(ctx, rc); err != nil {
		return nil, fmt.Errorf("create RayCluster %s/%s: %w", ns, rc.Name, err)
	}
	ip := fmt.Sprintf("10.%d.%d.%d", 1+i/62500, i/250%250, 1+i%250)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name: rc.Name + "-head-bench", Namespace: ns,
			Labels: map[string]string{
				"ray.io/cluster":               rc.Name,
				"ray.io/is-ray-node":           "yes",
				"ray.io/node-type":             "head",
				"ray.io/group":                 "headgroup",
				"ray.io/identifier":            rc.Name + "-head",
				"app.kubernetes.io/name":       "kuberay",
				"app.kubernetes.io/created-by": "kuberay-operator",
			},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "ray.io/v1", Kind: "RayCluster", Name: rc.Name, UID: rc.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true),
			}},
		},
		Spec: *rc.Spec.HeadGroupSpec.Template.Spec.DeepCopy(),
	}
	pod.Spec.NodeName = "bench-node"
	if err := cl.Create(ctx, pod); err != nil {
		return nil, fmt.Errorf("create head pod of %s/%s: %w", ns, rc.Name, err)
	}
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.0.1",
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}},
	}
	if err := cl.Status().Update(ctx, pod); err != nil {
		return nil, fmt.Errorf("set head pod of %s/%s Running: %w", ns, rc.Name, err)
	}
	return &benchCluster{namespace: ns, name: rc.Name, gcs: g.add(ns, rc.Name, pod.Name, ip)}, nil
}

func createNamespaces(ctx context.Context, cl client.Client, n int) error {
	for i := range n {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespaceName(i)}}
		if err := client.IgnoreAlreadyExists(cl.Create(ctx, ns)); err != nil {
			return fmt.Errorf("create namespace %s: %w", ns.Name, err)
		}
	}
	return nil
}
