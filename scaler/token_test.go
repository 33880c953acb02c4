package scaler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raypilot/raypilot/scaler/gcs"
)

// Tokens of the fixtures; no error, String or Why may contain one.
const (
	tokEnv     = "tok-env-5f0c2a9e1b7d4c3a"
	tokSecret  = "tok-secret-0b1e2d3c4f5a6978"
	tokFile    = "tok-file-9a8b7c6d5e4f3021"
	tokDefault = "tok-default-13579bdf2468ace0"
	tokEnvFrom = "tok-envfrom-fedcba9876543210"
)

var allTestTokens = []string{tokEnv, tokSecret, tokFile, tokDefault, tokEnvFrom}

const testNS = "ml"

func plainEnv(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

func secretEnv(name, secret, key string, optional bool) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key, Optional: &optional}}}
}

func testSecret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// rayHeadContainer is the Ray container as KubeRay builds it: image, name
// and the generated start command, plus env.
func rayHeadContainer(image string, env ...corev1.EnvVar) corev1.Container {
	return corev1.Container{
		Name:  kubeRayHeadContainer,
		Image: image,
		Env:   append([]corev1.EnvVar{plainEnv(envKubeRayStartCmd, "ray start --head")}, env...),
	}
}

// pod is a head pod with the given containers and volumes.
func pod(containers []corev1.Container, volumes ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "rc-head-x7k2p", Labels: map[string]string{LabelCluster: "rc", LabelNodeType: "head"}},
		Spec:       corev1.PodSpec{Containers: containers, Volumes: volumes},
	}
}

// head is a head pod whose only container is the Ray container.
func head(image string, env ...corev1.EnvVar) *corev1.Pod {
	return pod([]corev1.Container{rayHeadContainer(image, env...)})
}

// withMounts adds volume mounts to the Ray container and volumes to the pod.
func withMounts(p *corev1.Pod, mounts []corev1.VolumeMount, volumes ...corev1.Volume) *corev1.Pod {
	c := rayContainer(p)
	c.VolumeMounts = append(c.VolumeMounts, mounts...)
	p.Spec.Volumes = append(p.Spec.Volumes, volumes...)
	return p
}

func secretVolume(name, secret string, items ...corev1.KeyToPath) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret, Items: items}}}
}

// forbiddenReader refuses every read, as the API server does without RBAC
// on Secrets.
type forbiddenReader struct{ client.Reader }

func (forbiddenReader) Get(_ context.Context, key client.ObjectKey, _ client.Object, _ ...client.GetOption) error {
	return apierrors.NewForbidden(schema.GroupResource{Resource: "secrets"}, key.Name, fmt.Errorf("RBAC: access denied"))
}

