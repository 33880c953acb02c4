package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/gcs"
)

// planOptions are the flags of `raypilot plan`.
type planOptions struct {
	// Stored inputs: the RayCluster ("-": stdin), Ray's state, the pods
	// and the clock.
	clusterFile, stateFile, podsFile, now string
	// cluster is the live cluster, NAME or NAMESPACE/NAME (--cluster);
	// namespace is -n.
	cluster, namespace string
	kube               kubeFlags
	gcsProxy           string
	gcsTimeout         time.Duration
	policyFile         string
	policyConfigMap    types.NamespacedName
	// output is text, json or yaml; "" is json for stored inputs (what
	// scripts have always read) and text for --cluster.
	output string
}

// The flags of each input mode, for the usage errors that mix them.
var (
	planStoredFlags = []string{"filename", "raycluster", "ray-state", "pods", "now"}
	planLiveFlags   = []string{"namespace", "kubeconfig", "context", "kube-api-qps", "kube-api-burst", "gcs-proxy-address", "gcs-timeout", "policy-configmap"}
)

// newPlanCommand is `raypilot plan`: it runs the scaler's decision once on
// a stored RayCluster and Ray ClusterResourceState, or on a live cluster
// (--cluster), and prints the plan. Exit 0 with the plan on stdout, 1 when
// an input cannot be read or parsed, 2 on usage errors.
func newPlanCommand() *cobra.Command {
	var o planOptions
	cmd := &cobra.Command{
		Use:   "plan (-f RAYCLUSTER --ray-state FILE | --cluster [NAMESPACE/]NAME) [flags]",
		Short: "Decide one scaling round as the scaler would, and say why",
		Long: `Run the scaler's decision once (the function the scaler's rounds run) and
print the plan: per worker group the replicas now, minReplicas,
maxReplicas and the desired replicas, the pending demand, the idle workers
drained or kept, the workers to terminate, the infeasible demand and why.

Stored inputs: a RayCluster as stored and Ray's ClusterResourceState
(protobuf JSON, or a GetClusterResourceStateReply). Only pods of --pods are
ever named in "terminate" and "idle": workers of the group in the
RayCluster's namespace with a valid pod name. Without --pods the terminations are
counted per group in "unnamedTerminations". The default output is JSON.

A live cluster (--cluster): the RayCluster and its pods are read with the
kubeconfig (--kubeconfig, --context and -n as kubectl takes them), and Ray's
state from the cluster's GCS, through a port-forward to the running head pod
(which needs create on pods/portforward) or at --gcs-proxy-address as the
scaler's flag of that name dials it. The GCS is only read: nothing is
reported to it and no node is drained. The plan says whether the scaler acts
on the cluster now, and if not, why (no raypilot.io/autoscaling: central,
suspended, KubeRay's in-tree autoscaler, an unsupported Ray). Ray token
authentication is not supported here: such a GCS refuses the read. The
default output is text.

Exit 0 with the plan on stdout, 1 when an input cannot be read or parsed, 2
on usage errors.`,
		Example: `  # Why did (or didn't) test-cluster scale? Ask the live cluster.
  raypilot plan --cluster team-a/test-cluster
  raypilot plan --cluster test-cluster -n team-a --context prod -o json

  # The same from stored inputs
  kubectl get raycluster test-cluster -o yaml > rc.yaml
  kubectl get pods -l ray.io/cluster=test-cluster -o json > pods.json
  raypilot plan -f rc.yaml --ray-state state.json --pods pods.json

  # The RayCluster from stdin, the chart's policy, a fixed clock
  kubectl get raycluster test-cluster -o yaml | \
    raypilot plan -f - --ray-state state.json --policy policy.yaml --now 2024-01-01T00:10:00Z`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			live := cmd.Flags().Changed("cluster")
			if err := o.check(cmd, live); err != nil {
				return err
			}
			var (
				out planOutput
				err error
			)
			if live {
				out, err = runPlanLive(cmd, o)
			} else {
				out, err = runPlanStored(cmd.InOrStdin(), o)
			}
			if err != nil {
				return err
			}
			format := o.output
			if format == "" {
				format = planFormatJSON
				if live {
					format = planFormatText
				}
			}
			if err := writePlan(cmd.OutOrStdout(), out, format); err != nil {
				return failure(err)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&o.clusterFile, "filename", "f", "", "the RayCluster as stored (expanded), YAML or JSON; - is stdin")
	deprecatedAlias(fs, "raycluster", "filename")
	fs.StringVar(&o.stateFile, "ray-state", "", "Ray's ClusterResourceState as protobuf JSON")
	fs.StringVar(&o.podsFile, "pods", "", "the cluster's pods: a v1 List or YAML documents (default: one running pod per Ray worker node)")
	fs.StringVar(&o.now, "now", "", "the clock, RFC3339 (default: now)")
	fs.StringVar(&o.cluster, "cluster", "", "read the live RayCluster [NAMESPACE/]NAME, its pods and its GCS instead of files")
	fs.StringVarP(&o.namespace, "namespace", "n", "", "namespace of --cluster (default: the kubeconfig context's)")
	o.kube.addTo(fs)
	fs.StringVar(&o.gcsProxy, "gcs-proxy-address", "", "with --cluster: dial the GCS at this host:port, sending the cluster's own address (<cluster>-head-svc.<ns>.svc:<port>) as the gRPC authority, as the scaler's flag does (default: a port-forward to the head pod)")
	fs.DurationVar(&o.gcsTimeout, "gcs-timeout", gcs.DefaultTimeout, "with --cluster: timeout of connecting to the GCS and of each call")
	fs.StringVar(&o.policyFile, "policy", "", "policy document (limits.maxWorkersPerCluster caps the workers)")
	fs.Var(configMapFlag{&o.policyConfigMap}, "policy-configmap", "with --cluster: read the policy from key "+planPolicyKey+" of this NAMESPACE/NAME ConfigMap, as the chart mounts it for the scaler")
	fs.VarP(choiceFlag{&o.output, []string{planFormatText, planFormatJSON, planFormatYAML}}, "output", "o", "output format: text, json or yaml (default: json for stored inputs, text for --cluster)")
	return cmd
}

// check refuses command lines that mix the two input modes or miss an
// input.
func (o planOptions) check(cmd *cobra.Command, live bool) error {
	fs := cmd.Flags()
	given := func(names []string) []string {
		var out []string
		for _, n := range names {
			if fs.Changed(n) {
				out = append(out, "--"+n)
			}
		}
		return out
	}
	if o.policyFile != "" && fs.Changed("policy-configmap") {
		return usageErrorf("--policy and --policy-configmap both give the policy; give one")
	}
	if live {
		if mixed := given(planStoredFlags); len(mixed) > 0 {
			return usageErrorf("--cluster reads the live cluster; %s read stored inputs: give one or the other", strings.Join(mixed, ", "))
		}
		return nil
	}
	if mixed := given(planLiveFlags); len(mixed) > 0 {
		return usageErrorf("%s: only with --cluster", strings.Join(mixed, ", "))
	}
	if o.clusterFile == "" || o.stateFile == "" {
		return usageErrorf("-f/--filename (the RayCluster) and --ray-state are required, or --cluster for a live cluster")
	}
	return nil
}

// runPlanStored decides on the stored inputs of o.
func runPlanStored(stdin io.Reader, o planOptions) (planOutput, error) {
	now := time.Now()
	if o.now != "" {
		t, err := time.Parse(time.RFC3339, o.now)
		if err != nil {
			return planOutput{}, usageErrorf("--now: %w", err)
		}
		now = t
	}
	out, err := plan(stdin, o.clusterFile, o.stateFile, o.podsFile, o.policyFile, now)
	if err != nil {
		return planOutput{}, failure(err)
	}
	return out, nil
}

// plan reads the inputs (clusterFile "-" is stdin) and decides.
func plan(stdin io.Reader, clusterFile, stateFile, podsFile, policyFile string, now time.Time) (planOutput, error) {
	rc, err := planReadRayCluster(clusterFile, stdin)
	if err != nil {
		return planOutput{}, err
	}
	policy, err := planPolicyFile(policyFile)
	if err != nil {
		return planOutput{}, err
	}
	st, err := planReadState(stateFile)
	if err != nil {
		return planOutput{}, err
	}
	var pods []corev1.Pod
	var notes []string
	if podsFile != "" {
		if pods, err = planReadPods(podsFile); err != nil {
			return planOutput{}, err
		}
		pods, notes = planVerifiedPods(rc, pods)
	} else {
		pods = planPodsFromState(rc.Name, st)
	}

	decision, err := scaler.Decide(rc, policy, st, pods, now)
	if err != nil {
		return planOutput{}, fmt.Errorf("%s: %w", clusterFile, err)
	}
	// Decide derived the same view of rc without error.
	view, _ := scaler.ClusterFor(rc, policy)
	out := planToOutput(decision, view, rc, pods, podsFile != "")
	out.Notes = append(append([]string{}, notes...), out.Notes...)
	return out, nil
}

// planPolicyFile is the policy of path, the built-in one when path is "".
func planPolicyFile(path string) (*defaults.Policy, error) {
	if path == "" {
		return defaults.DefaultPolicy(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	policy, err := defaults.ParsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return policy, nil
}
