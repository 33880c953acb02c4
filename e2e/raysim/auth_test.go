package raysim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// secretMap serves Secrets from a map of "namespace/name" to data.
func secretMap(m map[string]map[string][]byte) secretSource {
	return func(namespace, name string) (map[string][]byte, bool) {
		d, ok := m[namespace+"/"+name]
		return d, ok
	}
}

func bearer(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), authMetadataKey, bearerPrefix+token)
}

// checkAuth asserts that both services refuse calls without the token and
// answer calls with it.
func checkAuth(t *testing.T, s *Sim, token string) {
	t.Helper()
	as, ni := clients(t, s, "ns", "c")
	for name, ctx := range map[string]context.Context{"no token": context.Background(), "wrong token": bearer(token + "x")} {
		_, err := as.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{})
		if st := status.Convert(err); st.Code() != codes.Unauthenticated || st.Message() != invalidToken {
			t.Errorf("%s: GetClusterResourceState %v, want UNAUTHENTICATED %q", name, err, invalidToken)
		}
		if _, err := ni.CheckAlive(ctx, &nodeinfopb.CheckAliveRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: CheckAlive %v, want UNAUTHENTICATED", name, err)
		}
	}
	if _, err := as.GetClusterResourceState(bearer(token), &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Errorf("with the token: %v", err)
	}
	if _, err := ni.CheckAlive(bearer(token), &nodeinfopb.CheckAliveRequest{}); err != nil {
		t.Errorf("CheckAlive with the token: %v", err)
	}
}

func TestTokenFromEnvValue(t *testing.T) {
	s := New(nil)
	head := withEnv(pod("head-0", "headgroup", "head", "2"),
		corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "Token"}, // Ray lowercases the mode
		corev1.EnvVar{Name: "RAY_AUTH_TOKEN", Value: " s3cret\n"})
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	checkAuth(t, s, "s3cret")
}

func TestTokenFromSecretKeyRef(t *testing.T) {
	s := New(nil)
	s.secrets = secretMap(map[string]map[string][]byte{"ns/c-auth": {"auth_token": []byte("from-secret")}})
	head := withEnv(pod("head-0", "headgroup", "head", "2"),
		corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"},
		corev1.EnvVar{Name: "RAY_AUTH_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "c-auth"}, Key: "auth_token"}}})
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	checkAuth(t, s, "from-secret")
}

// RAY_AUTH_TOKEN_PATH through a Secret volume: with items, with subPath,
// and through a projected volume.
func TestTokenFromMountedSecret(t *testing.T) {
	for name, tc := range map[string]struct {
		mount  corev1.VolumeMount
		volume corev1.VolumeSource
		path   string
	}{
		"items": {corev1.VolumeMount{Name: "tok", MountPath: "/etc/ray/"},
			corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "c-auth", Items: []corev1.KeyToPath{{Key: "auth_token", Path: "token/file"}}}},
			"/etc/ray/token/file"},
		"subPath": {corev1.VolumeMount{Name: "tok", MountPath: "/var/token", SubPath: "auth_token"},
			corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "c-auth"}}, "/var/token"},
		"projected": {corev1.VolumeMount{Name: "tok", MountPath: "/p"},
			corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "other"}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c-auth"}}}}}},
			"/p/auth_token"},
	} {
		t.Run(name, func(t *testing.T) {
			s := New(nil)
			s.secrets = secretMap(map[string]map[string][]byte{
				"ns/c-auth": {"auth_token": []byte("mounted\nsecond line ignored")},
				"ns/other":  {"x": []byte("y")},
			})
			head := withEnv(pod("head-0", "headgroup", "head", "2"),
				corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"},
				corev1.EnvVar{Name: "RAY_AUTH_TOKEN_PATH", Value: tc.path})
			head.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{tc.mount}
			head.Spec.Volumes = []corev1.Volume{{Name: "tok", VolumeSource: tc.volume}}
			s.SyncPods("ns", "c", []*corev1.Pod{head})
			checkAuth(t, s, "mounted")
		})
	}
}