func fakeReader(t *testing.T, secrets ...*corev1.Secret) client.Reader {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	objs := make([]client.Object, len(secrets))
	for i, s := range secrets {
		objs[i] = s
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

const (
	img252 = "rayproject/ray:2.52.0"
	img258 = "rayproject/ray:2.58.1-py311"
	img259 = "rayproject/ray:2.59.0"
	img261 = "rayproject/ray:2.61.0-py311-gpu"
	imgOwn = "registry.example.com/team/ray-custom:v7"
)

// authCase is one row of the token tables.
type authCase struct {
	name       string
	rayVersion string // spec.rayVersion
	pod        *corev1.Pod
	secrets    []*corev1.Secret
	forbidden  bool
	wantMode   gcs.Auth
	wantToken  string
	wantErr    []string // substrings of the error; nil: no error
}

// testRayClient stands for the Ray client ServiceAccount's token source;
// deciding the mode never asks it for a token.
var testRayClient = gcs.TokenSourceFunc(func(context.Context) (string, error) {
	return "", errors.New("the token source was asked while deciding the mode")
})

// runAuthCases runs each case twice: with Kubernetes mode on (a Ray client
// token source), where the case's expectations hold, and with it off, where
// a cluster in Kubernetes mode must be refused with the fix and every other
// case must come out the same.
func runAuthCases(t *testing.T, cases []authCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			reader := fakeReader(t, tt.secrets...)
			if tt.forbidden {
				reader = forbiddenReader{reader}
			}
			rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "rc"}}
			rc.Spec.RayVersion = tt.rayVersion
			for _, kubernetesMode := range []bool{true, false} {
				cs := &connections{secrets: reader}
				if kubernetesMode {
					cs.rayClient = testRayClient
				}
				auth, err := GCSAuth(context.Background(), cs.secrets, cs.rayClient, rc, tt.pod)
				for _, s := range []string{fmt.Sprint(err), auth.String(), fmt.Sprintf("%v %+v %#v", auth, auth, auth)} {
					for _, tok := range allTestTokens {
						if strings.Contains(s, tok) {
							t.Errorf("%q reveals a token", s)
						}
					}
				}
				if !kubernetesMode && tt.wantErr == nil && tt.wantMode == gcs.AuthKubernetes {
					if !errors.Is(err, ErrKubernetesAuthOff) || auth.Source != nil || auth.Token != "" {
						t.Fatalf("Kubernetes mode off: got %s, error %v; want ErrKubernetesAuthOff and no credential", auth, err)
					}
					for _, want := range []string{"scaler.rayKubernetesAuth.enabled=true", "--ray-client-service-account",
						"never its own ServiceAccount token", tt.pod.Namespace + "/" + tt.pod.Name} {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("Kubernetes mode off: error %q does not contain %q", err, want)
						}
					}
					continue
				}
				if tt.wantErr != nil {
					if err == nil {
						t.Fatalf("no error; got %s", auth)
					}
					for _, want := range tt.wantErr {
						if !strings.Contains(err.Error(), want) {
							t.Errorf("error %q does not contain %q", err, want)
						}
					}
					continue
				}
				if err != nil {
					t.Fatalf("error (Kubernetes mode %t): %v", kubernetesMode, err)
				}
				if auth.Mode != tt.wantMode || auth.Token != tt.wantToken {
					t.Errorf("got %s with token %t, want %s with the right token", auth, auth.Token != "", tt.wantMode)
				}
				if (auth.Source != nil) != (auth.Mode == gcs.AuthKubernetes) {
					t.Errorf("%s carries a token source: %t", auth, auth.Source != nil)
				}
				if auth.Why == "" {
					t.Error("no reason given")
				}
			}
		})
	}
}

