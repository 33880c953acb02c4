package main

import (
	"fmt"
	"strconv"
	"strings"
)

// memoryLimitEnv carries the container's memory limit in bytes: the chart
// sets it from the pod's own resources (resourceFieldRef limits.memory).
const memoryLimitEnv = "RAYPILOT_MEMORY_LIMIT_BYTES"

// memoryLimitPercent of the container's limit is the Go runtime's soft limit:
// the collector works harder near it instead of letting the heap reach the
// limit, where the kernel kills the process. The rest is headroom for what
// the runtime does not count (goroutine stacks in flight, cgo-free but
// non-heap memory) and for the collector's lag.
const memoryLimitPercent = 90

// softMemoryLimit returns the runtime memory limit for the environment
// getenv reads, and false when none is to be set: GOMEMLIMIT is set (the
// runtime already honours it; the user's choice wins) or no container
// limit is known. A malformed limit is an error naming the variable.
func softMemoryLimit(getenv func(string) string) (int64, bool, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, false, nil
	}
	raw := strings.TrimSpace(getenv(memoryLimitEnv))
	if raw == "" {
		return 0, false, nil
	}
	limit, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || limit <= 0 {
		return 0, false, fmt.Errorf("%s=%q: want the container's memory limit in bytes, a positive integer (the chart sets it from resources.limits.memory)", memoryLimitEnv, raw)
	}
	// In two parts, so that no limit overflows int64.
	return limit/100*memoryLimitPercent + limit%100*memoryLimitPercent/100, true, nil
}
