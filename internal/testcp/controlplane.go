package testcp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ControlPlane is a real etcd + kube-apiserver (envtest, binaries from
// hack/tools.sh) with CRDs installed and an admin kubeconfig file.
type ControlPlane struct {
	// Config is an admin rest.Config (system:masters).
	Config *rest.Config
	// Kubeconfig is the path of the same credentials as a kubeconfig file.
	Kubeconfig string
	env        *envtest.Environment
	dir        string
}

// StartControlPlane starts etcd and kube-apiserver from binDir (typically
// $RAYPILOT_TOOLS_BIN) and installs the CRDs found in crdDirs.
func StartControlPlane(binDir string, crdDirs ...string) (*ControlPlane, error) {
	return StartControlPlaneWithArgs(binDir, nil, crdDirs...)
}

// StartControlPlaneWithArgs is StartControlPlane with extra kube-apiserver
// flags (name without dashes → value), e.g. an audit policy and log.
func StartControlPlaneWithArgs(binDir string, apiserverArgs map[string]string, crdDirs ...string) (*ControlPlane, error) {
	if binDir == "" {
		return nil, errors.New("no binary folder for etcd and kube-apiserver; set RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir)")
	}
	dir, err := os.MkdirTemp("", "raypilot-cp-")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{dir: dir, env: &envtest.Environment{
		BinaryAssetsDirectory:    binDir,
		CRDDirectoryPaths:        crdDirs,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		// envtest's 10 s is short on a busy 2-core machine.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: 90 * time.Second},
	}}
	for k, v := range apiserverArgs {
		cp.env.ControlPlane.GetAPIServer().Configure().Set(k, v)
	}
	if _, err := cp.env.Start(); err != nil {
		// Start leaves etcd and kube-apiserver running when a later step
		// (installing the CRDs) fails.
		_ = cp.env.Stop()
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	user, err := cp.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("add admin user: %w", err)
	}
	cp.Config = user.Config()
	kc, err := user.KubeConfig()
	if err != nil {
		cp.Stop()
		return nil, fmt.Errorf("admin kubeconfig: %w", err)
	}
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kc, 0o600); err != nil {
		cp.Stop()
		return nil, err
	}
	return cp, nil
}

// Stop stops kube-apiserver and etcd and removes their files.
func (cp *ControlPlane) Stop() {
	if err := cp.env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testcp: stop control plane:", err)
	}
	_ = os.RemoveAll(cp.dir)
}

// ModuleDir is the folder of a module of the build (`go list -m`).
func ModuleDir(mod string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// KubeRayCRDDir is the folder of the KubeRay CRDs of the pinned ray-operator
// module (RayCluster, RayJob, RayService).
func KubeRayCRDDir() (string, error) {
	dir, err := ModuleDir("github.com/ray-project/kuberay/ray-operator")
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "config", "crd", "bases"), nil
}

// WriteJSON writes v, indented, to path: a benchmark's results file.
func WriteJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(js, '\n'), 0o644)
}

// RepoRoot is the nearest folder upwards from the working directory holding
// raypilot's go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(data), "module github.com/raypilot/raypilot\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the raypilot repository")
		}
		dir = parent
	}
}

// BuildRaypilot builds ./cmd/raypilot of the repository at root into out.
func BuildRaypilot(ctx context.Context, root, out string) error {
	build := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/raypilot")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/raypilot: %w", err)
	}
	return nil
}
