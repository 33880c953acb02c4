package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// The image's user and entrypoint. The Dockerfile states the same ones
// (USER, ENTRYPOINT); the image test checks that both agree.
const (
	uid        = 65532
	userName   = "nonroot"
	user       = "65532:65532"
	entrypoint = "/raypilot"
	caBundle   = "etc/ssl/certs/ca-certificates.crt"
	// defaultPath is the PATH a Docker engine gives an image with none;
	// stated in both builds so the configs agree.
	defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// entry is one file or folder of the image; every one is owned by root
// (uid/gid 0), the user only runs as 65532.
type entry struct {
	path string // relative, no leading or trailing slash
	dir  bool
	mode int64 // permission bits, with the sticky bit for /tmp
	data []byte
}

// rootfs is every entry of the image, sorted by path: the binary, the CA
// bundle, passwd/group/nsswitch.conf, and an empty world-writable /tmp (the
// chart mounts an emptyDir there; with a read-only root file system nothing
// else is writable). No shell, no package manager, nothing else.
func rootfs(binary []byte) []entry {
	es := []entry{
		{path: "etc", dir: true, mode: 0o755},
		{path: "etc/passwd", mode: 0o644, data: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				fmt.Sprintf("%s:x:%d:%d:%s:/nonexistent:/sbin/nologin\n", userName, uid, uid, userName))},
		{path: "etc/group", mode: 0o644, data: []byte(
			"root:x:0:\n" + fmt.Sprintf("%s:x:%d:\n", userName, uid))},
		// Go's resolver reads it: hosts files first, then DNS.
		{path: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{path: "etc/ssl", dir: true, mode: 0o755},
		{path: "etc/ssl/certs", dir: true, mode: 0o755},
		{path: caBundle, mode: 0o644, data: caBundlePEM()},
		{path: strings.TrimPrefix(entrypoint, "/"), mode: 0o755, data: binary},
		{path: "tmp", dir: true, mode: 0o1777},
	}
	sort.Slice(es, func(i, j int) bool { return es[i].path < es[j].path })
	return es
}

// caBundlePEM is Mozilla's trusted roots (NSS) as Go's own
// golang.org/x/crypto/x509roots/fallback module ships them, PEM-encoded in
// the module's order. Taken from a Go module rather than the build
// machine's /etc/ssl/certs: go.sum pins its bytes, so the same commit gives
// the same bundle (and image digest) on every machine, whatever its
// distribution's ca-certificates package says; an update is a reviewed
// go.mod change. Roots that NSS distrusts after a date are left out: a PEM
// file cannot carry that constraint.
func caBundlePEM() []byte {
	var buf bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return buf.Bytes()
}

// layerTar is the image's one layer, uncompressed: entries in path order,
// every header fixed (owner 0:0 with names, the entry's mode, mtime epoch,
// no access or change time, USTAR format), so equal inputs give equal bytes.
func layerTar(es []entry, epoch time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range es {
		h := &tar.Header{
			Name: e.path, Mode: e.mode, ModTime: epoch,
			Uname: "root", Gname: "root", Format: tar.FormatUSTAR,
		}
		if e.dir {
			h.Typeflag, h.Name = tar.TypeDir, e.path+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", e.path, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeRootfs writes the entries under dir with their modes and mtime epoch
// (the Dockerfile copies dir into a scratch image).
func writeRootfs(dir string, es []entry, epoch time.Time) error {
	for _, e := range es {
		p := filepath.Join(dir, filepath.FromSlash(e.path))
		if e.dir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
		} else if err := os.WriteFile(p, e.data, 0o600); err != nil {
			return err
		}
		// Chmod after creation: the umask does not apply, the sticky bit does.
		mode := os.FileMode(e.mode & 0o777)
		if e.mode&0o1000 != 0 {
			mode |= os.ModeSticky
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	// Times last, deepest first, so writing a child does not touch them again.
	for i := len(es) - 1; i >= 0; i-- {
		if err := os.Chtimes(filepath.Join(dir, filepath.FromSlash(es[i].path)), epoch, epoch); err != nil {
			return err
		}
	}
	return nil
}

// runRootfs is `image rootfs`: the image's files in a folder, for the
// Dockerfile's build stage.
func runRootfs(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("rootfs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c commonFlags
	c.register(fs)
	out := fs.String("out", "", "folder to write the image's files into (created; must be empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		return usageError("want --out DIR and no arguments")
	}
	if _, err := c.resolve(); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if ents, err := os.ReadDir(*out); err != nil {
		return err
	} else if len(ents) > 0 {
		return fmt.Errorf("%s is not empty", *out)
	}
	epoch, err := sourceDateEpoch(c.src, stderr)
	if err != nil {
		return err
	}
	bin, err := buildBinary(ctx, c.src, c.version, c.arch, stderr)
	if err != nil {
		return err
	}
	return writeRootfs(*out, rootfs(bin), epoch)
}
