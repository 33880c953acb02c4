package defaults

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/internal/jsontree"
)

// volumeCacheCluster has cluster volumes, a group overriding one of them
// by name and a group with volumes of its own.
const volumeCacheCluster = `
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: cached
  annotations:
    ray.io/compute-template: small
    raypilot.io/volumes: |
      - {name: code, mountPath: /code, volumeType: CONFIGMAP, source: code, items: {b: b.txt, a: a.txt}}
      - {name: scratch, mountPath: /scratch, volumeType: EMPTY_DIR, storage: 1Gi}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - groupName: a
    maxReplicas: 2
    template:
      metadata:
        annotations:
          raypilot.io/volumes: "[{name: code, mountPath: /other, volumeType: SECRET, source: s, readOnly: true}]"
  - groupName: b
    maxReplicas: 2
    template:
      metadata:
        annotations:
          raypilot.io/volumes: "[{name: data, mountPath: /data, volumeType: EPHEMERAL, storage: 10Gi, storageClassName: fast}]"
`

func volumeCacheInput(t *testing.T, doc string, cache *VolumeCache) Input {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	set := &TemplateSet{}
	set.AddComputeTemplate(&v1alpha1.ComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "small", Namespace: "default"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("1"), Memory: resource.MustParse("2Gi")},
	})
	return Input{Object: js, Namespace: "default", Templates: set, Output: OutputPatch, Volumes: cache}
}

// With a cache, the first expansion (misses) and the next ones (hits)
// give what an expansion without one gives, patch, errors and warnings.
func TestVolumeCacheExpandsAlike(t *testing.T) {
	bad := strings.Replace(volumeCacheCluster, "storage: 10Gi,", "storage: lots,", 1)
	for name, doc := range map[string]string{"valid": volumeCacheCluster, "invalid": bad} {
		t.Run(name, func(t *testing.T) {
			want := Expand(volumeCacheInput(t, doc, nil))
			cache := NewVolumeCache(16, 1<<20)
			for i := range 3 {
				got := Expand(volumeCacheInput(t, doc, cache))
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("expansion %d with the cache:\n%+v\nwithout:\n%+v", i, got, want)
				}
			}
			// The three valid texts are kept; a text with errors is not.
			wantLen := 3
			if name == "invalid" {
				wantLen = 2
			}
			if cache.Len() != wantLen {
				t.Errorf("cache holds %d annotations, want %d", cache.Len(), wantLen)
			}
			// The expansions wrote nothing into what the cache holds.
			for el := cache.order.Front(); el != nil; el = el.Next() {
				e := el.Value.(*volumeEntry)
				for i, v := range e.vols {
					for k, want := range []any{jsontree.FromTyped(v.PodVolume()), jsontree.FromTyped(v.Mount())} {
						if !jsontree.Equal(e.json[i][k], want) {
							t.Errorf("cached JSON of volume %s changed: %v", v.Name, e.json[i][k])
						}
					}
				}
			}
		})
	}
}

// A text in the cache is not parsed again: what the cache holds for it is
// what the expansion uses.
func TestVolumeCacheHitIsNotParsed(t *testing.T) {
	doc := `
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: hit
  annotations: {raypilot.io/volumes: "not: [a list"}
spec:
  headGroupSpec: {template: {spec: {containers: [{name: ray-head, image: ray}]}}}
`
	cache := NewVolumeCache(16, 1<<20)
	cache.put("not: [a list", []CompactVolume{{Name: "from-cache", MountPath: "/c", VolumeType: VolumeEmptyDir}})
	res := Expand(volumeCacheInput(t, doc, cache))
	if len(res.Errors) > 0 {
		t.Fatalf("the text was parsed: %v", res.Errors)
	}
	if !strings.Contains(string(res.Patch), `"from-cache"`) {
		t.Fatalf("the cached volume is not in the patch: %s", res.Patch)
	}
}

// The cache keeps at most its entries and bytes, dropping the least
// recently used first, and never keeps a text larger than its bytes.
func TestVolumeCacheBounds(t *testing.T) {
	vols := []CompactVolume{{Name: "v", MountPath: "/v", VolumeType: VolumeEmptyDir}}
	text := func(i int) string { return fmt.Sprintf("- {name: v, mountPath: /v, volumeType: EMPTY_DIR} # %03d", i) }
	size := volumeEntryCost * len(text(0))

	c := NewVolumeCache(3, 1<<20)
	for i := range 3 {
		c.put(text(i), vols)
	}
	c.get(text(0)) // 0 is now the most recently used: 1 goes first
	c.put(text(3), vols)
	if c.Len() != 3 || c.Bytes() != 3*size {
		t.Fatalf("%d entries of %d bytes, want 3 of %d", c.Len(), c.Bytes(), 3*size)
	}
	for i, want := range []bool{true, false, true, true} {
		if got := c.get(text(i)) != nil; got != want {
			t.Errorf("entry %d held: %v, want %v", i, got, want)
		}
	}

	c = NewVolumeCache(100, 2*size)
	for i := range 5 {
		c.put(text(i), vols)
	}
	if c.Len() != 2 || c.Bytes() != 2*size {
		t.Fatalf("%d entries of %d bytes, want 2 of %d", c.Len(), c.Bytes(), 2*size)
	}
	if c.get(text(4)) == nil || c.get(text(3)) == nil {
		t.Error("the most recent entries were dropped")
	}

	c = NewVolumeCache(100, size-1)
	if e := c.put(text(0), vols); e == nil || len(e.json) != 1 {
		t.Fatalf("an entry too large to keep is still returned, got %+v", e)
	}
	if c.Len() != 0 || c.Bytes() != 0 {
		t.Fatalf("a text larger than the cache was kept: %d entries, %d bytes", c.Len(), c.Bytes())
	}
	if NewVolumeCache(0, 1) != nil || NewVolumeCache(1, 0) != nil {
		t.Error("a cache of no size is not nil")
	}
}
