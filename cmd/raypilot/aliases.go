package main

import (
	"fmt"

	"github.com/spf13/pflag"
)

// deprecatedAlias adds flag old to fs as a hidden alias of the defined flag
// name: both set the same value, and using old prints pflag's deprecation
// warning on stderr. Installs that still pass old keep working.
func deprecatedAlias(fs *pflag.FlagSet, old, name string) {
	f := fs.Lookup(name)
	if f == nil {
		panic(fmt.Sprintf("deprecatedAlias: no flag --%s", name))
	}
	fs.AddFlag(&pflag.Flag{
		Name:        old,
		Usage:       f.Usage,
		Value:       f.Value,
		DefValue:    f.DefValue,
		NoOptDefVal: f.NoOptDefVal,
		Deprecated:  "use --" + name + " instead",
		Hidden:      true,
	})
}
