package testcp

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"syscall"
)

// Listen returns a listener on a free port of 127.0.0.1. An in-process
// server that serves on it cannot lose the port to another process, as one
// given a port number from FreePorts can.
func Listen() (net.Listener, error) {
	return net.Listen("tcp", "127.0.0.1:0")
}

// FreePorts returns n distinct TCP ports free on 127.0.0.1 at the time of
// the call: the racy way. A port is free only then; another process (any
// outgoing connection takes an ephemeral port) can bind it before the
// server it is meant for does. Use Listen for an in-process server that
// can serve on a listener, and WithFreePorts, which starts the server
// again on new ports when that happens, for one that takes port numbers.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	// Every listener stays open until all are chosen, so no port is
	// returned twice.
	for range n {
		l, err := Listen()
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// IsAddrInUse reports whether err says a server could not bind its address
// because something else had it: EADDRINUSE in err's chain, or the error's
// text saying so (a child process's log quoted in the error).
func IsAddrInUse(err error) bool {
	return err != nil && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use"))
}

// portAttempts bounds WithFreePorts: a port taken between being chosen and
// being bound is rare; several times in a row means something else is
// wrong.
const portAttempts = 5

// WithFreePorts calls start with n distinct ports free at the time and,
// while start fails because one of them was taken before its server bound
// it (an error for which IsAddrInUse holds), again with new ports, at most
// 5 times in all. It returns start's last error. start must leave nothing
// running when it fails.
func WithFreePorts(n int, start func(ports []int) error) error {
	var err error
	for range portAttempts {
		var ports []int
		if ports, err = FreePorts(n); err != nil {
			return fmt.Errorf("free ports: %w", err)
		}
		if err = start(ports); !IsAddrInUse(err) {
			return err
		}
	}
	return fmt.Errorf("%d attempts on new ports: %w", portAttempts, err)
}
