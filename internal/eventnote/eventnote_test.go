package eventnote

import (
	"strings"
	"testing"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
)

func TestCut(t *testing.T) {
	for _, in := range []string{"", "short", strings.Repeat("a", MaxNote), strings.Repeat("a", MaxNote+1),
		strings.Repeat("é", MaxNote), strings.Repeat("a", 3) + strings.Repeat("€", 2000)} {
		got := Cut(in)
		if len(got) > MaxNote || !utf8.ValidString(got) {
			t.Errorf("Cut(%d bytes) = %d bytes, valid UTF-8 %v", len(in), len(got), utf8.ValidString(got))
		}
		if len(in) <= MaxNote && got != in {
			t.Errorf("a note within the limit was changed")
		}
		if len(in) > MaxNote && !strings.HasSuffix(got, ellipsis) {
			t.Errorf("a cut note is not marked")
		}
	}
}

func TestBoundedRecorder(t *testing.T) {
	fake := events.NewFakeRecorder(1)
	Bounded(fake).Eventf(&corev1.Pod{}, nil, corev1.EventTypeWarning, "R", "A", "%s: %s", "x", strings.Repeat("y", 5000))
	e := <-fake.Events
	if len(e) > MaxNote+len("Warning R ") || !strings.HasPrefix(e, "Warning R x: yyy") {
		t.Errorf("event of %d bytes: %.60q", len(e), e)
	}
	// A note with a literal % is passed through, not re-formatted.
	Bounded(fake).Eventf(&corev1.Pod{}, nil, corev1.EventTypeNormal, "R", "A", "%s", "100%d")
	if e := <-fake.Events; e != "Normal R 100%d" {
		t.Errorf("got %q", e)
	}
}
