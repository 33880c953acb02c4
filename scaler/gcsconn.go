package scaler

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler/gcs"
)

// GCSAddress is where a cluster's GCS listens: the head Service (KubeRay's
// <cluster>-head-svc or headGroupSpec.headService.name) at the GCS port
// (rayStartParams port, default 6379).
func GCSAddress(rc *rayv1.RayCluster) string {
	svc := rc.Name + "-head-svc"
	if hs := rc.Spec.HeadGroupSpec.HeadService; hs != nil && hs.Name != "" {
		svc = hs.Name
	}
	port := 6379
	if p, err := strconv.Atoi(rc.Spec.HeadGroupSpec.RayStartParams["port"]); err == nil && p > 0 {
		port = p
	}
	return fmt.Sprintf("%s.%s.svc:%d", svc, rc.Namespace, port)
}

// connections caches one GCS client per cluster.
type connections struct {
	mu      sync.Mutex
	clients map[types.NamespacedName]*conn
	// proxy, when set, is dialled for every cluster, with the cluster's own
	// address as the gRPC authority (raysim, or a port-forward).
	proxy   string
	options gcs.Options
	secrets client.Reader
	// rayClient gives the tokens sent to clusters with Ray's Kubernetes
	// token authentication: a dedicated ServiceAccount's, from the
	// TokenRequest API (serviceAccountTokens). nil refuses those clusters;
	// raypilot's own ServiceAccount token is never sent.
	rayClient gcs.TokenSource
}

type conn struct {
	*gcs.Client
	addr string
	// head is the UID of the head pod the connection was made for. A new
	// head pod behind the same Service runs a new GCS, possibly of another
	// Ray version and another token: the connection is made again.
	head types.UID
	// compat is what the GCS's Ray version allows, asked at checked; nil
	// until asked (version.go). Only the cluster's own round touches it.
	compat  *gcs.Compatibility
	checked time.Time
}

// get returns the cluster's client, dialling when needed: first, when the
// GCS address changed, and when the head pod is another. head is the head
// pod: Ray's auth token, if the cluster requires one, is found from it.
func (cs *connections) get(ctx context.Context, rc *rayv1.RayCluster, head *corev1.Pod) (*conn, error) {
	key := types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name}
	addr := GCSAddress(rc)
	cs.mu.Lock()
	c := cs.clients[key]
	cs.mu.Unlock()
	if c != nil && c.addr == addr && c.head == head.UID {
		return c, nil
	}
	if c != nil {
		cs.drop(key)
	}
	auth, err := GCSAuth(ctx, cs.secrets, cs.rayClient, rc, head)
	if err != nil {
		return nil, err
	}
	opts := auth.Apply(cs.options)
	target := addr
	if cs.proxy != "" {
		target, opts.Authority = cs.proxy, addr
	}
	client, err := gcs.Dial(ctx, target, opts)
	if err != nil {
		return nil, err
	}
	c = &conn{Client: client, addr: addr, head: head.UID}
	cs.mu.Lock()
	cs.clients[key] = c
	cs.mu.Unlock()
	return c, nil
}

// drop closes and forgets a cluster's client (after errors, or when the
// cluster is gone), so the next round dials afresh.
func (cs *connections) drop(key types.NamespacedName) {
	cs.mu.Lock()
	c := cs.clients[key]
	delete(cs.clients, key)
	cs.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
}

func (cs *connections) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for k, c := range cs.clients {
		_ = c.Close()
		delete(cs.clients, k)
	}
}
