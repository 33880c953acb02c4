package policyfile

import (
	"context"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Event reasons on the policy ConfigMap, and their action.
const (
	// ReasonRejected (Warning): the file was rejected, the last good policy stays.
	ReasonRejected = "PolicyRejected"
	// ReasonApplied (Normal): a changed policy is in force.
	ReasonApplied = "PolicyApplied"
	// ActionReload is the Events' action.
	ActionReload = "ReloadPolicy"
)

// maxCause bounds the cause quoted in an Event (a note is at most 1 kB).
const maxCause = 700

// EventReporter returns a File.OnReport hook that records each report as an
// Event on ConfigMap cm through rec: Warning PolicyRejected ("<path>:
// <cause>; keeping the policy loaded at <time>") or Normal PolicyApplied.
// reader, when set, looks the ConfigMap up for its UID, so that `kubectl
// describe configmap` lists the Events; without it, or when that fails, the
// Event names the ConfigMap by namespace and name only (`kubectl events
// --for configmap/<name>` still finds it).
func EventReporter(rec events.EventRecorder, cm types.NamespacedName, reader client.Reader, log *zap.Logger) func(Report) {
	return func(r Report) {
		ref := &corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name}
		if reader != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var obj corev1.ConfigMap
			if err := reader.Get(ctx, cm, &obj); err != nil {
				log.Debug("cannot read the policy ConfigMap for its UID; the Event names it without", zap.Stringer("configMap", cm), zap.Error(err))
			} else {
				ref.UID = obj.UID
			}
			cancel()
		}
		switch r.Outcome {
		case Rejected:
			cause := r.Err.Error()
			if len(cause) > maxCause {
				cause = cause[:maxCause] + "..."
			}
			rec.Eventf(ref, nil, corev1.EventTypeWarning, ReasonRejected, ActionReload,
				"%s: %s; keeping the policy loaded at %s", r.Path, cause, r.LoadedAt.UTC().Format(time.RFC3339))
		case Applied:
			rec.Eventf(ref, nil, corev1.EventTypeNormal, ReasonApplied, ActionReload,
				"%s: the changed policy is in force (read unchanged on two consecutive polls)", r.Path)
		}
	}
}
