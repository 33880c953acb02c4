package raysim

import (
	"context"
	"fmt"
	"log"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// Run keeps the simulated nodes in step with the Ray pods of every cluster
// (label ray.io/is-ray-node=yes, read from an informer cache) and ticks the
// simulation every interval, until ctx ends. Secrets are read from a second
// informer cache: a head pod's Ray auth token may come from one (auth.go).
func (s *Sim) Run(ctx context.Context, cs kubernetes.Interface, interval time.Duration) error {
	podFactory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "ray.io/is-ray-node=yes" }))
	pods := podFactory.Core().V1().Pods().Lister()
	secretFactory := informers.NewSharedInformerFactory(cs, 0)
	secrets := secretFactory.Core().V1().Secrets().Lister()
	podFactory.Start(ctx.Done())
	secretFactory.Start(ctx.Done())
	for typ, ok := range podFactory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("pod cache for %v did not sync", typ)
		}
	}
	// Pods do not wait for Secrets (raysim may lack the right to list them):
	// until the Secret cache syncs, a head whose token is in a Secret reads
	// as a GCS that has not started, and is looked at again every interval.
	syncCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	for typ, ok := range secretFactory.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			log.Printf("raysim: the %v cache has not synced yet; heads whose Ray auth token is in a Secret wait for it", typ)
		}
	}
	cancel()
	s.mu.Lock()
	s.secrets = func(namespace, name string) (map[string][]byte, bool) {
		sec, err := secrets.Secrets(namespace).Get(name)
		if err != nil {
			return nil, false
		}
		return sec.Data, true
	}
	s.mu.Unlock()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		list, err := pods.List(labels.Everything())
		if err != nil {
			return err
		}
		s.syncAll(list)
		s.Tick()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// syncAll hands each cluster its pods; clusters without pods get none.
func (s *Sim) syncAll(pods []*corev1.Pod) {
	byCluster := map[string][]*corev1.Pod{}
	for _, p := range pods {
		key := p.Namespace + "/" + p.Labels["ray.io/cluster"]
		byCluster[key] = append(byCluster[key], p)
	}
	s.mu.Lock()
	for key := range s.clusters {
		if _, ok := byCluster[key]; !ok {
			byCluster[key] = nil
		}
	}
	s.mu.Unlock()
	for key, ps := range byCluster {
		ns, name, _ := cache.SplitMetaNamespaceKey(key)
		s.SyncPods(ns, name, ps)
	}
}