// A head in token mode whose token cannot be had is a GCS that never
// started: UNAVAILABLE, until the Secret appears.
func TestTokenSecretMissing(t *testing.T) {
	s := New(nil)
	data := map[string]map[string][]byte{}
	s.secrets = secretMap(data)
	head := withEnv(pod("head-0", "headgroup", "head", "2"),
		corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"},
		corev1.EnvVar{Name: "RAY_AUTH_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "c-auth"}, Key: "auth_token"}}})
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	as, _ := clients(t, s, "ns", "c")
	if _, err := as.GetClusterResourceState(bearer("late"), &rpcpb.GetClusterResourceStateRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("missing Secret: %v, want UNAVAILABLE", err)
	}
	data["ns/c-auth"] = map[string][]byte{"auth_token": []byte("late")}
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	checkAuth(t, s, "late")
}

// A test can require a token from the control API whatever the head says,
// and drop the requirement again.
func TestTokenOverride(t *testing.T) {
	s := New(nil)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("head-0", "headgroup", "head", "2")})
	h := s.Handler()
	if code, body := control(t, h, "PUT", "/v1/clusters/ns/c/auth", `{"token":"override"}`); code != http.StatusNoContent {
		t.Fatalf("PUT auth: %d %s", code, body)
	}
	checkAuth(t, s, "override")
	_, body := control(t, h, "GET", "/v1/clusters/ns/c/auth", "")
	var v authView
	if err := json.Unmarshal([]byte(body), &v); err != nil || !v.Enabled || v.Source != "override" {
		t.Errorf("GET auth: %s", body)
	}
	control(t, h, "DELETE", "/v1/clusters/ns/c/auth", "")
	as, _ := clients(t, s, "ns", "c")
	if _, err := as.GetClusterResourceState(context.Background(), &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Errorf("after DELETE: %v", err)
	}
	for _, bad := range []string{`{"token":""}`, `{"token":" padded "}`, `{"token":"a\u0001b"}`} {
		if code, _ := control(t, h, "PUT", "/v1/clusters/ns/c/auth", bad); code != http.StatusBadRequest {
			t.Errorf("PUT auth %s: %d, want 400", bad, code)
		}
	}
}

// With RAY_AUTH_MODE unset, a head from Ray 2.59 on runs in token mode when
// a token is available; an older one does not.
func TestTokenModeUnsetByRayVersion(t *testing.T) {
	s := New(nil)
	head := withEnv(pod("head-0", "headgroup", "head", "2"), corev1.EnvVar{Name: "RAY_AUTH_TOKEN", Value: "avail"})
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	as, _ := clients(t, s, "ns", "c")
	if _, err := as.GetClusterResourceState(context.Background(), &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Fatalf("Ray 2.52 with the mode unset: %v, want no auth", err)
	}
	control(t, s.Handler(), "PUT", "/v1/clusters/ns/c/settings", `{"rayVersion":"2.59.0"}`)
	checkAuth(t, s, "avail")
	_, body := control(t, s.Handler(), "GET", "/v1/clusters/ns/c/auth", "")
	var v authView
	if err := json.Unmarshal([]byte(body), &v); err != nil || !v.Enabled || v.Source != "pod" || v.Mode != "" {
		t.Errorf("GET auth: %s", body)
	}
}

// The Ray container is the one with KubeRay's start command, even behind a
// sidecar; $(VAR) references and envFrom Secrets resolve as the kubelet
// resolves them.
func TestTokenEnvironmentResolution(t *testing.T) {
	s := New(nil)
	s.secrets = secretMap(map[string]map[string][]byte{
		"ns/env":    {"RAY_AUTH_MODE": []byte("token")},
		"ns/c-auth": {"auth_token": []byte("expanded")},
	})
	head := withEnv(pod("head-0", "headgroup", "head", "2"),
		corev1.EnvVar{Name: "TOKEN_DIR", Value: "/etc/ray"},
		corev1.EnvVar{Name: "RAY_AUTH_TOKEN_PATH", Value: "$(TOKEN_DIR)/auth_token"})
	ray := &head.Spec.Containers[0]
	ray.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "env"}}}}
	ray.VolumeMounts = []corev1.VolumeMount{{Name: "tok", MountPath: "/etc/ray"}}
	head.Spec.Volumes = []corev1.Volume{{Name: "tok", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "c-auth"}}}}
	sidecar := corev1.Container{Name: "proxy", Env: []corev1.EnvVar{{Name: "RAY_AUTH_MODE", Value: "disabled"}}}
	head.Spec.Containers = append([]corev1.Container{sidecar}, head.Spec.Containers...)
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	checkAuth(t, s, "expanded")
	if got, _ := expandEnv("$$(KEEP) $(MISSING) $(A)", func(ref string) (string, bool, error) { return "a", ref == "A", nil }); got != "$(KEEP) $(MISSING) a" {
		t.Errorf("expandEnv = %q", got)
	}
}
