package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/livecluster"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/gcs"
)

// planPolicyKey is the key of the policy in the chart's ConfigMap
// (charts/raypilot/templates/policy-configmap.yaml).
const planPolicyKey = "policy.yaml"

// planLiveEnv is how `raypilot plan --cluster` reaches the cluster.
type planLiveEnv struct {
	// reader reads the RayCluster, its pods and the policy ConfigMap.
	reader client.Reader
	// forward opens a port-forward to port of pod; unused with a GCS
	// proxy address.
	forward func(ctx context.Context, pod types.NamespacedName, port int) (*livecluster.Forward, error)
}

// runPlanLive decides on the live cluster of o, reached with o's
// kubeconfig flags.
func runPlanLive(cmd *cobra.Command, o planOptions) (planOutput, error) {
	key, err := planClusterKey(o)
	if err != nil {
		return planOutput{}, err
	}
	cfg, err := o.kube.restConfig()
	if err != nil {
		return planOutput{}, failure(err)
	}
	scheme, err := livecluster.Scheme()
	if err != nil {
		return planOutput{}, failure(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return planOutput{}, failure(fmt.Errorf("cannot create a Kubernetes client: %w", err))
	}
	// Warnings only: what goes wrong in a port-forward's connections
	// (client-go logs it) explains a GCS that cannot be read.
	log := (&logFlags{format: "console", level: zapcore.WarnLevel}).logger(cmd.ErrOrStderr())
	defer func() { _ = log.Sync() }()
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := planLiveEnv{reader: c, forward: func(ctx context.Context, pod types.NamespacedName, port int) (*livecluster.Forward, error) {
		return livecluster.PortForward(ctx, cfg, pod, port, log)
	}}
	out, err := planLive(ctx, env, key, o, time.Now())
	if err != nil {
		return planOutput{}, failure(err)
	}
	return out, nil
}

// planClusterKey is the cluster --cluster and -n name, in the kubeconfig
// context's namespace when neither names one, as kubectl resolves it.
func planClusterKey(o planOptions) (types.NamespacedName, error) {
	ns, name, qualified := strings.Cut(o.cluster, "/")
	if !qualified {
		ns, name = o.namespace, o.cluster
	}
	switch {
	case qualified && o.namespace != "" && o.namespace != ns:
		return types.NamespacedName{}, usageErrorf("--cluster %s names namespace %s, -n %s another", o.cluster, ns, o.namespace)
	case strings.Contains(name, "/"):
		return types.NamespacedName{}, usageErrorf("--cluster %q: want NAME or NAMESPACE/NAME", o.cluster)
	case len(validation.IsDNS1123Subdomain(name)) > 0:
		return types.NamespacedName{}, usageErrorf("--cluster %q: %q is not a RayCluster name", o.cluster, name)
	case ns != "" && len(validation.IsDNS1123Label(ns)) > 0:
		return types.NamespacedName{}, usageErrorf("--cluster %q: %q is not a namespace", o.cluster, ns)
	}
	if ns == "" {
		var err error
		if ns, err = o.kube.namespace(); err != nil {
			return types.NamespacedName{}, failure(err)
		}
	}
	return types.NamespacedName{Namespace: ns, Name: name}, nil
}

// namespace is the kubeconfig context's namespace (--kubeconfig and
// --context as restConfig loads them), the in-cluster pod's namespace, or
// "default", as kubectl takes it.
func (k *kubeFlags) namespace() (string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if k.kubeconfig != "" {
		rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: k.kubeconfig}
	}
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: k.context}).Namespace()
	if err != nil {
		return "", fmt.Errorf("cannot tell the kubeconfig's namespace (give -n): %w", err)
	}
	return ns, nil
}

