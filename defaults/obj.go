package defaults

import "github.com/raypilot/raypilot/internal/jsontree"

// obj is a decoded JSON object, the form every rule edits.
type obj = jsontree.Object
