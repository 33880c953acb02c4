package testcp

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// StartWebhook runs `raypilot webhook` (binary) serving HTTPS on
// 127.0.0.1:port with the certificate in certDir and its probes on
// 127.0.0.1:health, logging to logPath, and waits until it is ready; a
// process that is not is stopped, and the error carries its log (so that
// IsAddrInUse tells a port taken before it bound it). extra flags are
// passed after these.
func StartWebhook(ctx context.Context, binary, logPath, certDir, kubeconfig string, port, health int, extra ...string) (*Process, error) {
	p, err := StartProcess(logPath, nil, binary, append([]string{"webhook",
		"--host", "127.0.0.1", "--port", strconv.Itoa(port), "--cert-dir", certDir,
		"--metrics-bind-address", "0", "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", health),
		"--kubeconfig", kubeconfig}, extra...)...)
	if err != nil {
		return nil, err
	}
	if err := p.WaitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", health), 60*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("webhook: %w", err)
	}
	return p, nil
}