// planLive reads cluster key through env as a scaler round reads it (the
// RayCluster, its pods, its GCS's Ray version and state) and decides at
// now with scaler.Decide, as the round does.
func planLive(ctx context.Context, env planLiveEnv, key types.NamespacedName, o planOptions, now time.Time) (planOutput, error) {
	cl, err := livecluster.Read(ctx, env.reader, key)
	if err != nil {
		return planOutput{}, err
	}
	rc := cl.RayCluster
	policy, err := planLivePolicy(ctx, env.reader, o)
	if err != nil {
		return planOutput{}, err
	}
	head := scaler.RunningHead(cl.Pods)
	if head == nil {
		return planOutput{}, fmt.Errorf("RayCluster %s has no running head pod: the scaler waits for one before it reads the GCS, and so does the plan", key)
	}
	auth, err := planLiveAuth(ctx, env.reader, key, rc, head)
	if err != nil {
		return planOutput{}, err
	}
	gcsAddr := scaler.GCSAddress(rc)
	opts := auth.Apply(gcs.Options{Timeout: o.gcsTimeout})
	var target, how string
	if o.gcsProxy != "" {
		target, opts.Authority = o.gcsProxy, gcsAddr
		how = fmt.Sprintf("--gcs-proxy-address %s as %s", o.gcsProxy, gcsAddr)
	} else {
		_, p, err := net.SplitHostPort(gcsAddr)
		if err != nil {
			return planOutput{}, fmt.Errorf("GCS address %s: %w", gcsAddr, err)
		}
		port, err := strconv.Atoi(p)
		if err != nil {
			return planOutput{}, fmt.Errorf("GCS address %s: %w", gcsAddr, err)
		}
		f, err := env.forward(ctx, types.NamespacedName{Namespace: key.Namespace, Name: head.Name}, port)
		if err != nil {
			return planOutput{}, err
		}
		defer f.Close()
		target, how = f.Addr, fmt.Sprintf("a port-forward to port %d of pod %s", port, head.Name)
	}
	g, err := livecluster.ReadGCS(ctx, target, opts)
	if errors.Is(err, gcs.ErrUnauthenticated) {
		return planOutput{}, fmt.Errorf("RayCluster %s: %w (raypilot plan sent the credential its head pod's Ray container gives: %s)", key, err, auth)
	}
	if err != nil {
		return planOutput{}, fmt.Errorf("RayCluster %s: GCS through %s: %w", key, how, err)
	}
	d, err := scaler.Decide(rc, policy, g.State, cl.Pods, now)
	if err != nil {
		return planOutput{}, fmt.Errorf("RayCluster %s: %w", key, err)
	}
	view, _ := scaler.ClusterFor(rc, policy) // Decide derived it without error
	out := planToOutput(d, view, rc, cl.Pods, true)

	leftAlone := cl.Refusals()
	if !g.Compat.Supported {
		leftAlone = append(leftAlone, g.Compat.Reason)
	} else if len(g.Compat.Limits) > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("Ray %s works with limits: %s", g.Compat.Version, strings.Join(g.Compat.Limits, "; ")))
	}
	out.Cluster = &planCluster{Namespace: key.Namespace, Name: key.Name, RayVersion: g.Compat.Version, GCS: how, Auth: auth.String(),
		ScalerActs: len(leftAlone) == 0, LeftAlone: append([]string{}, leftAlone...)}
	return out, nil
}

// planLivePolicy is the policy of --policy-configmap, else of --policy,
// else the built-in one.
func planLivePolicy(ctx context.Context, r client.Reader, o planOptions) (*defaults.Policy, error) {
	ref := o.policyConfigMap
	if ref.Name == "" {
		return planPolicyFile(o.policyFile)
	}
	var cm corev1.ConfigMap
	if err := r.Get(ctx, ref, &cm); err != nil {
		return nil, fmt.Errorf("policy ConfigMap %s: %w", ref, err)
	}
	data, ok := cm.Data[planPolicyKey]
	if !ok {
		return nil, fmt.Errorf("policy ConfigMap %s has no key %s", ref, planPolicyKey)
	}
	policy, err := defaults.ParsePolicy([]byte(data))
	if err != nil {
		return nil, fmt.Errorf("policy ConfigMap %s: %w", ref, err)
	}
	return policy, nil
}
