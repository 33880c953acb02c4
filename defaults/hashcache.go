package defaults

import (
	"container/list"
	"sync"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// HashCache remembers audit hashes (AnnotationExpanded) by policy and
// template content, so that an expansion encodes neither the policy nor
// the hash input again for a template and policy it has seen: the same few
// templates under one policy make every hash of a webhook's life. A policy
// is keyed by its pointer: a loaded policy is never changed, a reload makes
// a new one (internal/policyfile), and an entry keeps its policy alive, so
// a pointer is never reused while it is a key. It holds at most maxEntries
// entries, dropping the least recently used first. Safe for concurrent
// use; the nil *HashCache caches nothing.
type HashCache struct {
	maxEntries int

	mu    sync.Mutex
	order *list.List // of *hashEntry, most recently used first
	byKey map[hashKey]*list.Element
}

// hashKey is a policy and a template's JSON (empty: no template).
type hashKey struct {
	policy   *Policy
	template string
}

type hashEntry struct {
	key  hashKey
	hash string
}

// NewHashCache returns a cache of at most maxEntries hashes; 0 or less
// returns nil, which caches nothing.
func NewHashCache(maxEntries int) *HashCache {
	if maxEntries <= 0 {
		return nil
	}
	return &HashCache{maxEntries: maxEntries, order: list.New(), byKey: map[hashKey]*list.Element{}}
}

// Len is the number of hashes held.
func (c *HashCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// hash is contentHash of t under p, from the cache when it holds it;
// policyJSON encodes p, called only on a miss.
func (c *HashCache) hash(p *Policy, t *Template, policyJSON func() []byte) string {
	var tpl []byte
	if t != nil {
		tpl, _ = jsontree.Encode(t)
	}
	if c == nil {
		return contentHash(tpl, policyJSON())
	}
	key := hashKey{policy: p, template: string(tpl)}
	c.mu.Lock()
	if el, ok := c.byKey[key]; ok {
		c.order.MoveToFront(el)
		h := el.Value.(*hashEntry).hash
		c.mu.Unlock()
		return h
	}
	c.mu.Unlock()
	h := contentHash(tpl, policyJSON())
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[key]; !ok {
		c.byKey[key] = c.order.PushFront(&hashEntry{key: key, hash: h})
		for c.order.Len() > c.maxEntries {
			last := c.order.Back()
			c.order.Remove(last)
			delete(c.byKey, last.Value.(*hashEntry).key)
		}
	}
	return h
}