// TestTokenModes: the mode names Ray accepts, case-insensitively, and Ray's
// default when RAY_AUTH_MODE is unset, by Ray version.
func TestTokenModes(t *testing.T) {
	token := plainEnv(envRayAuthToken, tokEnv)
	kubeRayToken := secretEnv(envRayAuthToken, "rc", gcs.AuthTokenSecretKey, false)
	kubeRaySecret := testSecret("rc", map[string]string{gcs.AuthTokenSecretKey: tokSecret + "\n"})
	defaultFile := func(image string) *corev1.Pod {
		return withMounts(head(image), []corev1.VolumeMount{{Name: "ray-auth", MountPath: "/home/ray/.ray"}},
			secretVolume("ray-auth", "ray-auth", corev1.KeyToPath{Key: "token", Path: "auth_token"}))
	}
	defaultSecret := testSecret("ray-auth", map[string]string{"token": tokDefault + "\n"})
	runAuthCases(t, []authCase{
		{name: "unset, Ray 2.52: off", pod: head(img252), wantMode: gcs.AuthNone},
		{name: "unset, Ray 2.58 with a token: off (default before 2.59)", pod: head(img258, token), wantMode: gcs.AuthNone},
		{name: "token", pod: head(img252, plainEnv(envRayAuthMode, "token"), token), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "TOKEN (Ray lowercases)", pod: head(img252, plainEnv(envRayAuthMode, "TOKEN"), token), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "Token, KubeRay authOptions Secret", pod: head(img252, plainEnv(envRayAuthMode, "Token"), kubeRayToken),
			secrets: []*corev1.Secret{kubeRaySecret}, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "disabled", pod: head(img261, plainEnv(envRayAuthMode, "disabled"), token), wantMode: gcs.AuthNone},
		{name: "DISABLED on Ray 2.61 opts out", pod: head(img261, plainEnv(envRayAuthMode, "DISABLED")), wantMode: gcs.AuthNone},
		{name: "unknown value is disabled, as in Ray", pod: head(img252, plainEnv(envRayAuthMode, "tokens"), token), wantMode: gcs.AuthNone},
		{name: "set but empty is disabled", pod: head(img261, plainEnv(envRayAuthMode, "")), wantMode: gcs.AuthNone},
		{name: "k8s", pod: head(img252, plainEnv(envRayAuthMode, "k8s")), wantMode: gcs.AuthKubernetes},
		{name: "K8S", pod: head(img252, plainEnv(envRayAuthMode, "K8S"), token), wantMode: gcs.AuthKubernetes},
		{name: "token + RAY_ENABLE_K8S_TOKEN_AUTH=true (KubeRay 1.6 enableK8sTokenAuth)",
			pod: withMounts(head("rayproject/ray:2.57.0", plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")),
				[]corev1.VolumeMount{{Name: "ray-token", MountPath: "/var/run/secrets/ray.io/serviceaccount", ReadOnly: true}},
				corev1.Volume{Name: "ray-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
					Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}),
			wantMode: gcs.AuthKubernetes},
		{name: "RAY_ENABLE_K8S_TOKEN_AUTH=1 beats a static token", pod: head(img261, plainEnv(envRayAuthMode, "token"), token, plainEnv(envRayK8sTokenAuth, "1")),
			wantMode: gcs.AuthKubernetes},
		{name: "RAY_ENABLE_K8S_TOKEN_AUTH=TRUE", pod: head(img261, plainEnv(envRayK8sTokenAuth, "TRUE")), wantMode: gcs.AuthKubernetes},
		{name: "RAY_ENABLE_K8S_TOKEN_AUTH=yes is false for RayConfig", pod: head(img252, plainEnv(envRayAuthMode, "token"), token, plainEnv(envRayK8sTokenAuth, "yes")),
			wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "unset, Ray 2.59 with a token: on", pod: head(img259, kubeRayToken), secrets: []*corev1.Secret{kubeRaySecret},
			wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "unset, Ray 2.59 without a token: off", pod: head(img259), wantMode: gcs.AuthNone},
		{name: "unset, Ray 2.59, default file from a Secret: on", pod: defaultFile(img259), secrets: []*corev1.Secret{defaultSecret},
			wantMode: gcs.AuthToken, wantToken: tokDefault},
		{name: "unset, Ray 2.61 from the image tag, default file from a Secret", pod: defaultFile(img261), secrets: []*corev1.Secret{defaultSecret},
			wantMode: gcs.AuthToken, wantToken: tokDefault},
		{name: "unset, spec.rayVersion 2.61 beats an unknown image", rayVersion: "2.61.0", pod: head(imgOwn, token), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "unset, spec.rayVersion 2.58 beats the image tag", rayVersion: "2.58.0", pod: head(img261, token), wantMode: gcs.AuthNone},
		{name: "unset, Ray 2.61 without a token: error naming the pod and the fix", pod: head(img261),
			wantErr: []string{"RAY_AUTH_MODE unset", "2.61", "head pod ml/rc-head-x7k2p", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH",
				"/home/ray/.ray/auth_token", "spec.authOptions", "RAY_AUTH_MODE=disabled"}},
		{name: "unset, unknown version with a token: sent", pod: head(imgOwn, token), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "unset, unknown version without a token: nothing", pod: head(imgOwn), wantMode: gcs.AuthNone},
		{name: "token without any source: error", pod: head(img252, plainEnv(envRayAuthMode, "token")),
			wantErr: []string{"RAY_AUTH_MODE=token", "head pod ml/rc-head-x7k2p", "container ray-head", "no token raypilot can read", "spec.authOptions"}},
		{name: "mode from a ConfigMap: error", pod: head(img252, corev1.EnvVar{Name: envRayAuthMode, ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "ray-env"}, Key: "mode"}}}),
			wantErr: []string{"RAY_AUTH_MODE", "ConfigMap ray-env", "plain value"}},
	})
}

