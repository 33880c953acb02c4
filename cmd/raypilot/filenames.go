package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/spf13/pflag"

	"github.com/raypilot/raypilot/manifest"
)

// filenameFlags are kubectl's -f/--filename and -R/--recursive: files,
// "-" for stdin, and directories, whose *.yaml, *.yml and *.json files are
// read in lexical order (with -R, those of subdirectories too).
type filenameFlags struct {
	filenames []string
	recursive bool
}

// addTo defines the flags on fs; what says what the files hold.
func (f *filenameFlags) addTo(fs *pflag.FlagSet, what string) {
	fs.StringArrayVarP(&f.filenames, "filename", "f", nil, what+" (repeatable; - is stdin; a directory: its .yaml, .yml and .json files)")
	fs.BoolVarP(&f.recursive, "recursive", "R", false, "read the directories of -f recursively")
}

// paths are the files the flags name, directories expanded.
func (f *filenameFlags) paths() ([]string, error) {
	var out []string
	for _, name := range f.filenames {
		if name == "-" {
			out = append(out, name)
			continue
		}
		info, err := os.Stat(name)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, name)
			continue
		}
		files, err := manifestFiles(name, f.recursive)
		if err != nil {
			return nil, err
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no .yaml, .yml or .json files", name)
		}
		out = append(out, files...)
	}
	return out, nil
}

// manifestFiles are the *.yaml, *.yml and *.json files of dir, in lexical
// order, and those of its subdirectories when recursive.
func manifestFiles(dir string, recursive bool) ([]string, error) {
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != dir && !recursive {
				return filepath.SkipDir
			}
			return nil
		}
		if slices.Contains([]string{".yaml", ".yml", ".json"}, filepath.Ext(path)) {
			out = append(out, path)
		}
		return nil
	})
	return out, err
}

// readDocuments reads the documents of path ("-": stdin).
func readDocuments(path string, stdin io.Reader) ([]manifest.Document, error) {
	if path == "-" {
		return manifest.Read(stdin, "<stdin>")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return manifest.Read(f, path)
}
