package defaults

import (
	"container/list"
	"crypto/sha256"
	"sync"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/raypilot/raypilot/internal/jsontree"
)

// VolumeCache remembers raypilot.io/volumes annotations that parsed
// without errors, by a hash of their text, with the JSON form of each pod
// volume and mount: parsing the YAML is the largest cost of a typical
// admission, and the same few annotations come back on every update of an
// object and on every object created from one manifest. It holds at most
// maxEntries entries and about maxBytes bytes (eight times each text, for
// the parsed form), dropping the least recently used first. Safe for
// concurrent use; the nil *VolumeCache caches nothing.
type VolumeCache struct {
	maxEntries, maxBytes int

	mu    sync.Mutex
	bytes int
	order *list.List // of *volumeEntry, most recently used first
	byKey map[[sha256.Size]byte]*list.Element
}

// volumeEntry is one parsed annotation. Everything in it is shared by the
// expansions that use it, so nothing may write to it: applyVolumes copies
// the JSON forms before inserting them.
type volumeEntry struct {
	key  [sha256.Size]byte
	size int
	vols []CompactVolume
	json [][2]any // pod volume and mount of vols[i]
}

// volumeEntryCost is what an entry is counted as per byte of its text:
// the parsed volumes and their JSON trees take several times the text.
const volumeEntryCost = 8

// NewVolumeCache returns a cache of at most maxEntries annotations and
// about maxBytes bytes; a bound of 0 or less returns nil, which caches
// nothing.
func NewVolumeCache(maxEntries, maxBytes int) *VolumeCache {
	if maxEntries <= 0 || maxBytes <= 0 {
		return nil
	}
	return &VolumeCache{maxEntries: maxEntries, maxBytes: maxBytes, order: list.New(), byKey: map[[sha256.Size]byte]*list.Element{}}
}

// Len is the number of annotations held.
func (c *VolumeCache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Bytes is what the annotations held are counted as.
func (c *VolumeCache) Bytes() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// get returns the entry for text, or nil.
func (c *VolumeCache) get(text string) *volumeEntry {
	if c == nil {
		return nil
	}
	key := sha256.Sum256([]byte(text))
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	return el.Value.(*volumeEntry)
}

// put parses nothing: it records vols, the error-free parse of text, and
// returns the entry (also when it is too large to keep).
func (c *VolumeCache) put(text string, vols []CompactVolume) *volumeEntry {
	e := &volumeEntry{vols: vols, json: make([][2]any, len(vols)), size: volumeEntryCost * len(text)}
	for i := range vols {
		e.json[i] = [2]any{jsontree.FromTyped(vols[i].PodVolume()), jsontree.FromTyped(vols[i].Mount())}
	}
	if e.size > c.maxBytes {
		return e
	}
	e.key = sha256.Sum256([]byte(text))
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[e.key]; ok { // parsed concurrently: keep the first
		c.order.MoveToFront(el)
		return el.Value.(*volumeEntry)
	}
	c.byKey[e.key] = c.order.PushFront(e)
	c.bytes += e.size
	for c.order.Len() > c.maxEntries || c.bytes > c.maxBytes {
		old := c.order.Remove(c.order.Back()).(*volumeEntry)
		delete(c.byKey, old.key)
		c.bytes -= old.size
	}
	return e
}

// parseVolumesCached is ParseVolumes through in.Volumes: a text parsed
// before without errors is not parsed again, and its volumes come with
// their JSON forms (c.cachedVolumeJSON). Errors name fld, so a text with errors
// is parsed each time.
func (c *clusterExpansion) parseVolumesCached(text string, fld *field.Path) ([]CompactVolume, field.ErrorList) {
	cache := c.in.Volumes
	if cache == nil {
		return ParseVolumes(text, fld)
	}
	e := cache.get(text)
	if e == nil {
		vols, errs := ParseVolumes(text, fld)
		if len(errs) > 0 || len(vols) == 0 {
			return vols, errs
		}
		e = cache.put(text, vols)
	}
	for i := range e.vols {
		c.cachedVolumeJSON[&e.vols[i]] = e.json[i]
	}
	return e.vols, nil
}
