package main

import (
	"strings"
	"testing"
)

func TestSoftMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name      string
		env       map[string]string
		want      int64
		wantSet   bool
		wantError string
	}{
		{name: "no limit known", env: map[string]string{}},
		{name: "chart's 512Mi", env: map[string]string{memoryLimitEnv: "536870912"}, want: 483183820, wantSet: true},
		{name: "surrounding space", env: map[string]string{memoryLimitEnv: " 1000 "}, want: 900, wantSet: true},
		{name: "GOMEMLIMIT wins", env: map[string]string{memoryLimitEnv: "536870912", "GOMEMLIMIT": "100MiB"}},
		{name: "largest", env: map[string]string{memoryLimitEnv: "9223372036854775807"}, want: 8301034833169298226, wantSet: true},
		{name: "unit", env: map[string]string{memoryLimitEnv: "512Mi"}, wantError: memoryLimitEnv + `="512Mi"`},
		{name: "zero", env: map[string]string{memoryLimitEnv: "0"}, wantError: "positive integer"},
		{name: "overflow", env: map[string]string{memoryLimitEnv: "99999999999999999999"}, wantError: "in bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, set, err := softMemoryLimit(func(k string) string { return tc.env[k] })
			if tc.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantError) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantError)
				}
				return
			}
			if err != nil || got != tc.want || set != tc.wantSet {
				t.Fatalf("got (%d, %v, %v), want (%d, %v, nil)", got, set, err, tc.want, tc.wantSet)
			}
		})
	}
}
