package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"
)

// target is one HTTPS endpoint with its own pool of keep-alive connections:
// one worker per connection, each with a single-connection transport.
type target struct {
	name    string
	url     string
	clients []*http.Client
}

func newTarget(name, url string, ca *x509.CertPool, connections int) *target {
	t := &target{name: name, url: url}
	for range connections {
		tr := &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: ca, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   false,
			MaxConnsPerHost:     1,
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     5 * time.Minute,
		}
		t.clients = append(t.clients, &http.Client{Transport: tr, Timeout: 10 * time.Second})
	}
	return t
}

// warmUp opens every connection (TLS handshake) and warms both sides.
func (t *target) warmUp(review []byte) error {
	for range 20 {
		for _, c := range t.clients {
			if err := send(c, t.url, review); err != nil {
				return err
			}
		}
	}
	return nil
}

type result struct {
	Target       string  `json:"target"`
	Rate         int     `json:"rate"`
	Sent         int     `json:"sent"`
	Errors       int     `json:"errors"`
	FirstError   string  `json:"firstError,omitempty"`
	P50ms        float64 `json:"p50_ms"`
	P99ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	AchievedRate float64 `json:"achieved_rate"`
}

// run sends rate requests per second for duration, open loop: request i is
// due at start + i/rate whatever the earlier responses did, and its latency
// is measured from that due time, so time spent queued behind slow requests
// (no free connection) counts.
func (t *target) run(ctx context.Context, rate int, duration time.Duration, review []byte) result {
	n := int(float64(rate) * duration.Seconds())
	interval := time.Second / time.Duration(rate)
	due := make(chan time.Time, n)
	latencies := make([]time.Duration, n)
	var (
		mu       sync.Mutex
		errs     int
		firstErr string
		sent     int
		last     time.Time
	)
	var wg sync.WaitGroup
	next := 0
	for _, c := range t.clients {
		wg.Go(func() {
			for d := range due {
				err := send(c, t.url, review)
				done := time.Now()
				mu.Lock()
				latencies[next] = done.Sub(d)
				next++
				if done.After(last) {
					last = done
				}
				if err != nil {
					errs++
					if firstErr == "" {
						firstErr = err.Error()
					}
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		due <- at
		sent++
	}
	close(due)
	wg.Wait()
	lat := latencies[:next]
	slices.Sort(lat)
	r := result{Target: t.name, Rate: rate, Sent: sent, Errors: errs, FirstError: firstErr}
	if len(lat) > 0 {
		r.P50ms, r.P99ms, r.MaxMs = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99)), ms(lat[len(lat)-1])
		r.AchievedRate = float64(len(lat)) / last.Sub(start).Seconds()
	}
	return r
}

// send posts the review and fails on a transport error, a non-200 status or
// a response that is not allowed.
func send(c *http.Client, url string, review []byte) error {
	resp, err := c.Post(url, "application/json", bytes.NewReader(review))
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if !bytes.Contains(body, []byte(`"allowed":true`)) {
		return fmt.Errorf("not allowed: %.200s", body)
	}
	return nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func printHeader() {
	fmt.Printf("%-9s %6s %7s %7s %9s %9s %9s %10s\n", "target", "rate/s", "sent", "errors", "p50 ms", "p99 ms", "max ms", "achieved/s")
}

func printRow(r result) {
	fmt.Printf("%-9s %6d %7d %7d %9.3f %9.3f %9.3f %10.1f\n", r.Target, r.Rate, r.Sent, r.Errors, r.P50ms, r.P99ms, r.MaxMs, r.AchievedRate)
	if r.FirstError != "" {
		fmt.Printf("          first error: %s\n", r.FirstError)
	}
}
