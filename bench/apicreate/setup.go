package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/testcp"
)

// environment is the control plane, the webhook process and a client.
type environment struct {
	tmp     string
	cp      *testcp.ControlPlane
	webhook *testcp.Process
	client  client.Client
	// configs are the Mutating and ValidatingWebhookConfigurations of
	// hack/local-cluster/webhook.yaml with this run's port and CA bundle.
	configs []*unstructured.Unstructured
	// single is a second `raypilot webhook`, with --single-call, and
	// singleConfigs its MutatingWebhookConfiguration alone (startSingle).
	single        *testcp.Process
	singleConfigs []*unstructured.Unstructured
	seed          map[string]any
	// expanded is the seed as the webhook stores it (captureExpanded).
	expanded               map[string]any
	seedSize, expandedSize int
	// pids of the processes a create goes through, by role.
	pids map[string]int
	// raypilot is the raypilot mode whose webhook configurations are
	// registered (modeWebhook or modeSingle), "" for none.
	raypilot string
	// kyverno is the Kyverno process of the kyverno mode, nil without.
	kyverno *kyvernoPeer
	// stored is what one create through each admission stored, by mode,
	// for checkKyvernoEquivalent.
	stored map[string]map[string]any
}

// Client-side rate limits, high enough that the client never waits.
const (
	clientQPS   = 10000
	clientBurst = 20000
)

func setup(ctx context.Context, binary string) (*environment, error) {
	root, err := testcp.RepoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "raypilot-apicreate-")
	if err != nil {
		return nil, err
	}
	e := &environment{tmp: tmp}

	y, err := os.ReadFile(filepath.Join(root, "examples", "raycluster.yaml"))
	if err != nil {
		return e, err
	}
	if err := yaml.Unmarshal(y, &e.seed); err != nil {
		return e, fmt.Errorf("examples/raycluster.yaml: %w", err)
	}

	if binary == "" {
		binary = filepath.Join(tmp, "raypilot")
		fmt.Fprintln(os.Stderr, "apicreate: building ./cmd/raypilot")
		if err := testcp.BuildRaypilot(ctx, root, binary); err != nil {
			return e, err
		}
	}
	kuberay, err := testcp.KubeRayCRDDir()
	if err != nil {
		return e, err
	}
	fmt.Fprintln(os.Stderr, "apicreate: starting etcd and kube-apiserver")
	e.cp, err = testcp.StartControlPlane(os.Getenv("RAYPILOT_TOOLS_BIN"), kuberay, filepath.Join(root, "charts", "raypilot", "crds"))
	if err != nil {
		return e, err
	}
	cfg := rest.CopyConfig(e.cp.Config)
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	if e.client, err = client.New(cfg, client.Options{}); err != nil {
		return e, err
	}
	for _, f := range []string{"compute-template.yaml", "ray-example-configmap.yaml"} {
		if err := e.createAll(ctx, filepath.Join(root, "examples", f), "default"); err != nil {
			return e, err
		}
	}

	bundle, err := certs.Generate([]string{"127.0.0.1", "localhost"}, 24*time.Hour, time.Now())
	if err != nil {
		return e, err
	}
	certDir := filepath.Join(tmp, "certs")
	if err := bundle.WriteDir(certDir); err != nil {
		return e, err
	}
	fmt.Fprintln(os.Stderr, "apicreate: starting raypilot webhook")
	// The webhook binds the port numbers it is given; when another process
	// took one after it was chosen, it exits, and runs again on new ports.
	var port int
	err = testcp.WithFreePorts(2, func(ports []int) error {
		var serr error
		port = ports[0]
		e.webhook, serr = testcp.StartWebhook(ctx, binary, filepath.Join(tmp, "webhook.log"), certDir, e.cp.Kubeconfig, ports[0], ports[1])
		return serr
	})
	if err != nil {
		return e, err
	}

	apiserver, etcd, err := e.cp.PIDs()
	if err != nil {
		return e, err
	}
	tmpl, err := os.ReadFile(filepath.Join(root, "hack", "local-cluster", "webhook.yaml"))
	if err != nil {
		return e, err
	}
	if e.configs, err = webhookConfigs(string(tmpl), port, bundle.CACert); err != nil {
		return e, err
	}
	if err := e.startSingle(ctx, binary, certDir, string(tmpl), bundle.CACert); err != nil {
		return e, err
	}
	e.pids = map[string]int{"apiserver": apiserver, "etcd": etcd, "webhook": e.webhook.Pid(), "single": e.single.Pid(), "client": os.Getpid()}
	return e, nil
}

