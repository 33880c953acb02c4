package manifest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/internal/crdschema"
)

var updateCRDs = flag.Bool("update-crds", false, "rewrite kuberay-crds.json.gz from the ray-operator module go.mod pins")

// bundleFromModule builds kuberay-crds.json.gz from the CRD files of the
// pinned ray-operator module.
func bundleFromModule(t *testing.T) []byte {
	t.Helper()
	dir, err := crdschema.CRDDir()
	if err != nil {
		t.Fatal(err)
	}
	version, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", crdschema.KubeRayModule).Output()
	if err != nil {
		t.Fatal(err)
	}
	b := crdBundle{Source: crdschema.KubeRayModule + "@" + strings.TrimSpace(string(version)), Group: "ray.io", Version: "v1", Schemas: map[string]json.RawMessage{}}
	for kind, file := range map[string]string{"RayCluster": "ray.io_rayclusters.yaml", "RayJob": "ray.io_rayjobs.yaml", "RayService": "ray.io_rayservices.yaml"} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		if crd.Spec.Names.Kind != kind || crd.Spec.Group != b.Group {
			t.Fatalf("%s defines %s.%s, want %s.%s", file, crd.Spec.Names.Kind, crd.Spec.Group, kind, b.Group)
		}
		for _, v := range crd.Spec.Versions {
			if v.Name == b.Version && v.Schema != nil {
				if b.Schemas[kind], err = json.Marshal(v.Schema.OpenAPIV3Schema); err != nil {
					t.Fatal(err)
				}
			}
		}
		if b.Schemas[kind] == nil {
			t.Fatalf("%s has no %s schema", file, b.Version)
		}
	}
	data, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(data)
	zw.Close()
	return buf.Bytes()
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The embedded schemas are the pinned module's: bumping KubeRay in go.mod
// without `go test ./manifest -run TestEmbeddedCRDsMatchModule -update-crds`
// fails here.
func TestEmbeddedCRDsMatchModule(t *testing.T) {
	want := bundleFromModule(t)
	if *updateCRDs {
		if err := os.WriteFile("kuberay-crds.json.gz", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(gunzip(t, kuberayCRDs), gunzip(t, want)) {
		t.Fatal("kuberay-crds.json.gz differs from the ray-operator module's CRDs; run go test ./manifest -run TestEmbeddedCRDsMatchModule -update-crds")
	}
	for _, kind := range []string{"RayCluster", "RayJob", "RayService"} {
		if _, err := schemaFor(kind); err != nil {
			t.Error(err)
		}
	}
}
