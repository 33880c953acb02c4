package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

// exitError is how a command's RunE asks for an exit code other than 0.
// Errors cobra returns itself (unknown commands and flags, bad flag
// values, missing required flags) are usage errors.
type exitError struct {
	code int
	// err is printed as one line after the command's path; nil when the
	// command has printed what went wrong itself.
	err error
	// hint adds a line pointing at the command's --help.
	hint bool
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// usageError is a command line the command cannot run: exit 2 with a hint.
func usageError(err error) error { return &exitError{code: 2, err: err, hint: true} }

// usageErrorf is usageError of a formatted message.
func usageErrorf(format string, args ...any) error {
	return usageError(fmt.Errorf(format, args...))
}

// failure is work that failed: exit 1 with err as one line.
func failure(err error) error { return &exitError{code: 1, err: err} }

// exitWith is exit code code, with err (if not nil) as one line and no hint.
func exitWith(code int, err error) error { return &exitError{code: code, err: err} }

// report prints err of cmd on stderr as `raypilot SUBCOMMAND: ERROR`, with
// a hint on a second line for usage errors, and returns the exit code.
func report(cmd *cobra.Command, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{code: 2, err: err, hint: true}
	}
	path := "raypilot"
	if cmd != nil {
		path = cmd.CommandPath()
	}
	if e.err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", path, e.err)
	}
	if e.hint {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", path)
	}
	return e.code
}
