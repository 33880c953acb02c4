package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/promscrape"

	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/policyfile"
	"github.com/raypilot/raypilot/internal/testcp"
)

// TestRunServesMetrics starts the webhook server (Run) in process, sends
// it reviews over HTTPS and scrapes its /metrics over HTTP: each metric of
// the webhook's own (and the policy reload counter) is there with its type
// and label names, and the reviews are counted.
func TestRunServesMetrics(t *testing.T) {
	cfg := fakeAPIServer(t)
	bundle, err := certs.Generate([]string{"127.0.0.1"}, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(t.TempDir(), "certs")
	if err := bundle.WriteDir(certDir); err != nil {
		t.Fatal(err)
	}
	var webhookURL, metricsURL string
	err = testcp.WithFreePorts(3, func(ports []int) error {
		opts := Options{Host: "127.0.0.1", Port: ports[0], CertDir: certDir,
			HealthAddr: fmt.Sprintf("127.0.0.1:%d", ports[1]), MetricsAddr: fmt.Sprintf("127.0.0.1:%d", ports[2])}
		if err := startRun(t, cfg, opts); err != nil {
			return err
		}
		webhookURL, metricsURL = fmt.Sprintf("https://127.0.0.1:%d", ports[0]), "http://"+opts.MetricsAddr+"/metrics"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle.CACert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	cluster := `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c"},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}},
"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":5,"template":{}}]}}`
	review(t, client, webhookURL+MutatePath, "RayCluster", cluster, true)
	review(t, client, webhookURL+ValidatePath, "RayCluster", `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c"},"spec":{}}`, false)

	families := scrape(t, metricsURL)
	for _, m := range []struct {
		name   string
		typ    dto.MetricType
		labels []string
	}{
		{MetricAdmissions, dto.MetricType_COUNTER, []string{"kind", "operation", "reason", "result", "webhook"}},
		{MetricAdmissionDuration, dto.MetricType_HISTOGRAM, []string{"kind", "webhook"}},
		{MetricCertificateExpiry, dto.MetricType_GAUGE, nil},
		{policyfile.MetricReloads, dto.MetricType_COUNTER, []string{"result"}},
	} {
		f := families[m.name]
		if f == nil || len(f.Metric) == 0 {
			t.Errorf("/metrics has no %s", m.name)
			continue
		}
		if f.GetType() != m.typ {
			t.Errorf("%s is a %s, want a %s", m.name, f.GetType(), m.typ)
		}
		for _, s := range f.Metric {
			var names []string
			for _, l := range s.Label {
				names = append(names, l.GetName())
			}
			if slices.Sort(names); !slices.Equal(names, m.labels) {
				t.Errorf("%s has labels %v, want %v", m.name, names, m.labels)
			}
		}
	}
	counted := map[string]float64{}
	for _, s := range families[MetricAdmissions].GetMetric() {
		l := promscrape.Labels(s)
		counted[l["webhook"]+" "+l["kind"]+" "+l["operation"]+" "+l["result"]+" "+l["reason"]] += s.GetCounter().GetValue()
	}
	for _, want := range []string{"mutate RayCluster CREATE patched ", "validate RayCluster CREATE denied invalid_input"} {
		if counted[want] != 1 {
			t.Errorf("%s{%s} = %v, want 1 (all: %v)", MetricAdmissions, want, counted[want], counted)
		}
	}
	leaf, err := x509.ParseCertificate(mustPair(t, bundle).Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := families[MetricCertificateExpiry].GetMetric(); len(got) != 1 || got[0].GetGauge().GetValue() != float64(leaf.NotAfter.Unix()) {
		t.Errorf("%s = %v, want %d", MetricCertificateExpiry, got, leaf.NotAfter.Unix())
	}
}

// startRun runs Run until the test ends and waits until it serves; it
// returns Run's error if Run stops first.
func startRun(t *testing.T, cfg *rest.Config, opts Options) error {
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan error, 1)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// Not a test logger: Run makes it controller-runtime's global one,
		// which other tests log through after this one ends.
		exited <- Run(ctx, cfg, opts, zap.NewNop())
	}()
	stop := func() { cancel(); <-finished }
	if err := testcp.WaitReady(ctx, "http://"+opts.HealthAddr+"/readyz", 60*time.Second, exited); err != nil {
		stop()
		return err
	}
	t.Cleanup(stop)
	return nil
}

// review sends a CREATE review of obj to url and checks whether it was
// admitted.
func review(t *testing.T, client *http.Client, url, kind, obj string, allowed bool) {
	t.Helper()
	body, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "uid-1", Operation: admissionv1.Create, Namespace: "ns", Name: "c",
			Kind:   metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: kind},
			Object: runtime.RawExtension{Raw: []byte(obj)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.Response == nil {
		t.Fatalf("%s: status %d, %v", url, resp.StatusCode, err)
	}
	if out.Response.Allowed != allowed {
		t.Fatalf("%s: allowed %v, result %+v", url, out.Response.Allowed, out.Response.Result)
	}
}

// scrape reads url's Prometheus text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := promscrape.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

func mustPair(t *testing.T, b *certs.Bundle) tls.Certificate {
	t.Helper()
	c, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
