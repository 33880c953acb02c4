package defaults

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/internal/jsontree"
)

// hashTemplate is a ComputeTemplate default/name with cpu CPUs.
func hashTemplate(name, cpu string) *Template {
	return TemplateFromComputeTemplate(&v1alpha1.ComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse(cpu), Memory: resource.MustParse("4Gi")},
	})
}

// uncachedHash is the audit hash without a cache.
func uncachedHash(p *Policy, t *Template) string {
	var nilCache *HashCache
	return nilCache.hash(p, t, func() []byte { b, _ := jsontree.Encode(p); return b })
}

// TestHashCache: a cached hash is the hash of the template and policy
// asked for, never of another template's or policy's content, a hit does
// not encode the policy again, and the cache holds no more than its bound.
func TestHashCache(t *testing.T) {
	c := NewHashCache(3)
	p1, p2 := DefaultPolicy(), DefaultPolicy()
	p2.Limits.MaxReplicasPerGroup++
	small, large, smallAgain := hashTemplate("t", "2"), hashTemplate("t", "8"), hashTemplate("t", "2")
	encodes := 0
	get := func(p *Policy, tpl *Template) string {
		return c.hash(p, tpl, func() []byte { encodes++; b, _ := jsontree.Encode(p); return b })
	}
	for _, tc := range []struct {
		name    string
		p       *Policy
		tpl     *Template
		encodes int
	}{
		{"first", p1, small, 1},
		{"same content, another pointer", p1, smallAgain, 1},
		{"another template content", p1, large, 2},
		{"another policy", p2, small, 3},
		{"no template", p1, nil, 4},
		{"hit after the others", p1, nil, 4},
	} {
		if got, want := get(tc.p, tc.tpl), uncachedHash(tc.p, tc.tpl); got != want {
			t.Errorf("%s: hash %s, want %s", tc.name, got, want)
		}
		if encodes != tc.encodes {
			t.Errorf("%s: policy encoded %d times so far, want %d", tc.name, encodes, tc.encodes)
		}
	}
	if uncachedHash(p1, small) == uncachedHash(p1, large) || uncachedHash(p1, small) == uncachedHash(p2, small) {
		t.Fatal("different templates or policies hash alike: the test proves nothing")
	}
	if n := c.Len(); n != 3 {
		t.Errorf("cache holds %d hashes, want its bound 3", n)
	}
}