// TestTokenSources: Ray's sources in Ray's order, each read from the
// Secret behind it.
func TestTokenSources(t *testing.T) {
	on := plainEnv(envRayAuthMode, "token")
	onPod := func(env ...corev1.EnvVar) *corev1.Pod { return head(img252, append([]corev1.EnvVar{on}, env...)...) }
	pathEnv := func(p string) corev1.EnvVar { return plainEnv(envRayAuthPath, p) }
	tokenSecret := testSecret("ray-token", map[string]string{"auth_token": tokSecret, "file": tokFile + "\nsecond line\n", "empty": " \n"})
	secrets := []*corev1.Secret{tokenSecret}
	mount := func(name, at, sub string) []corev1.VolumeMount {
		return []corev1.VolumeMount{{Name: name, MountPath: at, SubPath: sub}}
	}
	runAuthCases(t, []authCase{
		{name: "RAY_AUTH_TOKEN plain, trimmed", pod: onPod(plainEnv(envRayAuthToken, "  "+tokEnv+"\n")), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "RAY_AUTH_TOKEN beats RAY_AUTH_TOKEN_PATH", pod: onPod(plainEnv(envRayAuthToken, tokEnv), pathEnv("/nowhere")),
			wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "the last RAY_AUTH_TOKEN wins (KubeRay 1.5 appends its own)",
			pod:     onPod(plainEnv(envRayAuthToken, "overridden-"+tokEnv), secretEnv(envRayAuthToken, "ray-token", "auth_token", false)),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "RAY_AUTH_TOKEN empty: next source", pod: withMounts(onPod(plainEnv(envRayAuthToken, ""), pathEnv("/etc/ray/token")),
			mount("tok", "/etc/ray/token", "file"), secretVolume("tok", "ray-token")),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "RAY_AUTH_TOKEN only white space: error", pod: onPod(plainEnv(envRayAuthToken, " \t ")),
			wantErr: []string{"RAY_AUTH_TOKEN", "white space", "rc-head-x7k2p"}},
		{name: "RAY_AUTH_TOKEN from a missing optional Secret: next source, then none", pod: onPod(secretEnv(envRayAuthToken, "gone", "auth_token", true)),
			wantErr: []string{"no token raypilot can read"}},
		{name: "RAY_AUTH_TOKEN from a missing Secret: error", pod: onPod(secretEnv(envRayAuthToken, "gone", "auth_token", false)),
			wantErr: []string{"RAY_AUTH_TOKEN", "Secret ml/gone", "not found", "rc-head-x7k2p"}},
		{name: "RAY_AUTH_TOKEN from a missing key: error", pod: onPod(secretEnv(envRayAuthToken, "ray-token", "nope", false)), secrets: secrets,
			wantErr: []string{"RAY_AUTH_TOKEN", `key "nope"`, "ml/ray-token"}},
		{name: "RAY_AUTH_TOKEN Secret not readable: error naming the chart value", pod: onPod(secretEnv(envRayAuthToken, "ray-token", "auth_token", false)),
			forbidden: true, wantErr: []string{"RAY_AUTH_TOKEN", "ml/ray-token", "get on Secrets", "scaler.rayAuthTokenSecrets=true"}},
		{name: "RAY_AUTH_TOKEN from a ConfigMap: error", pod: onPod(corev1.EnvVar{Name: envRayAuthToken, ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "t"}}}),
			wantErr: []string{"RAY_AUTH_TOKEN", "ConfigMap cm", "only from a Secret", "secretKeyRef"}},
		{name: "RAY_AUTH_TOKEN a gRPC header cannot carry: error", pod: onPod(plainEnv(envRayAuthToken, tokEnv+"\x01x")),
			wantErr: []string{"printable ASCII"}},
		{name: "RAY_AUTH_TOKEN from envFrom with a prefix", pod: func() *corev1.Pod {
			p := onPod()
			rayContainer(p).EnvFrom = []corev1.EnvFromSource{
				{Prefix: "RAY_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "ray-env"}}},
			}
			return p
		}(), secrets: []*corev1.Secret{testSecret("ray-env", map[string]string{"AUTH_TOKEN": tokEnvFrom})}, wantMode: gcs.AuthToken, wantToken: tokEnvFrom},
		{name: "PATH: secret volume, file named by the key, first line", pod: withMounts(onPod(pathEnv("/etc/ray/file")),
			mount("tok", "/etc/ray", ""), secretVolume("tok", "ray-token")), secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "PATH: items map a key to a nested path", pod: withMounts(onPod(pathEnv("/etc/ray/auth/token")),
			mount("tok", "/etc/ray", ""), secretVolume("tok", "ray-token", corev1.KeyToPath{Key: "auth_token", Path: "auth/token"})),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "PATH: subPath file mount", pod: withMounts(onPod(pathEnv("/opt/token")),
			mount("tok", "/opt/token", "auth_token"), secretVolume("tok", "ray-token")), secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "PATH: subPath directory with items", pod: withMounts(onPod(pathEnv("/opt/t/token")),
			mount("tok", "/opt/t", "auth"), secretVolume("tok", "ray-token", corev1.KeyToPath{Key: "auth_token", Path: "auth/token"})),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "PATH: projected volume, Secret source", pod: withMounts(onPod(pathEnv("/var/run/ray/token")),
			mount("proj", "/var/run/ray", ""), corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "sa"}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "ray-token"},
						Items: []corev1.KeyToPath{{Key: "auth_token", Path: "token"}}}},
				}}}}), secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "PATH: $(HOME) expanded as the kubelet does", pod: withMounts(onPod(plainEnv(envHome, "/home/me"), pathEnv("$(HOME)/tok/file")),
			mount("tok", "/home/me/tok", ""), secretVolume("tok", "ray-token")), secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "PATH: relative to the working directory", pod: func() *corev1.Pod {
			p := withMounts(onPod(pathEnv("tok/file")), mount("tok", "/work/tok", ""), secretVolume("tok", "ray-token"))
			rayContainer(p).WorkingDir = "/work"
			return p
		}(), secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "PATH: the deepest mount wins", pod: withMounts(onPod(pathEnv("/data/secret/file")),
			append(mount("data", "/data", ""), mount("tok", "/data/secret", "")...),
			corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}, secretVolume("tok", "ray-token")),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "PATH: emptyDir is not a Secret", pod: withMounts(onPod(pathEnv("/data/token")), mount("data", "/data", ""),
			corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=/data/token", `volume "data" (emptyDir)`, "not a Secret", "rc-head-x7k2p", "mount the token file from a Secret"}},
		{name: "PATH: ConfigMap volume is not a Secret", pod: withMounts(onPod(pathEnv("/cfg/token")), mount("cfg", "/cfg", ""),
			corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "ray-cfg"}}}}),
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=/cfg/token", "ConfigMap ray-cfg", "not a Secret"}},
		{name: "PATH: the head's projected ServiceAccount token is not a Secret", pod: withMounts(onPod(pathEnv("/var/run/ray/sa")),
			mount("proj", "/var/run/ray", ""), corev1.Volume{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "sa"}}}}}}),
			wantErr: []string{"projected ServiceAccount token", "not a Secret"}},
		{name: "PATH: under no mount", pod: onPod(pathEnv("/etc/ray-token")),
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=/etc/ray-token", "not under a volume mounted from a Secret", "rc-head-x7k2p"}},
		{name: "PATH: the Secret lacks the file", pod: withMounts(onPod(pathEnv("/etc/ray/other")),
			mount("tok", "/etc/ray", ""), secretVolume("tok", "ray-token")), secrets: secrets,
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=/etc/ray/other", "nor does that Secret hold the file"}},
		{name: "PATH: empty file, as Ray refuses", pod: withMounts(onPod(pathEnv("/etc/ray/empty")),
			mount("tok", "/etc/ray", ""), secretVolume("tok", "ray-token")), secrets: secrets,
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=/etc/ray/empty", "Secret ml/ray-token, key empty", "is empty"}},
		{name: "PATH: relative without a working directory", pod: onPod(pathEnv("token")),
			wantErr: []string{"RAY_AUTH_TOKEN_PATH=token", "absolute path"}},
		{name: "PATH: Secret not readable", pod: withMounts(onPod(pathEnv("/etc/ray/file")),
			mount("tok", "/etc/ray", ""), secretVolume("tok", "ray-token")), forbidden: true,
			wantErr: []string{"scaler.rayAuthTokenSecrets=true", "ml/ray-token"}},
		{name: "PATH beats the default file", pod: withMounts(onPod(pathEnv("/etc/ray/file")),
			[]corev1.VolumeMount{{Name: "tok", MountPath: "/etc/ray"}, {Name: "def", MountPath: "/home/ray/.ray"}},
			secretVolume("tok", "ray-token"), secretVolume("def", "ray-token", corev1.KeyToPath{Key: "auth_token", Path: "auth_token"})),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokFile},
		{name: "default file under HOME", pod: withMounts(onPod(plainEnv(envHome, "/root")),
			mount("def", "/root/.ray/auth_token", "auth_token"), secretVolume("def", "ray-token")),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "default file: a mount at */.ray when HOME is not set", pod: withMounts(onPod(),
			mount("def", "/app/.ray", ""), secretVolume("def", "ray-token", corev1.KeyToPath{Key: "auth_token", Path: "auth_token"})),
			secrets: secrets, wantMode: gcs.AuthToken, wantToken: tokSecret},
		{name: "default file on an emptyDir: error", pod: withMounts(onPod(), mount("home", "/home/ray", ""),
			corev1.Volume{Name: "home", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
			wantErr: []string{"/home/ray/.ray/auth_token", `volume "home" (emptyDir)`, "not a Secret"}},
	})
}

// TestTokenOptionalSourcesFailClosed: with RAY_AUTH_MODE unset on Ray 2.59
// (token authentication on when the head has a token), a token source the
// scaler cannot read is an error, as it is for Ray, while a default token
// file on another volume only means "no token known".
func TestTokenOptionalSourcesFailClosed(t *testing.T) {
	runAuthCases(t, []authCase{
		{name: "RAY_AUTH_TOKEN_PATH not from a Secret", pod: withMounts(head(img259, plainEnv(envRayAuthPath, "/data/t")),
			[]corev1.VolumeMount{{Name: "d", MountPath: "/data"}}, corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}),
			wantErr: []string{"RAY_AUTH_MODE unset", "2.59", "RAY_AUTH_TOKEN_PATH=/data/t", "not a Secret"}},
		{name: "RAY_AUTH_TOKEN from a ConfigMap", pod: head(img259, corev1.EnvVar{Name: envRayAuthToken, ValueFrom: &corev1.EnvVarSource{
			ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Key: "t"}}}),
			wantErr: []string{"RAY_AUTH_TOKEN", "ConfigMap cm"}},
		{name: "default file on a PersistentVolumeClaim home", pod: withMounts(head(img259), []corev1.VolumeMount{{Name: "home", MountPath: "/home/ray"}},
			corev1.Volume{Name: "home", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "h"}}}),
			wantMode: gcs.AuthNone},
		{name: "envFrom is not read when the token is optional", pod: func() *corev1.Pod {
			p := head(img259)
			rayContainer(p).EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}
			return p
		}(), forbidden: true, wantMode: gcs.AuthNone},
	})
}

