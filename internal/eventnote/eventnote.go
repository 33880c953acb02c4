// Package eventnote keeps Event notes within what the API server stores.
package eventnote

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// MaxNote is the longest note the API server accepts on an events.k8s.io/v1
// Event (ValidateEventCreate in k8s.io/kubernetes pkg/apis/core/validation/
// events.go: "can have at most 1024 characters"). A longer note makes the
// API server reject the whole Event, which the recorder only logs.
const MaxNote = 1024

// ellipsis marks a note that was cut.
const ellipsis = "…"

// Bounded returns rec with every note cut to MaxNote bytes, on a UTF-8
// boundary and marked with an ellipsis, so that no Event is lost to its
// length: errors quoted in notes (a GCS's answer, a validation message)
// have no bound of their own.
func Bounded(rec events.EventRecorder) events.EventRecorder { return bounded{rec} }

type bounded struct{ events.EventRecorder }

// Eventf implements events.EventRecorder.
func (b bounded) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	b.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", Cut(fmt.Sprintf(note, args...)))
}

// Cut returns note cut to at most MaxNote bytes as Bounded does.
func Cut(note string) string {
	if len(note) <= MaxNote {
		return note
	}
	n := MaxNote - len(ellipsis)
	for n > 0 && !utf8.RuneStart(note[n]) {
		n--
	}
	return note[:n] + ellipsis
}
