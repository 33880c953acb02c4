package raysim

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
)

// Run keeps the simulated nodes in step with the Ray pods of every cluster
// (label ray.io/is-ray-node=yes, read from an informer cache) and ticks the
// simulation every interval, until ctx ends.
func (s *Sim) Run(ctx context.Context, cs kubernetes.Interface, interval time.Duration) error {
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = "ray.io/is-ray-node=yes" }))
	lister := factory.Core().V1().Pods().Lister()
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("pod cache for %v did not sync", typ)
		}
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pods, err := lister.List(labels.Everything())
		if err != nil {
			return err
		}
		s.syncAll(pods)
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
	now := s.now()
	for key, ps := range byCluster {
		ns, name := splitKey(key)
		s.cluster(ns, name).syncPods(ps, now)
	}
}

func splitKey(key string) (string, string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}
