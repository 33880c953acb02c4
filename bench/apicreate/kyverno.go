package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/testcp"
)

// kyvernoPeer is Kyverno's admission controller (kyverno v1.19.1:
// cmd/kyverno) run out of cluster as a separate process, with the
// ClusterPolicy of kyverno/policy.yaml: the same expansion of the seed as a
// Kyverno user writes it.
type kyvernoPeer struct {
	proc   *testcp.Process
	policy *unstructured.Unstructured
	on     bool
}

// kyvernoNamespace holds Kyverno's ConfigMaps, secrets and leases
// (kyverno/setup.yaml).
const kyvernoNamespace = "kyverno"

// kyvernoBinary resolves the -kyverno flag: "none" skips the mode, empty
// takes $RAYPILOT_TOOLS_BIN/kyverno when hack/tools.sh has built it.
func kyvernoBinary(flagValue string) string {
	switch flagValue {
	case "none":
		return ""
	case "":
		p := filepath.Join(os.Getenv("RAYPILOT_TOOLS_BIN"), "kyverno")
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	return flagValue
}

// kyvernoCRDDir is where hack/tools.sh puts the CRDs of the kyverno module
// it built the binary from: crds/ beside bin/.
func kyvernoCRDDir(binary string) (string, error) {
	real, err := filepath.EvalSymlinks(binary)
	if err != nil {
		return "", fmt.Errorf("kyverno binary: %w", err)
	}
	return filepath.Join(filepath.Dir(filepath.Dir(real)), "crds"), nil
}

// kyvernoArgs are the chart's defaults (kyverno v1.19.1:
// charts/kyverno/templates/admission-controller/deployment.yaml) for what
// the benchmark exercises, with the rest turned off:
//   - --serverIP: webhook configurations with a url client config, and a
//     serving certificate for that IP (kyverno: pkg/tls/keypair.go);
//   - --admissionReports=false: no report objects written per admission
//     (the reports controller that aggregates them does not run here);
//   - --generateValidatingAdmissionPolicy=false: the policy has no
//     validate rules to turn into ValidatingAdmissionPolicies;
//   - --enablePolicyException=false (chart default): no exceptions;
//   - --disableMetrics, --controllerRuntimeMetricsAddress=0: no metrics
//     servers on fixed ports (8000, 8080) the machine may have in use;
//     the chart enables them, so Kyverno does a little less work here
//     than in a default install;
//   - --omitEvents=PolicyApplied,PolicySkipped (chart default): no event
//     per successful mutation.
//
// Background scans and cleanup run in the background and cleanup
// controllers, which are not started.
func kyvernoArgs(kubeconfig string, port int) []string {
	return []string{
		"--kubeconfig=" + kubeconfig,
		"--serverIP=127.0.0.1:" + strconv.Itoa(port),
		"--webhookServerHost=127.0.0.1",
		"--webhookServerPort=" + strconv.Itoa(port),
		"--caSecretName=kyverno-svc.kyverno.svc.kyverno-tls-ca",
		"--tlsSecretName=kyverno-svc.kyverno.svc.kyverno-tls-pair",
		"--tlsKeyAlgorithm=RSA",
		"--admissionReports=false",
		"--autoUpdateWebhooks=true",
		"--generateValidatingAdmissionPolicy=false",
		"--generateMutatingAdmissionPolicy=false",
		"--enablePolicyException=false",
		"--disableMetrics=true",
		"--controllerRuntimeMetricsAddress=0",
		"--omitEvents=PolicyApplied,PolicySkipped",
		"--enableConfigMapCaching=true",
		"--enableDeferredLoading=true",
		"--loggingFormat=text",
		"--disableLogColor",
		"--v=2",
	}
}

// kyvernoEnv is what the chart's deployment sets (kyverno: cmd/internal/
// check.go exits when one of the first six is missing).
func kyvernoEnv(tmp string) []string {
	return []string{
		"KYVERNO_NAMESPACE=" + kyvernoNamespace,
		"KYVERNO_SERVICEACCOUNT_NAME=kyverno-admission-controller",
		"KYVERNO_DEPLOYMENT=kyverno-admission-controller",
		"KYVERNO_POD_NAME=kyverno-apicreate",
		"INIT_CONFIG=kyverno",
		"METRICS_CONFIG=kyverno-metrics",
		"KYVERNO_ROLE_NAME=kyverno:admission-controller",
		"KYVERNO_SVC=kyverno-svc",
		"TUF_ROOT=" + filepath.Join(tmp, "sigstore"),
	}
}

// startKyverno installs Kyverno's CRDs and configuration, starts the
// process and waits until its policy webhook answers; the ClusterPolicy is
// created by setKyverno. Without a binary (see kyvernoBinary for the -kyverno
// flag) the mode is left out.
func (e *environment) startKyverno(ctx context.Context, kyvernoFlag string) error {
	binary := kyvernoBinary(kyvernoFlag)
	if binary == "" {
		fmt.Fprintln(os.Stderr, "apicreate: no kyverno binary (hack/tools.sh build kyverno): the kyverno mode is skipped")
		return nil
	}
	root, err := testcp.RepoRoot()
	if err != nil {
		return err
	}
	crds, err := kyvernoCRDDir(binary)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "apicreate: installing Kyverno's CRDs and starting kyverno")
	if _, err := envtest.InstallCRDs(e.cp.Config, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true, MaxTime: 90 * time.Second}); err != nil {
		return fmt.Errorf("install kyverno CRDs from %s: %w", crds, err)
	}
	if err := e.createAll(ctx, filepath.Join(root, "bench", "apicreate", "kyverno", "setup.yaml"), ""); err != nil {
		return err
	}
	policy, err := os.ReadFile(filepath.Join(root, "bench", "apicreate", "kyverno", "policy.yaml"))
	if err != nil {
		return err
	}
	k := &kyvernoPeer{policy: &unstructured.Unstructured{}}
	if err := yaml.Unmarshal(policy, &k.policy.Object); err != nil {
		return fmt.Errorf("bench/apicreate/kyverno/policy.yaml: %w", err)
	}
	err = testcp.WithFreePorts(1, func(ports []int) error {
		var serr error
		k.proc, serr = testcp.StartProcess(filepath.Join(e.tmp, "kyverno.log"), kyvernoEnv(e.tmp), binary, kyvernoArgs(e.cp.Kubeconfig, ports[0])...)
		if serr != nil {
			return serr
		}
		// Kyverno is up when the API server accepts the policy through
		// Kyverno's own policy validation webhook; a dry run leaves nothing.
		if serr = e.waitKyvernoServing(ctx, k); serr != nil {
			k.proc.Stop()
			return fmt.Errorf("kyverno: %w; log:\n%s", serr, k.proc.LogTail(4000))
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.kyverno = k
	e.pids["kyverno"] = k.proc.Pid()
	return nil
}

// waitKyvernoServing dry-runs the ClusterPolicy until Kyverno's policy
// validating webhook is registered and accepts it.
func (e *environment) waitKyvernoServing(ctx context.Context, k *kyvernoPeer) error {
	deadline := time.Now().Add(3 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		registered, err := e.kyvernoPolicyWebhook(ctx)
		if err == nil && registered {
			if last = e.client.Create(ctx, k.policy.DeepCopy(), client.DryRunAll); last == nil {
				return nil
			}
		} else if err != nil {
			last = err
		} else {
			last = errors.New("policy validating webhook not registered yet")
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("not serving after 3m: %v", last)
}

// setKyverno creates (on) or deletes (off) the ClusterPolicy and waits
// until the API server acts on it: Kyverno has added (or removed) a
// webhook for rayclusters to its configurations, and a server-side dry
// run of the seed comes back expanded (or not) three times in a row.
func (e *environment) setKyverno(ctx context.Context, on bool) error {
	k := e.kyverno
	if k.on == on {
		return nil
	}
	var err error
	if on {
		err = client.IgnoreAlreadyExists(e.client.Create(ctx, k.policy.DeepCopy()))
	} else {
		err = client.IgnoreNotFound(e.client.Delete(ctx, k.policy.DeepCopy()))
	}
	if err != nil {
		return fmt.Errorf("ClusterPolicy %s: %w", k.policy.GetName(), err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	streak := 0
	for time.Now().Before(deadline) {
		mutating, validating, err := e.kyvernoHooksRayClusters(ctx)
		// On: the mutating webhook is in place; off: neither is left.
		if err == nil && (on && mutating || !on && !mutating && !validating) {
			expanded, perr := e.probe(ctx)
			if perr == nil && expanded == on {
				if streak++; streak == 3 {
					k.on = on
					return nil
				}
				continue
			}
		}
		streak = 0
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("kyverno policy on=%v not in effect after 2m; kyverno log:\n%s", on, k.proc.LogTail(4000))
}

// describeKyverno prints what the kyverno mode runs.
func (e *environment) describeKyverno() {
	if e.kyverno == nil {
		return
	}
	fmt.Printf("apicreate: mode kyverno = compact seed, Kyverno v1.19.1's webhook configurations with the ClusterPolicy of bench/apicreate/kyverno/policy.yaml, raypilot's none; kyverno pid %d (separate process, TLS, url client config, admission reports off)\n", e.kyverno.proc.Pid())
}
