package testcp

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// Process is a server binary run as a separate process (so its CPU and
// memory are its own), with its output in a log file.
type Process struct {
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	logPath string
}

// StartProcess runs binary with args; env entries are added to the
// inherited environment; stdout and stderr go to logPath.
func StartProcess(logPath string, env []string, binary string, args ...string) (*Process, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), logPath: logPath}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// WaitReady polls a /readyz URL until it answers 200; if the process exits
// first or the timeout passes, the error carries the end of its log.
func (p *Process) WaitReady(ctx context.Context, url string, timeout time.Duration) error {
	exited := make(chan error, 1)
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-p.done:
			exited <- p.waitErr
		case <-waitCtx.Done():
		}
	}()
	if err := WaitReady(waitCtx, url, timeout, exited); err != nil {
		return fmt.Errorf("%s: %w; log:\n%s", p.cmd.Path, err, p.LogTail(4000))
	}
	return nil
}

// Stop sends SIGTERM and, after 10 s, SIGKILL; it returns once the process
// has exited.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// LogTail is the last n bytes of the process's log.
func (p *Process) LogTail(n int) string {
	data, _ := os.ReadFile(p.logPath)
	if len(data) > n {
		data = data[len(data)-n:]
	}
	return string(data)
}
