package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// chartPath and valuesPath are where the chart says which image it pulls by
// default: image.repository (values.yaml) tagged with appVersion (Chart.yaml).
const (
	chartPath  = "charts/raypilot/Chart.yaml"
	valuesPath = "charts/raypilot/values.yaml"
)

// chartInfo is what the image takes from the chart.
type chartInfo struct {
	AppVersion string   `json:"appVersion"`
	Sources    []string `json:"sources"`
}

func readChart(src string) (chartInfo, error) {
	var c chartInfo
	data, err := os.ReadFile(filepath.Join(src, chartPath))
	if err != nil {
		return c, err
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%s: %w", chartPath, err)
	}
	if c.AppVersion == "" {
		return c, fmt.Errorf("%s has no appVersion", chartPath)
	}
	return c, nil
}

// chartRepository is values.yaml's image.repository.
func chartRepository(src string) (string, error) {
	data, err := os.ReadFile(filepath.Join(src, valuesPath))
	if err != nil {
		return "", err
	}
	var v struct {
		Image struct {
			Repository string `json:"repository"`
		} `json:"image"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		return "", fmt.Errorf("%s: %w", valuesPath, err)
	}
	if v.Image.Repository == "" {
		return "", fmt.Errorf("%s has no image.repository", valuesPath)
	}
	return v.Image.Repository, nil
}

// sourceDir is --src, or the top of the git checkout holding the working
// directory.
func sourceDir(flagValue string) (string, error) {
	if flagValue != "" {
		return filepath.Abs(flagValue)
	}
	out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return "", usageError("--src not given and not inside a git checkout")
	}
	return strings.TrimSpace(string(out)), nil
}

// revision is the checked-out commit, with "-dirty" when tracked files
// differ from it (the image is then not that commit's); empty outside git.
func revision(src string) string {
	out, err := git(src, "rev-parse", "HEAD")
	if err != nil {
		return ""
	}
	rev := strings.TrimSpace(out)
	if st, err := git(src, "status", "--porcelain", "--untracked-files=no"); err == nil && strings.TrimSpace(st) != "" {
		rev += "-dirty"
	}
	return rev
}

// sourceDateEpoch is $SOURCE_DATE_EPOCH, else the commit time of HEAD, else
// the Unix epoch: every timestamp in the image is this one.
func sourceDateEpoch(src string, stderr io.Writer) (time.Time, error) {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return time.Time{}, usageError(fmt.Sprintf("SOURCE_DATE_EPOCH=%q is not a number of seconds", s))
		}
		return time.Unix(n, 0).UTC(), nil
	}
	out, err := git(src, "log", "-1", "--format=%ct", "HEAD")
	if err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64); err == nil {
			return time.Unix(n, 0).UTC(), nil
		}
	}
	fmt.Fprintln(stderr, "image: no SOURCE_DATE_EPOCH and no git commit time: timestamps are 1970-01-01")
	return time.Unix(0, 0).UTC(), nil
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.String(), err
}

// goBuildFlags are the flags both this builder and the Dockerfile compile
// raypilot with: static (CGO_ENABLED=0), no local paths (-trimpath), no
// build ID nor VCS stamp (the binary depends on the sources and the Go
// version only; the revision is an image label), no symbol tables.
func goBuildFlags(version string) []string {
	return []string{"build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -buildid= -X main.version=" + version,
		"-o"}
}

// buildBinary compiles ./cmd/raypilot of src for linux/arch and returns it.
func buildBinary(ctx context.Context, src, version, arch string, stderr io.Writer) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "raypilot-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	out := filepath.Join(tmp, "raypilot")
	gobin := os.Getenv("GO")
	if gobin == "" {
		gobin = "go"
	}
	cmd := exec.CommandContext(ctx, gobin, append(goBuildFlags(version), out, "./cmd/raypilot")...)
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOWORK=off")
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build ./cmd/raypilot: %w", err)
	}
	return os.ReadFile(out)
}

// commonFlags are the flags build and rootfs share.
type commonFlags struct {
	src, version, arch string
}

func (c *commonFlags) register(fs interface {
	StringVar(*string, string, string, string)
}) {
	fs.StringVar(&c.src, "src", "", "raypilot checkout (default: the git checkout holding the working directory)")
	fs.StringVar(&c.version, "version", "", "what `raypilot version` prints and the image's tag (default: the chart's appVersion)")
	fs.StringVar(&c.arch, "arch", runtime.GOARCH, "GOARCH of the binary and the image")
}

// resolve fills src and version; it returns the chart's facts.
func (c *commonFlags) resolve() (chartInfo, error) {
	src, err := sourceDir(c.src)
	if err != nil {
		return chartInfo{}, err
	}
	c.src = src
	chart, err := readChart(src)
	if err != nil {
		return chart, err
	}
	if c.version == "" {
		c.version = chart.AppVersion
	}
	return chart, nil
}
