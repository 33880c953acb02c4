// Package policyfile serves the cluster-wide policy document from a file
// (the chart's mounted ConfigMap) and reloads it when the file changes.
package policyfile

import (
	"bytes"
	"context"
	"os"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/raypilot/raypilot/defaults"
)

// File holds the policy read from a file and reloads it when the file's
// content changes. A bad new document is logged and the last good policy
// stays in force.
type File struct {
	path    string
	log     *zap.Logger
	current atomic.Pointer[defaults.Policy]
	raw     []byte
}

// Load reads path; an empty path means the built-in policy.
func Load(path string, log *zap.Logger) (*File, error) {
	p := &File{path: path, log: log}
	if path == "" {
		p.current.Store(defaults.DefaultPolicy())
		return p, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pol, err := defaults.ParsePolicy(data)
	if err != nil {
		return nil, err
	}
	p.current.Store(pol)
	p.raw = data
	return p, nil
}

// Get returns the policy in force.
func (p *File) Get() *defaults.Policy { return p.current.Load() }

// Watch polls the file every interval (default 5 s) until ctx ends. Polling follows the atomic symlink
// swaps the kubelet uses for ConfigMap volumes without extra machinery.
func (p *File) Watch(ctx context.Context, every time.Duration) {
	if p.path == "" {
		return
	}
	if every <= 0 {
		every = 5 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.reload()
		}
	}
}

func (p *File) reload() {
	data, err := os.ReadFile(p.path)
	if err != nil {
		p.log.Error("cannot read policy; keeping the current one", zap.String("path", p.path), zap.Error(err))
		return
	}
	if bytes.Equal(data, p.raw) {
		return
	}
	pol, err := defaults.ParsePolicy(data)
	if err != nil {
		p.log.Error("invalid policy; keeping the current one", zap.String("path", p.path), zap.Error(err))
		p.raw = data // report once per change
		return
	}
	p.current.Store(pol)
	p.raw = data
	p.log.Info("policy reloaded", zap.String("path", p.path))
}
