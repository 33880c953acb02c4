package gcs

import "fmt"

// sprintAll formats v with every verb a log line might use.
func sprintAll(v any) string {
	return fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
}
