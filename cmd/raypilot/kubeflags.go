package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
)

// kubeFlags are the flags of a subcommand that talks to a cluster, named
// as kubectl names them.
type kubeFlags struct {
	kubeconfig, context string
	qps                 float64
	burst               int
}

// addTo defines the flags on fs.
func (k *kubeFlags) addTo(fs *pflag.FlagSet) {
	fs.StringVar(&k.kubeconfig, "kubeconfig", "", "kubeconfig file; default $KUBECONFIG, in-cluster or ~/.kube/config")
	fs.StringVar(&k.context, "context", "", "kubeconfig context to use (default: the kubeconfig's current context)")
	fs.Float64Var(&k.qps, "kube-api-qps", 50, "client-side limit of API requests per second")
	fs.IntVar(&k.burst, "kube-api-burst", 100, "client-side burst of API requests")
}

// restConfig loads the API server config: from --kubeconfig when set,
// else from $KUBECONFIG or ~/.kube/config when --context names a context
// (the in-cluster config has none), else as controller-runtime finds it
// ($KUBECONFIG, in-cluster, ~/.kube/config).
func (k *kubeFlags) restConfig() (*rest.Config, error) {
	var (
		rc  *rest.Config
		err error
	)
	switch {
	case k.kubeconfig != "" || k.context != "":
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		if k.kubeconfig != "" {
			rules = &clientcmd.ClientConfigLoadingRules{ExplicitPath: k.kubeconfig}
		}
		overrides := &clientcmd.ConfigOverrides{CurrentContext: k.context}
		rc, err = clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides).ClientConfig()
	default:
		rc, err = ctrl.GetConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("cannot load kubeconfig: %w", err)
	}
	// Explicit, so --kubeconfig and in-cluster behave alike (client-go's
	// default of 5/s would throttle a scaler patching many clusters).
	rc.QPS, rc.Burst = float32(k.qps), k.burst
	return rc, nil
}
