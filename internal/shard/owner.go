package shard

// Rendezvous (highest-random-weight) hashing: a key belongs to the member
// with the highest score of (member, key). Adding a member moves only the
// keys it now scores highest on; removing one moves only its keys, each to
// its runner-up. Two views that both contain a key's winner agree on it.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// Hash is the 64-bit FNV-1a hash of s, finalised with splitmix64 so that
// keys differing in a few bytes spread over all 64 bits.
func Hash(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// mix is splitmix64's finaliser (Steele, Lea, Flood 2014).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// score of member m (given its Hash) for a key (given its Hash).
func score(member, key uint64) uint64 { return mix(member ^ key) }

// Owner is the member among members that owns key, "" when members is
// empty. Ties (a 2^-64 chance) go to the smaller name, so every replica
// agrees.
func Owner(key string, members []string) string {
	k := Hash(key)
	best, bestScore := "", uint64(0)
	for _, m := range members {
		s := score(Hash(m), k)
		if best == "" || s > bestScore || (s == bestScore && m < best) {
			best, bestScore = m, s
		}
	}
	return best
}