// webhookConfigs are the configurations of hack/local-cluster/webhook.yaml
// (tmpl) for a webhook on port whose certificate caCert signed.
func webhookConfigs(tmpl string, port int, caCert []byte) ([]*unstructured.Unstructured, error) {
	doc := strings.NewReplacer("${WEBHOOK_PORT}", strconv.Itoa(port), "${CA_BUNDLE}", base64.StdEncoding.EncodeToString(caCert)).Replace(tmpl)
	configs, err := decodeAll(doc)
	if err != nil {
		return nil, fmt.Errorf("hack/local-cluster/webhook.yaml: %w", err)
	}
	return configs, nil
}

// createAll creates every document of a YAML file, in namespace when set,
// as written otherwise.
func (e *environment) createAll(ctx context.Context, path, namespace string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	objs, err := decodeAll(string(data))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, o := range objs {
		if namespace != "" {
			o.SetNamespace(namespace)
		}
		if err := e.client.Create(ctx, o); err != nil {
			return fmt.Errorf("create %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

func decodeAll(doc string) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, part := range strings.Split(doc, "\n---") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(part), &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// setWebhook registers the webhook configurations of mode (none for the
// modes without a webhook), removing the others, and waits until the API
// server acts on the change: a server-side dry run of a compact cluster
// comes back expanded (a webhook registered) or as sent (none), three
// times in a row.
func (e *environment) setWebhook(ctx context.Context, mode string) error {
	var want []*unstructured.Unstructured
	switch mode {
	case modeWebhook:
		want = e.configs
	case modeSingle:
		want = e.singleConfigs
	}
	for _, c := range append(slices.Clone(e.configs), e.singleConfigs...) {
		if slices.Contains(want, c) {
			continue
		}
		if err := client.IgnoreNotFound(e.client.Delete(ctx, c.DeepCopy())); err != nil {
			return fmt.Errorf("%s %s: %w", c.GetKind(), c.GetName(), err)
		}
	}
	for _, c := range want {
		if err := client.IgnoreAlreadyExists(e.client.Create(ctx, c.DeepCopy())); err != nil {
			return fmt.Errorf("%s %s: %w", c.GetKind(), c.GetName(), err)
		}
	}
	on := len(want) > 0
	deadline := time.Now().Add(30 * time.Second)
	streak := 0
	for time.Now().Before(deadline) {
		expanded, err := e.probe(ctx)
		if err == nil && expanded == on {
			if streak++; streak == 3 {
				return nil
			}
			continue
		}
		streak = 0
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("mode %s (webhook registered: %v) not in effect after 30s", mode, on)
}

// probe dry-runs the seed and reports whether the stored head template has
// containers (the webhook filled it).
func (e *environment) probe(ctx context.Context) (bool, error) {
	obj := e.object("probe")
	if err := e.client.Create(ctx, obj, client.DryRunAll); err != nil {
		return false, err
	}
	containers, _, err := unstructured.NestedSlice(obj.Object, "spec", "headGroupSpec", "template", "spec", "containers")
	if err != nil {
		return false, err
	}
	return len(containers) > 0, nil
}

// object is the seed cluster named name in namespace default.
func (e *environment) object(name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(e.seed)}
	o.SetName(name)
	o.SetNamespace("default")
	return o
}

// captureExpanded keeps what the webhook makes of the seed (a server-side
// dry run with the webhook registered), without server-set metadata.
func (e *environment) captureExpanded(ctx context.Context) error {
	obj := e.object("probe")
	if err := e.client.Create(ctx, obj, client.DryRunAll); err != nil {
		return err
	}
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "generation", "managedFields"} {
		unstructured.RemoveNestedField(obj.Object, "metadata", f)
	}
	unstructured.RemoveNestedField(obj.Object, "status")
	if _, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "headGroupSpec", "template", "spec", "containers"); !ok {
		return fmt.Errorf("the webhook did not expand the seed")
	}
	e.expanded = obj.Object
	a, _ := json.Marshal(e.seed)
	b, _ := json.Marshal(e.expanded)
	e.seedSize, e.expandedSize = len(a), len(b)
	return nil
}

// expandedObject is the expanded seed named name.
func (e *environment) expandedObject(name string) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(e.expanded)}
	o.SetName(name)
	return o
}

// close stops Kyverno, the webhook and the control plane and removes the temporary
// folder.
func (e *environment) close() {
	if e.kyverno != nil {
		e.kyverno.proc.Stop()
	}
	for _, p := range []*testcp.Process{e.webhook, e.single} {
		if p != nil {
			p.Stop()
		}
	}
	if e.cp != nil {
		e.cp.Stop()
	}
	_ = os.RemoveAll(e.tmp)
}
