package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// The end-to-end checks (the real binary, twice, run under podman) are in
// the root module's test/image; these cover the assembly itself, fast.

func testSpec() spec {
	return spec{
		binary:    []byte("#!not a real binary\n"),
		arch:      "amd64",
		epoch:     time.Unix(1767225600, 0).UTC(),
		source:    "https://example.invalid/raypilot",
		version:   "v0.0.0-test",
		revision:  "0123456789abcdef0123456789abcdef01234567",
		reference: "raypilot/raypilot:v0.0.0-test",
	}
}

func TestImageIsReproducible(t *testing.T) {
	dir := t.TempDir()
	var digests, files []string
	for i, tz := range []string{"UTC", "Pacific/Auckland"} {
		t.Setenv("TZ", tz)
		img, err := buildImage(testSpec())
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d.String())
		path := filepath.Join(dir, []string{"a", "b"}[i], "image.tar")
		if err := writeArchive(path, img, testSpec().reference, testSpec().epoch); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, string(data))
	}
	if digests[0] != digests[1] {
		t.Errorf("digests differ: %s, %s", digests[0], digests[1])
	}
	if files[0] != files[1] {
		t.Error("archives differ byte for byte")
	}
	s := testSpec()
	s.epoch = s.epoch.Add(time.Second)
	img, _ := buildImage(s)
	if d, _ := img.Digest(); d.String() == digests[0] {
		t.Error("a different epoch gave the same digest")
	}
}

func TestLayerAndConfig(t *testing.T) {
	img, err := buildImage(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/raypilot" || len(c.Cmd) != 0 {
		t.Errorf("user %q entrypoint %q cmd %q", c.User, c.Entrypoint, c.Cmd)
	}
	if c.Labels[labelRevision] != testSpec().revision || c.Labels[labelVersion] != "v0.0.0-test" || c.Labels[labelSource] == "" {
		t.Errorf("labels %v", c.Labels)
	}
	if !cf.Created.Equal(testSpec().epoch) || cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("created %v os %s arch %s", cf.Created, cf.OS, cf.Architecture)
	}
	layers, _ := img.Layers()
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1", len(layers))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(testSpec().epoch) {
			t.Errorf("%s: owner %d:%d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		data, _ := io.ReadAll(tr)
		switch h.Name {
		case "etc/passwd":
			if !strings.Contains(string(data), "nonroot:x:65532:65532:") {
				t.Errorf("passwd: %s", data)
			}
		case "tmp/":
			if h.Mode != 0o1777 {
				t.Errorf("tmp mode %o", h.Mode)
			}
		case "raypilot":
			if h.Mode != 0o755 || !bytes.Equal(data, testSpec().binary) {
				t.Errorf("raypilot: mode %o, %d bytes", h.Mode, len(data))
			}
		}
	}
	want := "etc/ etc/group etc/nsswitch.conf etc/passwd etc/ssl/ etc/ssl/certs/ etc/ssl/certs/ca-certificates.crt raypilot tmp/"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("layer entries:\n got %s\nwant %s", got, want)
	}
}

func TestCABundle(t *testing.T) {
	rest := caBundlePEM()
	n := 0
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Fatalf("certificate %d: %v", n, err)
		}
		n++
	}
	if n < 100 || len(bytes.TrimSpace(rest)) != 0 {
		t.Errorf("%d certificates, %d bytes left over", n, len(rest))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundlePEM()) {
		t.Error("crypto/x509 takes none of the bundle")
	}
}

// TestPush pushes an archive to an in-memory registry on loopback and reads
// it back by tag.
func TestPush(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	img, err := buildImage(testSpec())
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "image.tar")
	if err := writeArchive(archive, img, testSpec().reference, testSpec().epoch); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"push", "--archive", archive, "--image", host + "/team/raypilot"}, &stdout, &stderr); code != 0 {
		t.Fatalf("push: exit %d: %s", code, stderr.String())
	}
	want, _ := img.Digest()
	if got := strings.TrimSpace(stdout.String()); got != host+"/team/raypilot:v0.0.0-test@"+want.String() {
		t.Errorf("push printed %q", got)
	}
	ref, _ := name.NewTag(host + "/team/raypilot:v0.0.0-test")
	pulled, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Errorf("pulled %s, pushed %s", got, want)
	}
	// A tag in --image is refused: the tag is the archive's.
	stderr.Reset()
	if code := run(context.Background(), []string{"push", "--archive", archive, "--image", host + "/team/raypilot:latest"}, io.Discard, &stderr); code != 2 {
		t.Errorf("push with a tag in --image: exit %d: %s", code, stderr.String())
	}
}

func TestRootfsDir(t *testing.T) {
	dir := t.TempDir()
	es := rootfs([]byte("bin"))
	if err := writeRootfs(dir, es, testSpec().epoch); err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		fi, err := os.Lstat(filepath.Join(dir, e.path))
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(e.mode & 0o777)
		if e.mode&0o1000 != 0 {
			want |= os.ModeSticky
		}
		if fi.Mode().Perm()|fi.Mode()&os.ModeSticky != want || fi.IsDir() != e.dir || !fi.ModTime().Equal(testSpec().epoch) {
			t.Errorf("%s: mode %v dir %v mtime %v", e.path, fi.Mode(), fi.IsDir(), fi.ModTime())
		}
	}
}
