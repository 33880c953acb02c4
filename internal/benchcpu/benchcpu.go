// Package benchcpu reports the process CPU per benchmark operation. On a
// shared machine a benchmark's wall time per op also holds the time it
// waited for a core; the CPU time (garbage collection included) does not,
// so BENCHMARKS.md states both.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Process returns the CPU time (user + system) this process has used.
func Process() time.Duration {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// Start marks the beginning of b's timed loop; call the returned function
// after the loop to report "cpu-ns/op".
func Start(b *testing.B) func() {
	start := Process()
	return func() { b.ReportMetric(float64(Process()-start)/float64(max(b.N, 1)), "cpu-ns/op") }
}
