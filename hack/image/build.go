package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// OCI label keys the image carries (the Dockerfile sets the same ones).
const (
	labelSource   = "org.opencontainers.image.source"
	labelVersion  = "org.opencontainers.image.version"
	labelRevision = "org.opencontainers.image.revision"
	// refNameAnnotation names the image in an OCI layout's index.json;
	// `podman load` and skopeo tag the loaded image with it.
	refNameAnnotation = "org.opencontainers.image.ref.name"
)

// spec is everything an image is made from.
type spec struct {
	binary    []byte
	arch      string
	epoch     time.Time
	source    string // labelSource
	version   string // labelVersion
	revision  string // labelRevision; empty: no label
	reference string // REPOSITORY:TAG for refNameAnnotation
}

func (s spec) labels() map[string]string {
	l := map[string]string{labelVersion: s.version}
	if s.source != "" {
		l[labelSource] = s.source
	}
	if s.revision != "" {
		l[labelRevision] = s.revision
	}
	return l
}

// buildImage assembles the image: one gzip layer (rootfs, layerTar), an OCI
// manifest and config with every time set to the epoch.
func buildImage(s spec) (v1.Image, error) {
	raw, err := layerTar(rootfs(s.binary), s.epoch)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(raw)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: s.epoch}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "hack/image build",
			Comment:   "raypilot, CA bundle, passwd and group (user " + user + ")",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS, cf.Created = s.arch, "linux", created
	cf.Config = v1.Config{
		User:       user,
		Entrypoint: []string{entrypoint},
		Env:        []string{defaultPath},
		WorkingDir: "/",
		Labels:     s.labels(),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	// The labels also as manifest annotations, which registries show.
	return mutate.Annotations(img, s.labels()).(v1.Image), nil
}

// writeArchive writes img as an OCI image layout in a tar file (what
// `podman load -i` and skopeo's oci-archive: transport read), named
// reference; entries sorted, headers fixed, so the file is reproducible too.
func writeArchive(path string, img v1.Image, reference string, epoch time.Time) error {
	tmp, err := os.MkdirTemp("", "raypilot-image-layout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return err
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: reference})); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".raypilot-image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := tarDir(f, tmp, epoch); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// tarDir writes the tree under dir to w in path order with fixed headers.
func tarDir(w io.Writer, dir string, epoch time.Time) error {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(paths)
	tw := tar.NewWriter(w)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: epoch, Format: tar.FormatUSTAR}
		switch {
		case fi.IsDir():
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", 0o755
		case fi.Mode().IsRegular():
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, fi.Size()
		default:
			return fmt.Errorf("%s: not a file or folder", p)
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if h.Typeflag == tar.TypeReg {
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return err
			}
		}
	}
	return tw.Close()
}

// runBuild is `image build`.
func runBuild(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	out := fs.String("out", "", "OCI image archive to write (default: <src>/bin/raypilot-image.tar)")
	repo := fs.String("repository", "", "repository the archive names the image with, tagged --version (default: the chart's image.repository)")
	rev := fs.String("revision", "", "the revision label (default: the checkout's commit, with -dirty when tracked files differ from it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("no arguments expected")
	}
	start := time.Now()
	chart, err := c.resolve()
	if err != nil {
		return err
	}
	if *repo == "" {
		if *repo, err = chartRepository(c.src); err != nil {
			return err
		}
	}
	if *out == "" {
		*out = filepath.Join(c.src, "bin", "raypilot-image.tar")
	}
	epoch, err := sourceDateEpoch(c.src, stderr)
	if err != nil {
		return err
	}
	if *rev == "" {
		*rev = revision(c.src)
	}
	s := spec{arch: c.arch, epoch: epoch, version: c.version, revision: *rev, reference: *repo + ":" + c.version}
	if len(chart.Sources) > 0 {
		s.source = chart.Sources[0]
	}
	if s.binary, err = buildBinary(ctx, c.src, c.version, c.arch, stderr); err != nil {
		return err
	}
	img, err := buildImage(s)
	if err != nil {
		return err
	}
	if err := writeArchive(*out, img, s.reference, epoch); err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	layers, _ := img.Layers()
	var compressed int64
	for _, l := range layers {
		n, _ := l.Size()
		compressed += n
	}
	fmt.Fprintf(stderr, "image: %s (linux/%s, revision %s, created %s)\n  %s: OCI image archive, layer %.1f MiB compressed, binary %.1f MiB; built in %s\n  load it with: podman load -i %s\n",
		s.reference, s.arch, orNone(s.revision), epoch.Format(time.RFC3339), *out,
		float64(compressed)/(1<<20), float64(len(s.binary))/(1<<20), time.Since(start).Round(100*time.Millisecond), *out)
	if strings.HasSuffix(s.revision, "-dirty") {
		fmt.Fprintln(stderr, "  the checkout has uncommitted changes: this image is not its commit's")
	}
	fmt.Fprintf(stdout, "%s@%s\n", s.reference, digest)
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
