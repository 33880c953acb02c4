// Command node helps hack/local-cluster.sh run one real node (containerd's
// CRI, kubelet) with no registry:
//
//	go run . normalize REF                 the name containerd's CRI looks
//	                                       REF up by (a short name completed
//	                                       as the kubelet's pull would)
//	go run . pause-image BINARY REF OUT    an OCI image archive holding only
//	                                       BINARY as /pause, named REF
package main

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"runtime"

	"github.com/distribution/reference"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "hack/node:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "normalize":
		named, err := reference.ParseNormalizedNamed(args[1])
		if err != nil {
			return err
		}
		fmt.Println(reference.TagNameOnly(named).String())
		return nil
	case len(args) == 4 && args[0] == "pause-image":
		return pauseImage(args[1], args[2], args[3])
	}
	return fmt.Errorf("usage: normalize REF | pause-image BINARY REF OUT")
}

type blob struct {
	data   []byte
	digest string
}

func newBlob(data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{data, "sha256:" + hex.EncodeToString(sum[:])}
}

func pauseImage(binary, ref, out string) error {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return err
	}
	full := reference.TagNameOnly(named).String()
	bin, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var layerBuf bytes.Buffer
	tw := tar.NewWriter(&layerBuf)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(bin)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(bin); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	layer := newBlob(layerBuf.Bytes())
	config, _ := json.Marshal(map[string]any{
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config":       map[string]any{"Entrypoint": []string{"/pause"}, "User": "65535:65535"},
		"rootfs":       map[string]any{"type": "layers", "diff_ids": []string{layer.digest}},
	})
	cfg := newBlob(config)
	manifestJSON, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config":        map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg.digest, "size": len(cfg.data)},
		"layers":        []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer.digest, "size": len(layer.data)}},
	})
	manifest := newBlob(manifestJSON)
	index, _ := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []any{map[string]any{
			"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest.digest, "size": len(manifest.data),
			"annotations": map[string]string{"io.containerd.image.name": full, "org.opencontainers.image.ref.name": full},
		}},
	})
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	aw := tar.NewWriter(f)
	add := func(name string, data []byte) error {
		if err := aw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := aw.Write(data)
		return err
	}
	for _, e := range []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/sha256/" + layer.digest[7:], layer.data},
		{"blobs/sha256/" + cfg.digest[7:], cfg.data},
		{"blobs/sha256/" + manifest.digest[7:], manifest.data},
	} {
		if err := add(e.name, e.data); err != nil {
			return err
		}
	}
	return aw.Close()
}
