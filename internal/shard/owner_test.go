package shard

import (
	"fmt"
	"slices"
	"testing"
)

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("team-%d/cluster-%d", i%17, i)
	}
	return out
}

func members(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("raypilot-scaler-%d_%08x", i, Hash(fmt.Sprint(i)))
	}
	return out
}

// TestOwnerMovesOnlyWhatMust: adding one member to N moves only keys to
// it; removing one moves only its keys.
func TestOwnerMovesOnlyWhatMust(t *testing.T) {
	ks := keys(3000)
	for n := 1; n <= 6; n++ {
		all := members(n + 1)
		before, joined := all[:n], all[n]
		moved := 0
		for _, k := range ks {
			a, b := Owner(k, before), Owner(k, all)
			if a != b {
				moved++
				if b != joined {
					t.Fatalf("%d members, %s joined: key %s moved from %s to %s", n, joined, k, a, b)
				}
			}
		}
		if moved == 0 {
			t.Errorf("%d members, one joined: no key moved to it", n)
		}
		for gone := range all {
			rest := slices.Delete(slices.Clone(all), gone, gone+1)
			for _, k := range ks {
				a, b := Owner(k, all), Owner(k, rest)
				if a != b && a != all[gone] {
					t.Fatalf("%s left: key %s moved from %s (still live) to %s", all[gone], k, a, b)
				}
			}
		}
	}
}

// TestOwnerBalance: 3 members × 3000 keys: each member's share is within
// 10% of an equal share (binomial standard deviation ≈ 26 keys of 1000,
// so 100 keys is about 4 σ).
func TestOwnerBalance(t *testing.T) {
	ms := members(3)
	count := map[string]int{}
	for _, k := range keys(3000) {
		count[Owner(k, ms)]++
	}
	for _, m := range ms {
		if c := count[m]; c < 900 || c > 1100 {
			t.Errorf("member %s owns %d of 3000 keys, want 900..1100 (all: %v)", m, c, count)
		}
	}
}

// TestOwnerDeterministic: the order of members does not matter, and no
// members owns nothing.
func TestOwnerDeterministic(t *testing.T) {
	ms := members(5)
	rev := slices.Clone(ms)
	slices.Reverse(rev)
	for _, k := range keys(500) {
		if a, b := Owner(k, ms), Owner(k, rev); a != b {
			t.Fatalf("key %s: %s in one order, %s in another", k, a, b)
		}
	}
	if got := Owner("a/b", nil); got != "" {
		t.Errorf("no members: owner %q", got)
	}
}
