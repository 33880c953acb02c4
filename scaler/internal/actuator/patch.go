package actuator

import (
	"encoding/json"
	"fmt"
	"slices"
)

// GroupChange is the new scaling state of one worker group.
type GroupChange struct {
	// Index is the group's position in spec.workerGroupSpecs and Name its
	// groupName there (checked by a test op).
	Index int
	Name  string
	// Replicas, when set, is the new spec replicas.
	Replicas *int32
	// WorkersToDelete, when set, replaces scaleStrategy.workersToDelete
	// (an empty, non-nil slice clears it).
	WorkersToDelete []string
}

type op struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

// Patch builds one JSON patch for changes: a test of the object's
// resourceVersion (no decision is made on stale state), a test of each
// group's name at its index (the list may have been reordered), then
// replace ops for replicas and scaleStrategy.workersToDelete. It returns
// nil when there is nothing to change.
func Patch(resourceVersion string, changes []GroupChange) ([]byte, error) {
	ops := []op{{Op: "test", Path: "/metadata/resourceVersion", Value: resourceVersion}}
	for _, c := range changes {
		if c.Replicas == nil && c.WorkersToDelete == nil {
			continue
		}
		base := fmt.Sprintf("/spec/workerGroupSpecs/%d", c.Index)
		ops = append(ops, op{Op: "test", Path: base + "/groupName", Value: c.Name})
		if c.Replicas != nil {
			// replicas is always present: the CRD defaults it to 0.
			ops = append(ops, op{Op: "replace", Path: base + "/replicas", Value: *c.Replicas})
		}
		if c.WorkersToDelete != nil {
			// "add" on an object member replaces it, and also works when
			// scaleStrategy is absent, which "replace" would refuse.
			ops = append(ops, op{Op: "add", Path: base + "/scaleStrategy", Value: map[string]any{"workersToDelete": sorted(c.WorkersToDelete)}})
		}
	}
	if len(ops) == 1 {
		return nil, nil
	}
	return json.Marshal(ops)
}

func sorted(names []string) []string {
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
