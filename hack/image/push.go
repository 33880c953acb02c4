package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// readArchive opens an OCI image archive written by writeArchive: its one
// image and the tag of its reference name. The image's blobs are read from
// a temporary folder until done is called.
func readArchive(path string) (img v1.Image, tag string, done func(), err error) {
	tmp, err := os.MkdirTemp("", "raypilot-image-push-")
	if err != nil {
		return nil, "", nil, err
	}
	done = func() { os.RemoveAll(tmp) }
	img, tag, err = readLayout(path, tmp)
	if err != nil {
		done()
		return nil, "", nil, err
	}
	return img, tag, done, nil
}

func readLayout(path, tmp string) (v1.Image, string, error) {
	if err := untar(path, tmp); err != nil {
		return nil, "", err
	}
	ii, err := layout.ImageIndexFromPath(tmp)
	if err != nil {
		return nil, "", fmt.Errorf("%s: not an OCI image archive: %w", path, err)
	}
	im, err := ii.IndexManifest()
	if err != nil {
		return nil, "", err
	}
	if len(im.Manifests) != 1 {
		return nil, "", fmt.Errorf("%s holds %d images, want 1", path, len(im.Manifests))
	}
	desc := im.Manifests[0]
	img, err := ii.Image(desc.Digest)
	if err != nil {
		return nil, "", err
	}
	tag := desc.Annotations[refNameAnnotation]
	if i := strings.LastIndex(tag, ":"); i >= 0 && !strings.Contains(tag[i:], "/") {
		tag = tag[i+1:]
	}
	return img, tag, nil
}

// untar extracts a tar of plain files and folders (writeArchive's) into dir.
func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			return fmt.Errorf("%s: entry %q leaves the archive", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			out, err := os.Create(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: entry %q is neither a file nor a folder", path, h.Name)
		}
	}
}

// runPush is `image push`: the archive's image to REPOSITORY:TAG, with the
// credentials `docker login` or `podman login` stored.
func runPush(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	archive := fs.String("archive", "", "OCI image archive from `image build` (default: <git checkout>/bin/raypilot-image.tar)")
	image := fs.String("image", "", "REGISTRY/REPOSITORY to push to, without a tag (e.g. registry.example/raypilot)")
	tag := fs.String("tag", "", "tag to push (default: the archive's, which is the chart's appVersion)")
	insecure := fs.Bool("insecure", false, "plain HTTP (a registry on localhost or 127.0.0.1 is reached so anyway)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *image == "" || fs.NArg() > 0 {
		return usageError("want --image REGISTRY/REPOSITORY and no arguments")
	}
	var opts []name.Option
	if *insecure {
		opts = append(opts, name.Insecure)
	}
	repo, err := name.NewRepository(*image, opts...)
	if err != nil {
		return usageError(fmt.Sprintf("--image %q: %v (give REGISTRY/REPOSITORY, no tag or digest: the tag is the archive's)", *image, err))
	}
	if *archive == "" {
		src, err := sourceDir("")
		if err != nil {
			return err
		}
		*archive = filepath.Join(src, "bin", "raypilot-image.tar")
	}
	img, archiveTag, done, err := readArchive(*archive)
	if err != nil {
		return err
	}
	defer done()
	if *tag == "" {
		*tag = archiveTag
	}
	if *tag == "" {
		return usageError(*archive + " names no tag: give --tag")
	}
	ref := repo.Tag(*tag)
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain),
		remote.WithUserAgent("raypilot-image")); err != nil {
		return fmt.Errorf("push %s: %w", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s@%s\n", ref.Name(), digest)
	return nil
}