// TestRayContainer: the Ray container is found by KubeRay's marks, not by
// position, so that a sidecar injected in front does not hide it.
func TestRayContainer(t *testing.T) {
	sidecar := corev1.Container{Name: "istio-proxy", Image: "istio/proxyv2", Env: []corev1.EnvVar{plainEnv(envRayAuthMode, "disabled")}}
	ray := rayHeadContainer(img252, plainEnv(envRayAuthMode, "token"), plainEnv(envRayAuthToken, tokEnv))
	runAuthCases(t, []authCase{
		{name: "sidecar first, Ray container by KubeRay's start command", pod: pod([]corev1.Container{sidecar, ray}), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "sidecar first, Ray container by name", pod: func() *corev1.Pod {
			r := ray
			r.Env = r.Env[1:] // without KUBERAY_GEN_RAY_START_CMD
			return pod([]corev1.Container{sidecar, r})
		}(), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "autoscaler sidecar after the Ray container", pod: pod([]corev1.Container{ray,
			{Name: AutoscalerContainerName, Env: []corev1.EnvVar{plainEnv(envRayAuthMode, "disabled")}}}), wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "otherwise the first container (KubeRay's RayContainerIndex)", pod: pod([]corev1.Container{
			{Name: "main", Image: img252, Env: []corev1.EnvVar{plainEnv(envRayAuthMode, "token"), plainEnv(envRayAuthToken, tokEnv)}}, sidecar}),
			wantMode: gcs.AuthToken, wantToken: tokEnv},
		{name: "no head pod", pod: nil, wantMode: gcs.AuthNone},
	})
}

