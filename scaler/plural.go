package scaler

import "fmt"

// plural counts what, a noun with a regular plural, for Event texts: "1
// shape", "2 shapes".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
