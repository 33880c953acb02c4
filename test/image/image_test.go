// Package image checks raypilot's container image as `make image` builds
// it (hack/image, no container engine): built twice, the same digest; the
// config and the layer's files read with the standard library from the OCI
// archive; the Dockerfile stating the same user, entrypoint, environment and
// labels; the image RUN under podman as non-root with a read-only root
// file system: `raypilot version`, then `raypilot webhook` against a real
// kube-apiserver, answering an admission review over TLS; and the
// Dockerfile built with podman, giving the same files and config.
//
// Building needs only Go. Running needs podman and runc (hack/image/runtime.sh,
// which `make test` calls, installs them) and root; the webhook run also
// needs the control plane binaries ($RAYPILOT_TOOLS_BIN, set by `make test`).
// Each part that lacks its prerequisite skips with a message.
package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/webhook"
)

const (
	wantUser       = "65532:65532"
	wantEntrypoint = "/raypilot"
	caBundlePath   = "etc/ssl/certs/ca-certificates.crt"
)

// built is one `image build`: what it printed and the archive it wrote.
type built struct {
	ref, digest string // REPOSITORY:TAG and sha256:...
	archive     string
	sum         string // sha256 of the archive file
	elapsed     time.Duration
}

func TestImage(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	ctrllog.SetLogger(logr.Discard())
	tmp := t.TempDir()
	tool := buildTool(t, root, tmp)
	src := snapshot(t, root, filepath.Join(tmp, "src"))

	// Twice, from the same sources, in different time zones and umasks and
	// output folders: the image must not depend on any of them.
	a := buildImage(t, tool, src, filepath.Join(tmp, "a", "raypilot-image.tar"), "UTC", 0o022)
	b := buildImage(t, tool, src, filepath.Join(tmp, "b", "raypilot-image.tar"), "Pacific/Auckland", 0o077)
	t.Logf("built %s@%s in %s and %s; archive %d bytes", a.ref, a.digest, a.elapsed.Round(time.Second), b.elapsed.Round(time.Second), fileSize(t, a.archive))
	if a.digest != b.digest || a.ref != b.ref {
		t.Errorf("not reproducible: %s@%s, then %s@%s", a.ref, a.digest, b.ref, b.digest)
	}
	if a.sum != b.sum {
		t.Errorf("archives differ: sha256 %s, then %s", a.sum, b.sum)
	}

	img := readArchive(t, a.archive)
	if img.manifestDigest != a.digest {
		t.Errorf("archive's manifest %s, build printed %s", img.manifestDigest, a.digest)
	}
	t.Run("tag is what the chart pulls", func(t *testing.T) { checkChartReference(t, src.dir, img) })
	t.Run("config", func(t *testing.T) { checkConfig(t, src, img) })
	t.Run("layer", func(t *testing.T) { checkLayer(t, img) })
	t.Run("Dockerfile in sync", func(t *testing.T) { checkDockerfile(t, src.dir, img) })
	t.Run("run", func(t *testing.T) { runImage(t, src, a, img) })
}

// source is a copy of the checkout, taken once, so that both builds read
// the same files while the working tree may change; revision and epoch are
// what the build would take from git there (the copy has no .git).
type source struct {
	dir, revision string
	epoch         int64
}

// snapshot copies the checkout's tracked and untracked files (not ignored
// ones, such as bin/) into dir.
func snapshot(t *testing.T, root, dir string) source {
	t.Helper()
	gitOut := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	s := source{dir: dir, revision: gitOut("rev-parse", "HEAD")}
	if gitOut("status", "--porcelain", "--untracked-files=no") != "" {
		s.revision += "-dirty"
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		epoch = gitOut("log", "-1", "--format=%ct", "HEAD")
	}
	if _, err := fmt.Sscan(epoch, &s.epoch); err != nil {
		t.Fatalf("epoch %q: %v", epoch, err)
	}
	for _, rel := range strings.Split(gitOut("ls-files", "-z", "--cached", "--others", "--exclude-standard"), "\x00") {
		if rel == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, rel))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, rel), data, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// buildTool compiles hack/image (its own module) once.