func TestHeadRayVersion(t *testing.T) {
	tests := []struct {
		spec, image, want string
	}{
		{"2.52.0", imgOwn, "2.52.0"},
		{"", "rayproject/ray:2.61.0-py311-gpu", "2.61.0"},
		{"", "docker.io/rayproject/ray-ml:2.59.1", "2.59.1"},
		{"", "mirror.example.com:5000/rayproject/ray:2.60.0@sha256:abcd", "2.60.0"},
		{"", "rayproject/ray:latest", ""},
		{"", "rayproject/ray", ""},
		{"", imgOwn, ""},
		{"", "registry.example.com/ray:2.61.0", ""}, // not one of Ray's images
		{"nightly", "rayproject/ray:2.59.0", "2.59.0"},
	}
	for _, tt := range tests {
		rc := &rayv1.RayCluster{}
		rc.Spec.RayVersion = tt.spec
		got := ""
		if v := headRayVersion(rc, &corev1.Container{Image: tt.image}); v != nil {
			got = v.String()
		}
		if got != tt.want {
			t.Errorf("headRayVersion(%q, %q) = %q, want %q", tt.spec, tt.image, got, tt.want)
		}
	}
}

// TestConnectionsSendWhatTheHeadDemands dials, through connections.get, an
// in-process GCS and checks the exact authorization metadata it receives
// for a head pod in each mode: nothing, Ray's shared token from KubeRay's
// authOptions Secret, tokens of the Ray client ServiceAccount from the
// TokenRequest API (a new one once 80% of the first one's lifetime has
// passed, on the same connection).
func TestConnectionsSendWhatTheHeadDemands(t *testing.T) {
	g := startRecordingGCS(t)
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	kubeRay := testSecret("rc", map[string]string{gcs.AuthTokenSecretKey: tokSecret})
	cs := &connections{clients: map[types.NamespacedName]*conn{}, proxy: g.addr,
		options: gcs.Options{Timeout: 5 * time.Second}, secrets: fakeReader(t, kubeRay),
		rayClient: newServiceAccountTokens(api.client(), rayClientSA, clock.now)}
	t.Cleanup(cs.closeAll)

	tests := []struct {
		name string
		head *corev1.Pod
		want []string // authorization values of each of two calls
	}{
		{"disabled", head(img252), nil},
		{"token (KubeRay authOptions)", head(img252, plainEnv(envRayAuthMode, "token"), secretEnv(envRayAuthToken, "rc", gcs.AuthTokenSecretKey, false)),
			[]string{"Bearer " + tokSecret, "Bearer " + tokSecret}},
		{"kubernetes, refreshed between calls", head("rayproject/ray:2.57.0", plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")),
			[]string{"Bearer " + api.token(1), "Bearer " + api.token(2)}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: fmt.Sprintf("rc%d", i)}}
			c, err := cs.get(context.Background(), rc, tt.head)
			if err != nil {
				t.Fatal(err)
			}
			g.reset()
			if _, err := c.GetClusterResourceState(context.Background()); err != nil {
				t.Fatal(err)
			}
			clock.advance(500 * time.Second) // past 80% of the 600 s lifetime
			if _, err := c.GetClusterResourceState(context.Background()); err != nil {
				t.Fatal(err)
			}
			got := g.authorizations()
			if len(got) != 2 {
				t.Fatalf("server saw %d calls, want 2", len(got))
			}
			for j, h := range got {
				switch {
				case tt.want == nil && len(h) != 0:
					t.Errorf("call %d: authorization sent to a cluster without authentication", j)
				case tt.want != nil && (len(h) != 1 || h[0] != tt.want[j]):
					t.Errorf("call %d: authorization has %d values, not exactly the expected one", j, len(h))
				}
			}
			if s := fmt.Sprint(c.Client); strings.Contains(s, tokSecret) || strings.Contains(s, fakeTokenSuffix) {
				t.Errorf("%s reveals a token", s)
			}
		})
	}
}
