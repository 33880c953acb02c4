package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/raypilot/raypilot/internal/testcp"
)

// startSingle starts the webhook of the single-call mode: a second
// `raypilot webhook` with --single-call (the mutating webhook runs the
// validating checks on its own result), registered by the
// MutatingWebhookConfiguration of tmpl alone, renamed so that switching
// modes never confuses it with the two-call one.
func (e *environment) startSingle(ctx context.Context, binary, certDir, tmpl string, caCert []byte) error {
	fmt.Fprintln(os.Stderr, "apicreate: starting raypilot webhook --single-call")
	var port int
	err := testcp.WithFreePorts(2, func(ports []int) error {
		var serr error
		port = ports[0]
		e.single, serr = testcp.StartWebhook(ctx, binary, filepath.Join(e.tmp, "webhook-single.log"), certDir, e.cp.Kubeconfig, ports[0], ports[1], "--single-call")
		return serr
	})
	if err != nil {
		return fmt.Errorf("single-call webhook: %w", err)
	}
	configs, err := webhookConfigs(tmpl, port, caCert)
	if err != nil {
		return err
	}
	for _, c := range configs {
		if c.GetKind() == "MutatingWebhookConfiguration" {
			c.SetName(c.GetName() + "-single")
			e.singleConfigs = append(e.singleConfigs, c)
		}
	}
	if len(e.singleConfigs) != 1 {
		return fmt.Errorf("hack/local-cluster/webhook.yaml: want one MutatingWebhookConfiguration, have %d", len(e.singleConfigs))
	}
	return nil
}