func buildTool(t *testing.T, root, tmp string) string {
	t.Helper()
	tool := filepath.Join(tmp, "image-tool")
	cmd := exec.Command("go", "build", "-o", tool, ".")
	cmd.Dir = filepath.Join(root, "hack", "image")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build hack/image: %v\n%s", err, out)
	}
	return tool
}

func buildImage(t *testing.T, tool string, src source, out, tz string, umask int) built {
	t.Helper()
	cmd := exec.Command(tool, "build", "--src", src.dir, "--revision", src.revision, "--out", out)
	cmd.Env = append(os.Environ(), "TZ="+tz, fmt.Sprintf("SOURCE_DATE_EPOCH=%d", src.epoch))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	old := syscall.Umask(umask)
	start := time.Now()
	err := cmd.Run()
	syscall.Umask(old)
	if err != nil {
		t.Fatalf("image build: %v\n%s", err, stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	ref, digest, ok := strings.Cut(line, "@")
	if !ok || !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("image build printed %q, want REFERENCE@sha256:...", line)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	return built{ref: ref, digest: digest, archive: out, sum: hex.EncodeToString(sum[:]), elapsed: time.Since(start)}
}

func fileSize(t *testing.T, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// ociImage is the archive's one image, read with the standard library.
type ociImage struct {
	refName        string
	manifestDigest string
	manifest       struct {
		MediaType string `json:"mediaType"`
		Config    struct {
			Digest string `json:"digest"`
		} `json:"config"`
		Layers []struct {
			MediaType string `json:"mediaType"`
			Digest    string `json:"digest"`
		} `json:"layers"`
	}
	config struct {
		Architecture string    `json:"architecture"`
		OS           string    `json:"os"`
		Created      time.Time `json:"created"`
		Config       struct {
			User       string            `json:"User"`
			Entrypoint []string          `json:"Entrypoint"`
			Cmd        []string          `json:"Cmd"`
			Env        []string          `json:"Env"`
			WorkingDir string            `json:"WorkingDir"`
			Labels     map[string]string `json:"Labels"`
		} `json:"config"`
	}
	layer []layerFile
}

type layerFile struct {
	hdr  *tar.Header
	data []byte
}

func readArchive(t *testing.T, path string) *ociImage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	var names []string
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[h.Name] = data
	}
	if !slices.IsSorted(names) {
		t.Errorf("archive entries not sorted: %v", names)
	}
	blob := func(digest string) []byte {
		data, ok := files["blobs/sha256/"+strings.TrimPrefix(digest, "sha256:")]
		if !ok {
			t.Fatalf("blob %s missing", digest)
		}
		sum := sha256.Sum256(data)
		if "sha256:"+hex.EncodeToString(sum[:]) != digest {
			t.Fatalf("blob %s has another digest", digest)
		}
		return data
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil || len(index.Manifests) != 1 {
		t.Fatalf("index.json: %v, %d manifests", err, len(index.Manifests))
	}
	img := &ociImage{manifestDigest: index.Manifests[0].Digest, refName: index.Manifests[0].Annotations["org.opencontainers.image.ref.name"]}
	if err := json.Unmarshal(blob(img.manifestDigest), &img.manifest); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(blob(img.manifest.Config.Digest), &img.config); err != nil {
		t.Fatal(err)
	}
	if len(img.manifest.Layers) != 1 {
		t.Fatalf("%d layers, want 1", len(img.manifest.Layers))
	}
	var layer io.Reader = bytes.NewReader(blob(img.manifest.Layers[0].Digest))
	if strings.HasSuffix(img.manifest.Layers[0].MediaType, "+gzip") {
		zr, err := gzip.NewReader(layer)
		if err != nil {
			t.Fatal(err)
		}
		layer = zr
	}
	lr := tar.NewReader(layer)
	for {
		h, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(lr)
		if err != nil {
			t.Fatal(err)
		}
		img.layer = append(img.layer, layerFile{h, data})
	}
	return img
}

// chart is what the chart says about the image.
type chart struct {
	AppVersion string   `json:"appVersion"`
	Sources    []string `json:"sources"`
	Image      struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"image"`
}

func readChart(t *testing.T, root string) chart {
	t.Helper()
	var c chart
	for _, f := range []string{"Chart.yaml", "values.yaml"} {
		data, err := os.ReadFile(filepath.Join(root, "charts", "raypilot", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
	}
	return c
}

func checkChartReference(t *testing.T, root string, img *ociImage) {
	c := readChart(t, root)
	tag := c.Image.Tag
	if tag == "" {
		tag = c.AppVersion
	}
	if want := c.Image.Repository + ":" + tag; img.refName != want {
		t.Errorf("the archive names the image %q; the chart pulls %q by default", img.refName, want)
	}
}

func checkConfig(t *testing.T, src source, img *ociImage) {
	cfg := img.config.Config
	if cfg.User != wantUser {
		t.Errorf("user %q, want %q", cfg.User, wantUser)
	}
	if !slices.Equal(cfg.Entrypoint, []string{wantEntrypoint}) || len(cfg.Cmd) != 0 {
		t.Errorf("entrypoint %q cmd %q, want [%s] and none", cfg.Entrypoint, cfg.Cmd, wantEntrypoint)
	}
	if img.config.OS != "linux" || img.config.Architecture == "" {
		t.Errorf("platform %s/%s", img.config.OS, img.config.Architecture)
	}
	c := readChart(t, src.dir)
	l := cfg.Labels
	if l["org.opencontainers.image.version"] != c.AppVersion {
		t.Errorf("version label %q, want the chart's appVersion %q", l["org.opencontainers.image.version"], c.AppVersion)
	}
	if len(c.Sources) == 0 || l["org.opencontainers.image.source"] != c.Sources[0] {
		t.Errorf("source label %q, want the chart's source %q", l["org.opencontainers.image.source"], c.Sources)
	}
	if rev := l["org.opencontainers.image.revision"]; rev != src.revision {
		t.Errorf("revision label %q, want %s", rev, src.revision)
	}
	// Every time in the image is the commit's (SOURCE_DATE_EPOCH).
	if img.config.Created.Unix() != src.epoch {
		t.Errorf("created %v, want the commit time %d", img.config.Created, src.epoch)
	}
}

func checkLayer(t *testing.T, img *ociImage) {
	var names []string
	byName := map[string]layerFile{}
	var size int64
	for _, f := range img.layer {
		h := f.hdr
		names = append(names, h.Name)
		byName[strings.TrimSuffix(h.Name, "/")] = f
		size += h.Size
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(img.config.Created) {
			t.Errorf("%s: owner %d:%d, mtime %v (want 0:0, %v)", h.Name, h.Uid, h.Gid, h.ModTime, img.config.Created)
		}
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			t.Errorf("%s: type %q, want plain files and folders only", h.Name, h.Typeflag)
		}
		if strings.HasPrefix(h.Name, "bin/") || strings.HasPrefix(h.Name, "usr/") || strings.HasSuffix(h.Name, "/sh") {
			t.Errorf("%s: no shell or system binaries expected", h.Name)
		}
	}
	t.Logf("layer: %d entries, %.1f MiB uncompressed", len(names), float64(size)/(1<<20))
	if !slices.IsSorted(names) {
		t.Errorf("layer entries not sorted: %v", names)
	}
	if _, ok := byName["bin/sh"]; ok {
		t.Error("/bin/sh is in the layer")
	}
	if f, ok := byName["raypilot"]; !ok || f.hdr.Mode != 0o755 || !bytes.HasPrefix(f.data, []byte("\x7fELF")) {
		t.Error("/raypilot: missing, not mode 0755 or not an ELF binary")
	}
	if f, ok := byName["tmp"]; !ok || f.hdr.Mode != 0o1777 {
		t.Error("/tmp: missing or not mode 1777")
	}
	if f := byName["etc/passwd"]; !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(f.data) {
		t.Errorf("/etc/passwd has no nonroot user 65532: %q", f.data)
	}
	if f := byName["etc/group"]; !regexp.MustCompile(`(?m)^nonroot:x:65532:`).Match(f.data) {
		t.Errorf("/etc/group has no nonroot group 65532: %q", f.data)
	}
	ca, ok := byName[caBundlePath]
	if !ok {
		t.Fatalf("/%s missing", caBundlePath)
	}
	n, rest := 0, ca.data
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if _, err := x509.ParseCertificate(b.Bytes); err != nil {
			t.Errorf("CA bundle certificate %d: %v", n, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle: %d certificates, want a full trust store", n)
	}
}

// checkDockerfile: the Dockerfile builds its files with the same generator
// and states the same user, entrypoint, environment and label keys.
func checkDockerfile(t *testing.T, root string, img *ociImage) {
	data, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	// Instructions, continuation lines joined, comments dropped.
	var lines []string
	for _, l := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, strings.Join(strings.Fields(l), " "))
		}
	}
	final := lines
	for i, l := range lines {
		if strings.HasPrefix(l, "FROM ") {
			final = lines[i:]
		}
	}
	has := func(in []string, want string) bool {
		return slices.ContainsFunc(in, func(l string) bool { return l == want })
	}
	cfg := img.config.Config
	entry, _ := json.Marshal(cfg.Entrypoint)
	for _, want := range []string{
		"FROM scratch",
		"COPY --from=build /rootfs/ /",
		"USER " + cfg.User,
		"ENTRYPOINT " + strings.ReplaceAll(string(entry), ",", ", "),
		"WORKDIR " + cfg.WorkingDir,
	} {
		if !has(final, want) {
			t.Errorf("Dockerfile's final stage lacks %q", want)
		}
	}
	for _, env := range cfg.Env {
		if !has(final, "ENV "+env) {
			t.Errorf("Dockerfile's final stage lacks ENV %s", env)
		}
	}
	label := ""
	for _, l := range final {
		if strings.HasPrefix(l, "LABEL ") {
			label += l
		}
	}
	for k := range cfg.Labels {
		if !strings.Contains(label, k+"=") {
			t.Errorf("Dockerfile sets no label %s", k)
		}
	}
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "go run . rootfs") }) {
		t.Error("the Dockerfile's build stage does not run hack/image's rootfs (the files' one source)")
	}
}

// podman runs podman with a store of its own under dir (vfs: no overlay
// mounts needed), with runc (crun fails on hybrid cgroup hierarchies).
type podman struct {
	t    *testing.T
	args []string
}

func newPodman(t *testing.T) *podman {
	t.Helper()
	for _, bin := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s not found: running the image needs podman and runc (hack/image/runtime.sh installs them; make test calls it)", bin)
		}
	}
	if os.Geteuid() != 0 {
		t.Skip("running the image needs root (podman with a private store and runc)")
	}
	dir, err := os.MkdirTemp("", "raypilot-image-podman-")
	if err != nil {
		t.Fatal(err)
	}
	p := &podman{t: t, args: []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"),
		"--storage-driver", "vfs", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "none"}}
	t.Cleanup(func() {
		_, _ = p.run("rm", "--all", "--force", "--time", "0")
		_, _ = p.run("rmi", "--all", "--force")
		os.RemoveAll(dir)
	})
	return p
}

func (p *podman) run(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", append(slices.Clone(p.args), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

func (p *podman) must(args ...string) string {
	p.t.Helper()
	out, err := p.run(args...)
	if err != nil {
		p.t.Fatal(err)
	}
	return out
}

// logs is what container name wrote, to stdout and stderr (podman logs
// writes each to its own).
func (p *podman) logs(name string) string {
	out, err := exec.Command("podman", append(slices.Clone(p.args), "logs", name)...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("podman logs %s: %v: %s", name, err, out)
	}
	return string(out)
}

// hardened are the run flags of every container here: the image's own user
// (not overridden), a read-only root file system, no privileges to gain,
// no capabilities, and limits podman can set on this kernel.
var hardened = []string{"--read-only", "--read-only-tmpfs=false", "--security-opt", "no-new-privileges",
	"--cap-drop", "ALL", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"}

func runImage(t *testing.T, src source, b built, img *ociImage) {
	root := src.dir
	p := newPodman(t)
	start := time.Now()
	out := p.must("load", "--quiet", "--input", b.archive)
	t.Logf("podman load: %s(%s)", strings.TrimSpace(out), time.Since(start).Round(time.Millisecond))
	// By the config's digest (the image ID): podman qualifies the name.
	id := strings.TrimPrefix(img.manifest.Config.Digest, "sha256:")
	if got := strings.TrimSpace(p.must("image", "inspect", "--format", "{{.Config.User}} {{.Config.Entrypoint}}", id)); got != "65532:65532 [/raypilot]" {
		t.Errorf("podman sees user and entrypoint %q", got)
	}

	t.Run("version", func(t *testing.T) {
		out, err := p.run(append(append([]string{"run", "--rm", "--network", "none"}, hardened...), id, "version")...)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.TrimSpace(out), readChart(t, root).AppVersion; got != want {
			t.Errorf("raypilot version printed %q, want the chart's appVersion %q", got, want)
		}
	})
	t.Run("no shell", func(t *testing.T) {
		_, err := p.run(append(append([]string{"run", "--rm", "--network", "none"}, hardened...), "--entrypoint", "/bin/sh", id, "-c", "true")...)
		if err == nil || !strings.Contains(err.Error(), "no such file") {
			t.Errorf("/bin/sh ran or failed otherwise: %v", err)
		}
	})
	t.Run("webhook", func(t *testing.T) { runWebhook(t, p, id) })
	t.Run("Dockerfile builds the same image", func(t *testing.T) { buildDockerfile(t, p, src, img) })
}

// runWebhook runs `raypilot webhook` in the image against a real
// kube-apiserver (the webhook needs one: it starts informers for compute
// templates before it serves), with its serving certificate mounted read-only,
// and sends it an admission review over TLS.
func runWebhook(t *testing.T, p *podman, id string) {
	bin := os.Getenv("RAYPILOT_TOOLS_BIN")
	if bin == "" {
		t.Skip("RAYPILOT_TOOLS_BIN is not set (make test builds etcd and kube-apiserver and sets it): the webhook needs an API server")
	}
	kuberay, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/ray-project/kuberay/ray-operator").Output()
	if err != nil {
		t.Fatalf("go list -m kuberay: %v", err)
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	env := &envtest.Environment{
		BinaryAssetsDirectory: bin,
		CRDDirectoryPaths: []string{
			filepath.Join(strings.TrimSpace(string(kuberay)), "config", "crd", "bases"),
			filepath.Join(root, "charts", "raypilot", "crds"),
		},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: 90 * time.Second},
	}
	if _, err := env.Start(); err != nil {
		_ = env.Stop()
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	user, err := env.AddUser(envtest.User{Name: "raypilot-webhook", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}

	// Mounted read-only; readable by the image's user only.
	mounts, err := os.MkdirTemp("", "raypilot-image-mounts-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(mounts) })
	bundle, err := certs.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	certDir, kubeDir := filepath.Join(mounts, "certs"), filepath.Join(mounts, "kube")
	if err := bundle.WriteDir(certDir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(kubeDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(kubeDir, "config"), kc, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{certDir, kubeDir} {
		if err := filepath.WalkDir(d, func(path string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Chown(path, 65532, 65532)
		}); err != nil {
			t.Fatal(err)
		}
	}

	// The webhook binds the port numbers it is given; when another process
	// took one after it was chosen, it exits, and runs again on new ports.
	var name string
	var port int
	err = testcp.WithFreePorts(2, func(ports []int) error {
		port = ports[0]
		name = fmt.Sprintf("raypilot-image-test-%d", port)
		return startWebhook(p, id, name, certDir, kubeDir, ports[0], ports[1])
	})
	if err != nil {
		t.Fatalf("webhook in the image: %v", err)
	}
	logs := func() string { return p.logs(name) }

	// The process runs as 65532 (the image's user; no --user given).
	pid := strings.TrimSpace(p.must("inspect", "--format", "{{.State.Pid}}", name))
	status, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^Uid:\s+65532\s+65532\s+65532\s+65532$`).Match(status) {
		t.Errorf("the webhook process does not run as 65532:\n%s", status)
	}
	// The root file system is read-only.
	if out := p.must("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", name); strings.TrimSpace(out) != "true" {
		t.Errorf("ReadonlyRootfs %q", out)
	}

	// TLS with the mounted certificate, verified against its CA, and a
	// review: a compact RayCluster comes back with its head pod filled in.
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(bundle.CACert)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "image-test", Operation: admissionv1.Create, Namespace: "default",
			Kind:     metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: "RayCluster"},
			Resource: metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"},
			Object:   runtime.RawExtension{Raw: []byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"image-test","namespace":"default"},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}`)},
		},
	})
	resp, err := client.Post(fmt.Sprintf("https://127.0.0.1:%d%s", port, webhook.MutatePath), "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("admission review over TLS: %v\nlogs:\n%s", err, logs())
	}
	defer resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.VerifiedChains) == 0 {
		t.Error("TLS not verified against the mounted certificate's CA")
	}
	var review admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&review); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || review.Response == nil || review.Response.UID != "image-test" || !review.Response.Allowed ||
		!strings.Contains(string(review.Response.Patch), "ray-head") {
		t.Fatalf("review: status %d, response %+v", resp.StatusCode, review.Response)
	}

	// SIGTERM: a clean stop.
	p.must("stop", "--time", "30", name)
	if code := strings.TrimSpace(p.must("inspect", "--format", "{{.State.ExitCode}}", name)); code != "0" {
		t.Errorf("webhook exited %s on SIGTERM\nlogs:\n%s", code, logs())
	}
}

// startWebhook runs `raypilot webhook` in the image as container name,
// serving HTTPS on port and probes on health (host network), and waits
// until it is ready. When it is not, the container is removed and the
// error carries its log.
func startWebhook(p *podman, id, name, certDir, kubeDir string, port, health int) error {
	args := append([]string{"run", "--detach", "--name", name, "--network", "host"}, hardened...)
	args = append(args,
		"--volume", certDir+":/certs:ro", "--volume", kubeDir+":/kube:ro",
		id, "webhook", "--kubeconfig", "/kube/config", "--cert-dir", "/certs",
		"--host", "127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--metrics-bind-address", "0", fmt.Sprintf("--health-probe-bind-address=127.0.0.1:%d", health))
	if _, err := p.run(args...); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() {
		out, err := p.run("wait", name)
		if err == nil {
			err = fmt.Errorf("exit code %s", strings.TrimSpace(out))
		}
		exited <- err
	}()
	err := testcp.WaitReady(context.Background(), fmt.Sprintf("http://127.0.0.1:%d/readyz", health), 90*time.Second, exited)
	if err == nil {
		return nil
	}
	logs := p.logs(name)
	_, _ = p.run("rm", "--force", "--time", "0", name)
	return fmt.Errorf("%w\nlogs:\n%s", err, logs)
}

// buildDockerfile builds the Dockerfile with podman (buildah) and compares
// the result with the pure-Go image: the same files with the same bytes,
// modes and owners, and the same user, entrypoint, environment, working
// folder and labels. No golang image can be pulled here, so its build stage
// runs on a stand-in: this machine's /bin/sh with its libraries, and this
// machine's Go, module cache and build cache mounted (the same Go, so even
// the binary must be byte for byte the same).
func buildDockerfile(t *testing.T, p *podman, src source, want *ociImage) {
	sh, err := filepath.EvalSymlinks("/bin/sh")
	if err != nil {
		t.Skipf("no /bin/sh for the stand-in golang image: %v", err)
	}
	ldd, err := exec.Command("ldd", sh).Output()
	if err != nil {
		t.Skipf("ldd %s: %v (the stand-in golang image needs its libraries)", sh, err)
	}
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	base := filepath.Join(t.TempDir(), "base")
	files := map[string]string{"bin/sh": sh, "etc/ssl/certs/ca-certificates.crt": "/etc/ssl/certs/ca-certificates.crt"}
	for _, m := range regexp.MustCompile(`(/\S+\.so[.0-9]*)`).FindAllString(string(ldd), -1) {
		files[strings.TrimPrefix(m, "/")] = m
	}
	for rel, from := range files {
		data, err := os.ReadFile(from)
		if err != nil {
			t.Skipf("stand-in golang image: %v", err)
		}
		if err := os.MkdirAll(filepath.Join(base, filepath.Dir(rel)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, rel), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"tmp", "root/.cache/go-build", "go/pkg/mod", "usr/local/go"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(base, "tmp"), 0o1777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	tarball := filepath.Join(t.TempDir(), "base.tar")
	if out, err := exec.Command("tar", "-C", base, "-cf", tarball, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	const goImage = "localhost/raypilot-image-test-golang:stand-in"
	p.must("import", "--change", "ENV PATH=/usr/local/go/bin:/bin", "--change", "ENV GOPATH=/go",
		"--change", "ENV HOME=/root", "--change", "ENV GOTOOLCHAIN=local", tarball, goImage)

	c := readChart(t, src.dir)
	start := time.Now()
	const built = "localhost/raypilot-image-test-dockerfile:test"
	if _, err := p.run("build", "--isolation", "chroot", "--network", "host",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"--volume", goEnv("GOROOT")+":/usr/local/go:ro",
		"--volume", goEnv("GOMODCACHE")+":/go/pkg/mod",
		"--volume", goEnv("GOCACHE")+":/root/.cache/go-build",
		"--build-arg", "GO_IMAGE="+goImage,
		"--build-arg", "VERSION="+c.AppVersion,
		"--build-arg", "REVISION="+src.revision,
		"--build-arg", fmt.Sprintf("SOURCE_DATE_EPOCH=%d", src.epoch),
		"--tag", built, src.dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("podman build of the Dockerfile: %s", time.Since(start).Round(time.Second))
	archive := filepath.Join(t.TempDir(), "dockerfile.tar")
	p.must("save", "--format", "oci-archive", "--output", archive, built)
	got := readArchive(t, archive)

	gc, wc := got.config.Config, want.config.Config
	delete(gc.Labels, "io.buildah.version")
	if gc.User != wc.User || !slices.Equal(gc.Entrypoint, wc.Entrypoint) || !slices.Equal(gc.Cmd, wc.Cmd) ||
		!slices.Equal(gc.Env, wc.Env) || gc.WorkingDir != wc.WorkingDir || fmt.Sprint(gc.Labels) != fmt.Sprint(wc.Labels) {
		t.Errorf("configs differ:\nDockerfile %+v\nhack/image %+v", gc, wc)
	}
	type file struct {
		typ      byte
		mode     int64
		uid, gid int
		sum      [32]byte
	}
	files2 := func(img *ociImage) map[string]file {
		m := map[string]file{}
		for _, f := range img.layer {
			name := strings.TrimSuffix(strings.TrimPrefix(f.hdr.Name, "./"), "/")
			if name == "" || name == "." {
				continue
			}
			m[name] = file{f.hdr.Typeflag, f.hdr.Mode & 0o7777, f.hdr.Uid, f.hdr.Gid, sha256.Sum256(f.data)}
		}
		return m
	}
	g, w := files2(got), files2(want)
	for name, wf := range w {
		if gf, ok := g[name]; !ok {
			t.Errorf("/%s: in the hack/image image only", name)
		} else if gf != wf {
			t.Errorf("/%s differs: Dockerfile %+v, hack/image %+v", name, gf, wf)
		}
	}
	for name := range g {
		if _, ok := w[name]; !ok {
			t.Errorf("/%s: in the Dockerfile's image only", name)
		}
	}
	if !t.Failed() {
		t.Logf("%d files and folders identical (contents, modes, owners), config identical", len(w))
	}
}
